"""testinfra checks of a deployed cluster (site.yml), run against its nodes over Ansible:

    pytest tests/infra --ansible-inventory=.cache/vcluster/ci/inventory.yml

Scoping: a check runs only on the hosts it is about: the hosts of the groups its
`@pytest.mark.in_groups(...)` names (on the check, else on its module as `pytestmark`), else its
module's `testinfra_hosts`. A check of the whole cluster carries `@pytest.mark.cluster_wide` and
runs from one host of its scope, not once per node. The scope is applied here, after collection, so
it holds with `--hosts=ansible://all` too (which would otherwise override `testinfra_hosts`);
what is out of scope is deselected, so the passed count is what really ran.

Without `--ansible-inventory` there is no cluster to check, so the directory is not collected (a
plain `pytest` run does not try to reach nodes).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

from lendstream.secrets import default_password_file


def pytest_configure(config: pytest.Config) -> None:
    """testinfra runs ansible-inventory: find the venv's even when the venv is not active, and
    give it the inventory's Vault password file (lendstream.secrets keeps one per inventory)."""
    config.addinivalue_line(
        "markers",
        "in_groups(*groups): run only on the hosts of these inventory groups "
        "(instead of the file's testinfra_hosts)",
    )
    config.addinivalue_line(
        "markers", "cluster_wide: a check of the whole cluster, run from one host of its scope"
    )
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


def _checked_host(item: pytest.Item) -> str | None:
    """The inventory host a testinfra check was parametrized with (None: not a per-host check)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "_testinfra_host" not in callspec.params:
        return None
    return str(callspec.params["_testinfra_host"].backend.host)


def _scope(item: pytest.Item, runner: AnsibleRunner) -> set[str]:
    """The hosts a check is about: its in_groups marker's groups, else its testinfra_hosts."""
    marker = item.get_closest_marker("in_groups")
    if marker is not None:
        patterns = list(marker.args)
    else:
        module = getattr(item, "module", None)
        patterns = [
            pattern.removeprefix("ansible://")
            for pattern in getattr(module, "testinfra_hosts", ["ansible://all"])
        ]
    return {host for pattern in patterns for host in _hosts_of(runner, pattern)}


@functools.cache
def _hosts_of(runner: AnsibleRunner, pattern: str) -> tuple[str, ...]:
    """The pattern's hosts, resolved once per run (every check of a file asks the same)."""
    return tuple(runner.get_hosts(pattern))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect each check on the hosts outside its scope, and each cluster-wide check on every
    host of its scope but the first."""
    inventory_file = config.getoption("ansible_inventory", default=None)
    if not inventory_file:
        return
    runner = AnsibleRunner.get_runner(inventory_file)
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    cluster_wide_done: set[tuple[str, str]] = set()
    for item in items:
        host = _checked_host(item)
        if host is not None and host not in _scope(item, runner):
            deselected.append(item)
            continue
        if host is not None and item.get_closest_marker("cluster_wide") is not None:
            check = (item.nodeid.split("::")[0], getattr(item, "originalname", item.name))
            if check in cluster_wide_done:
                deselected.append(item)
                continue
            cluster_wide_done.add(check)
        selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
