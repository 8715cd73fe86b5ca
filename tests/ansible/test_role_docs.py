"""Role READMEs' variable tables are generated from meta/argument_specs.yml (lendstream.roledocs):
the checked-in tables match the specs, and the generator renders a tiny spec as documented."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lendstream import roledocs

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
