"""`vagrant up` for real: make vagrant-smoke boots the ci layout on libvirt (KVM, or qemu's TCG
when this host's KVM does not run guests), checks SSH and site.yml's common and artifacts plays
on every machine, destroys them and checks that libvirt holds nothing of the layout any more.
Deselected by default (pyproject addopts): under TCG on this 2-core machine it runs for about
95 minutes (docs/vagrant.md, Measured), more than the suite's 80-minute budget. Run it with
`pytest -m vagrant tests/vagrant` or `make vagrant-smoke`.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from lendstream.cluster import REPO_ROOT, load_cluster
from lendstream.vagrant import smoke

pytestmark = [pytest.mark.vagrant, pytest.mark.timeout(4 * 3600)]


def test_vagrant_up_provisions_every_machine_and_destroy_leaves_nothing() -> None:
    layout = load_cluster().layout("ci")
    figures_file = smoke.state_dir(layout) / "figures.json"
    figures_file.unlink(missing_ok=True)
    result = subprocess.run(
        ["make", "vagrant-smoke", "LAYOUT=ci"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=smoke.UP_TIMEOUT_S + 1800,
        check=False,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, tail
    figures = json.loads(figures_file.read_text())
    names = {node.name for node in layout.nodes}
    assert set(figures["boot_s"]) == names, tail
    assert set(figures["ssh_s"]) == names, tail
    assert set(figures["recap"]) >= names, tail
    for counts in figures["recap"].values():
        assert counts["failed"] == counts["unreachable"] == 0, tail
    assert figures["leftovers"] == []
    assert figures["problems"] == []
