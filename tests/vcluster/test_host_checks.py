"""The harness says exactly what is missing on the host."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lendstream.cluster import REPO_ROOT
from lendstream.vcluster import hostdeps


def test_missing_programs_name_the_package_and_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hostdeps, "find_program", lambda p: None if p == "debootstrap" else p)
    monkeypatch.setattr(hostdeps.os, "geteuid", lambda: 0)
    with pytest.raises(hostdeps.HostNotReadyError) as error:
        hostdeps.check_host()
    message = str(error.value)
    assert "missing host packages: debootstrap" in message
    assert "apt-get install -y --no-install-recommends debootstrap" in message


def test_not_root_is_refused_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostdeps, "find_program", lambda p: p)
    monkeypatch.setattr(hostdeps.os, "geteuid", lambda: 1000)
    with pytest.raises(hostdeps.HostNotReadyError, match="needs root"):
        hostdeps.check_host()


@pytest.mark.vcluster
def test_up_as_an_ordinary_user_exits_with_the_message() -> None:
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "lendstream.vcluster", "up", "--layout", "ci"],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs root" in result.stderr
