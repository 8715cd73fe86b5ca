"""testinfra checks of a deployed cluster (site.yml), run against its nodes over Ansible:

    pytest tests/infra --hosts=ansible://all --ansible-inventory=.cache/vcluster/ci/inventory.yml

Each file scopes itself to the inventory groups it checks (`testinfra_hosts`). Without
`--ansible-inventory` there is no cluster to check, so the directory is not collected (a plain
`pytest` run does not try to reach nodes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

from lendstream.secrets import default_password_file


def pytest_configure(config: pytest.Config) -> None:
    """testinfra runs ansible-inventory: find the venv's even when the venv is not active, and
    give it the inventory's Vault password file (lendstream.secrets keeps one per inventory)."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    inventory_file = config.getoption("ansible_inventory", default=None)
    if inventory_file and "ANSIBLE_VAULT_PASSWORD_FILE" not in os.environ:
        password_file = default_password_file(Path(inventory_file).parent)
        if password_file.is_file():
            os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = str(password_file)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "conftest.py":
        return None
    if not config.getoption("ansible_inventory", default=None):
        return True
    return None


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> AnsibleRunner:
    """The inventory the run checks, to read any host's variables (e.g. its address)."""
    return AnsibleRunner.get_runner(pytestconfig.getoption("ansible_inventory"))
