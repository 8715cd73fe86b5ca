"""The house rules for roles, checked on the files: prefixed and documented variables, argument
specs covering every default, ansible_managed in every template, no inventory group names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "ansible" / "roles"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "defaults/main.yml").is_file())
GROUP_REFERENCE = re.compile(r"groups\s*\[|group_names")


def _defaults(role: str) -> dict[str, object]:
    return yaml.safe_load((ROLES_DIR / role / "defaults/main.yml").read_text()) or {}


def _spec_options(role: str) -> set[str]:
    specs = yaml.safe_load((ROLES_DIR / role / "meta/argument_specs.yml").read_text())
    return set(specs["argument_specs"]["main"].get("options", {}))


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_prefixed_with_the_role_name(role: str) -> None:
    unprefixed = [name for name in _defaults(role) if not name.startswith(f"{role}_")]
    assert not unprefixed, f"{role}: defaults without the {role}_ prefix: {unprefixed}"


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_cover_every_default(role: str) -> None:
    missing = sorted(set(_defaults(role)) - _spec_options(role))
    assert not missing, f"{role}: defaults missing from meta/argument_specs.yml: {missing}"


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_default(role: str) -> None:
    readme = ROLES_DIR / role / "README.md"
    assert readme.is_file(), f"{role} has no README.md"
    text = readme.read_text()
    undocumented = [name for name in _defaults(role) if f"`{name}`" not in text]
    assert not undocumented, f"{role}/README.md does not document {undocumented}"
    assert re.search(r"idempotent", text, re.IGNORECASE), f"{role}/README.md: say if idempotent"


@pytest.mark.parametrize("role", ROLES)
def test_templates_carry_ansible_managed(role: str) -> None:
    unmarked = [
        str(path.relative_to(ROLES_DIR))
        for path in sorted((ROLES_DIR / role / "templates").rglob("*.j2"))
        if "ansible_managed" not in "".join(path.read_text().splitlines(keepends=True)[:3])
    ]
    assert not unmarked, f"templates without ansible_managed in their first lines: {unmarked}"


@pytest.mark.parametrize("role", ROLES)
def test_roles_never_name_inventory_groups(role: str) -> None:
    offenders = [
        str(path.relative_to(ROLES_DIR))
        for path in sorted((ROLES_DIR / role).rglob("*"))
        if path.is_file()
        and path.suffix in {".yml", ".yaml", ".j2"}
        and GROUP_REFERENCE.search(path.read_text(errors="replace"))
    ]
    assert not offenders, f"roles must take host lists as parameters; group lookups in {offenders}"
