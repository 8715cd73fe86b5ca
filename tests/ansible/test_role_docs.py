"""Role READMEs' variable tables are generated from meta/argument_specs.yml (lendstream.roledocs):
the checked-in tables match the specs, and the generator renders a tiny spec as documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from lendstream import roledocs

ROLES = roledocs.roles()
EXAMPLE_PLAY = re.compile(
    r"^## Example.*?^```yaml\n- (name|hosts): .*?^```$", re.MULTILINE | re.DOTALL
)


def test_every_role_has_argument_specs() -> None:
    roles_dir = roledocs.ROLES_DIR
    without = sorted(
        path.name
        for path in roles_dir.iterdir()
        if (path / "tasks").is_dir() and not (path / "meta" / "argument_specs.yml").is_file()
    )
    assert not without, f"roles without meta/argument_specs.yml: {without}"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_readme_table_is_generated_from_the_spec(role: roledocs.Role) -> None:
    assert role.readme.read_text() == roledocs.rendered_readme(role), (
        f"{role.name}/README.md differs from its spec: run `lendstream roledocs {role.name}`"
    )


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_readme_has_an_example_play(role: roledocs.Role) -> None:
    assert EXAMPLE_PLAY.search(role.readme.read_text()), (
        f"{role.name}/README.md has no '## Example' section with a ```yaml play"
    )


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_options_have_descriptions_of_their_own(role: roledocs.Role) -> None:
    options = role.entry_points()[roledocs.MAIN_ENTRY_POINT].get("options") or {}
    by_description: dict[str, list[str]] = {}
    for name, option in options.items():
        by_description.setdefault(roledocs.description(option), []).append(name)
    shared = {text: names for text, names in by_description.items() if len(names) > 1}
    assert not shared, f"{role.name}: options sharing one description: {shared}"


TINY_SPEC = """\
---
argument_specs:
  main:
    short_description: A tiny role
    options:
      tiny_port:
        type: int
        default: 8080
        description: Port the tiny daemon listens on.
      tiny_host:
        type: str
        required: true
        description: Binds here.
      tiny_mode:
        type: str
        choices: [fast, safe]
        description: How it runs.
      tiny_peers:
        type: list
        elements: dict
        description: Every peer | one per entry.
        options:
          id: {type: int, required: true, description: "The peer's id."}
          host: {type: str, description: "The peer's address."}
  configure:
    short_description: Render only.
    options:
      tiny_port:
        type: int
        default: 8080
        description: Port the tiny daemon listens on.
"""

TINY_DEFAULTS = """\
---
tiny_host: "{{ inventory_hostname }}"
tiny_mode: safe
tiny_peers: []
"""

TINY_README = """\
# tiny

Text above.

## Variables
{begin}
stale table
{end}

## Example play
"""


@pytest.fixture
def tiny_role(tmp_path: Path) -> roledocs.Role:
    role = tmp_path / "tiny"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(TINY_SPEC)
    (role / "defaults" / "main.yml").write_text(TINY_DEFAULTS)
    (role / "README.md").write_text(
        TINY_README.format(begin=roledocs.BEGIN_MARKER, end=roledocs.END_MARKER)
    )
    return roledocs.Role(role)


def test_the_table_has_a_row_per_option_and_nested_option(tiny_role: roledocs.Role) -> None:
    rows = [
        line for line in roledocs.render_table(tiny_role).splitlines() if line.startswith("| `")
    ]
    assert rows == [
        "| `tiny_port` | int | `8080` | Port the tiny daemon listens on. |",
        "| `tiny_host` | str | `{{ inventory_hostname }}` | Binds here. **Required.** |",
        "| `tiny_mode` | str | `safe` | How it runs. Choices: `fast`, `safe`. |",
        "| `tiny_peers` | list of dict | `[]` | Every peer \\| one per entry. |",
        "| `tiny_peers[].id` | int | — | The peer's id. **Required.** |",
        "| `tiny_peers[].host` | str | — | The peer's address. |",
    ]


def test_other_entry_points_are_listed_by_what_they_leave_out(tiny_role: roledocs.Role) -> None:
    table = roledocs.render_table(tiny_role)
    assert (
        "- `configure`: Render only; takes the options above except "
        "`tiny_host`, `tiny_mode`, `tiny_peers`." in table
    )


def test_check_names_a_stale_readme_and_writing_fixes_it(
    tiny_role: roledocs.Role, capsys: pytest.CaptureFixture[str]
) -> None:
    roles_dir = tiny_role.path.parent
    check = argparse.Namespace(check=True, roles_dir=roles_dir, roles=[])
    assert roledocs.run_command(check) == 1
    assert "tiny: README.md differs" in capsys.readouterr().err

    write = argparse.Namespace(check=False, roles_dir=roles_dir, roles=[])
    assert roledocs.run_command(write) == 0
    text = tiny_role.readme.read_text()
    assert text.startswith("# tiny\n\nText above.\n\n## Variables\n" + roledocs.BEGIN_MARKER)
    assert text.endswith(roledocs.END_MARKER + "\n\n## Example play\n")
    assert "stale table" not in text
    assert roledocs.run_command(check) == 0


def test_a_readme_without_markers_is_an_error(
    tiny_role: roledocs.Role, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny_role.readme.write_text("# tiny\n\n## Variables\n| hand | written |\n")
    check = argparse.Namespace(check=True, roles_dir=tiny_role.path.parent, roles=[])
    assert roledocs.run_command(check) == 2
    assert "no '<!-- BEGIN generated variables" in capsys.readouterr().err


def test_an_option_without_a_description_is_an_error(tiny_role: roledocs.Role) -> None:
    spec = tiny_role.path / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("        description: How it runs.\n", ""))
    with pytest.raises(roledocs.RoleDocsError, match="tiny_mode has no description"):
        roledocs.render_table(tiny_role)
