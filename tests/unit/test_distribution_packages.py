"""Every Python package under lendstream/ ships in the distribution: pyproject lists packages one
by one, and the nodes run what the wheel holds (python -m lendstream.reconcile, the chaos probe),
so a package missing from the list works in this checkout and fails on the cluster."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_of_lendstream_is_listed() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "lendstream").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
