"""Role READMEs' variable tables, generated from each role's `meta/argument_specs.yml`.

A role's variables are described once, in its argument specs (what Ansible validates at role
entry). The README's `## Variables` table is rendered from them, between two marker comments, with
each option's type, its default (the spec's, or else the value in `defaults/main.yml`), whether it
is required, its choices and its description; list and dict options with nested `options` get
one row per nested key (`name[].key` for list elements, `name.key` for a dict). The role's other
entry points (`tasks_from`) are listed under the table by how their options differ from `main`.

`lendstream roledocs` rewrites the tables in place; `lendstream roledocs --check` changes nothing
and exits 1 naming every role whose README differs from its spec (tests/ansible/test_role_docs.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROLES_DIR = Path(__file__).resolve().parent.parent / "ansible" / "roles"
BEGIN_MARKER = "<!-- BEGIN generated variables (lendstream roledocs) -->"
END_MARKER = "<!-- END generated variables -->"
MAIN_ENTRY_POINT = "main"

Options = Mapping[str, Mapping[str, Any]]


class RoleDocsError(Exception):
    """A role whose README or argument specs cannot be rendered."""


@dataclass(frozen=True)
class Role:
    """One role's directory and what its README is rendered from."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def readme(self) -> Path:
        return self.path / "README.md"

    def entry_points(self) -> dict[str, dict[str, Any]]:
        spec_file = self.path / "meta" / "argument_specs.yml"
        loaded = yaml.safe_load(spec_file.read_text()) or {}
        entry_points = loaded.get("argument_specs")
        if not isinstance(entry_points, dict) or MAIN_ENTRY_POINT not in entry_points:
            raise RoleDocsError(f"{spec_file}: no argument_specs.{MAIN_ENTRY_POINT}")
        return entry_points

    def defaults(self) -> dict[str, Any]:
        defaults_file = self.path / "defaults" / "main.yml"
        if not defaults_file.is_file():
            return {}
        return yaml.safe_load(defaults_file.read_text()) or {}


def roles(roles_dir: Path = ROLES_DIR) -> list[Role]:
    """Every role under `roles_dir` that has argument specs, by name."""
    return [
        Role(path)
        for path in sorted(roles_dir.iterdir())
        if (path / "meta" / "argument_specs.yml").is_file()
    ]


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: Any) -> str:
    """A value as inline code: strings as written (`""` when empty), the rest as compact JSON."""
    text = value if isinstance(value, str) and value else json.dumps(value)
    fence = "``" if "`" in text else "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def description(option: Mapping[str, Any]) -> str:
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(str(paragraph) for paragraph in description)
    return str(description)


def _type(option: Mapping[str, Any]) -> str:
    kind = str(option.get("type", "str"))
    if kind == "list" and "elements" in option:
        return f"list of {option['elements']}"
    return kind


def _notes(option: Mapping[str, Any]) -> str:
    notes = []
    if option.get("required"):
        notes.append("**Required.**")
    if "choices" in option:
        notes.append("Choices: " + ", ".join(_code(choice) for choice in option["choices"]) + ".")
    return " ".join(notes)


def _rows(prefix: str, options: Options, defaults: Mapping[str, Any]) -> Iterator[str]:
    for name, option in options.items():
        if not isinstance(option, Mapping):
            raise RoleDocsError(f"option {prefix}{name} is not a mapping")
        full_name = f"{prefix}{name}"
        if "default" in option:
            default = _code(option["default"])
        elif name in defaults:
            default = _code(defaults[name])
        else:
            default = "—"
        text = description(option)
        if not text.strip():
            raise RoleDocsError(f"option {full_name} has no description")
        text = " ".join(part for part in (text, _notes(option)) if part)
        yield f"| `{full_name}` | {_type(option)} | {_cell(default)} | {_cell(text)} |"
        nested = option.get("options")
        if nested:
            separator = "[]." if option.get("type") == "list" else "."
            yield from _rows(f"{full_name}{separator}", nested, {})


def _entry_point_lines(entry_points: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    main_options = set(entry_points[MAIN_ENTRY_POINT].get("options") or {})
    others = [name for name in entry_points if name != MAIN_ENTRY_POINT]
    if not others:
        return
    yield ""
    yield "Other entry points (`tasks_from`), validated against the same descriptions:"
    yield ""
    for name in others:
        entry_point = entry_points[name]
        options = set(entry_point.get("options") or {})
        if options == main_options:
            takes = "every option above"
        elif options <= main_options:
            left_out = ", ".join(f"`{option}`" for option in sorted(main_options - options))
            takes = f"the options above except {left_out}"
        else:
            takes = "its own options: " + ", ".join(f"`{option}`" for option in sorted(options))
        summary = _cell(str(entry_point.get("short_description", ""))).rstrip(".")
        yield f"- `{name}`: {summary}; takes {takes}."


def render_table(role: Role) -> str:
    """The generated block of a role's README, markers included."""
    entry_points = role.entry_points()
    options = entry_points[MAIN_ENTRY_POINT].get("options") or {}
    lines = [
        BEGIN_MARKER,
        "| Variable | Type | Default | Description |",
        "|---|---|---|---|",
        *_rows("", options, role.defaults()),
        *_entry_point_lines(entry_points),
        END_MARKER,
    ]
    return "\n".join(lines)


def rendered_readme(role: Role) -> str:
    """The role's README with its generated block replaced by a fresh rendering."""
    text = role.readme.read_text()
    begin, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if begin < 0 or end < begin:
        raise RoleDocsError(f"{role.readme}: no {BEGIN_MARKER!r} … {END_MARKER!r} block")
    return text[:begin] + render_table(role) + text[end + len(END_MARKER) :]


def stale_roles(all_roles: Sequence[Role]) -> list[str]:
    """Names of the roles whose README differs from its rendering."""
    return [role.name for role in all_roles if role.readme.read_text() != rendered_readme(role)]


def write_readmes(all_roles: Sequence[Role]) -> list[str]:
    """Rewrite every stale README in place; the names of those rewritten."""
    rewritten = []
    for role in all_roles:
        fresh = rendered_readme(role)
        if role.readme.read_text() != fresh:
            role.readme.write_text(fresh)
            rewritten.append(role.name)
    return rewritten


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`lendstream roledocs`'s arguments (lendstream.cli.roledocs)."""
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 naming the roles whose README differs from its spec",
    )
    parser.add_argument(
        "--roles-dir", type=Path, default=ROLES_DIR, help="directory of the roles (%(default)s)"
    )
    parser.add_argument("roles", nargs="*", metavar="ROLE", help="only these roles (default: all)")


def run_command(args: argparse.Namespace) -> int:
    try:
        all_roles = roles(args.roles_dir)
        unknown = sorted(set(args.roles) - {role.name for role in all_roles})
        if unknown:
            raise RoleDocsError(f"no such role under {args.roles_dir}: {', '.join(unknown)}")
        if args.roles:
            all_roles = [role for role in all_roles if role.name in args.roles]
        if args.check:
            stale = stale_roles(all_roles)
            for name in stale:
                print(f"{name}: README.md differs from meta/argument_specs.yml", file=sys.stderr)
            if stale:
                print("run `lendstream roledocs` to regenerate them", file=sys.stderr)
            return 1 if stale else 0
        for name in write_readmes(all_roles):
            print(f"{name}: README.md rewritten")
        return 0
    except (RoleDocsError, OSError, yaml.YAMLError) as error:
        print(f"lendstream roledocs: {error}", file=sys.stderr)
        return 2
