"""The topology's submission and its ZooKeeper digest (lendstream.storm.deployment and jar): a
digest for every submission, the storm daemons' own when the topology role passes it, part of
the deployment digest only then, and never on sparse's command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lendstream.storm import deployment, jar

PAYLOAD = jar.ZOOKEEPER_AUTH_PAYLOAD_OPTION
SCHEME = deployment.ZOOKEEPER_AUTH_SCHEME_OPTION


def test_without_a_fixed_digest_each_submission_gets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(deployment.ZOOKEEPER_PAYLOAD_ENV, raising=False)
    (first, first_fixed), (second, _) = (
        deployment.zookeeper_topology_auth(),
        deployment.zookeeper_topology_auth(),
    )
    assert not first_fixed
    assert first[SCHEME] == "digest"
    assert re.fullmatch(r"\d+:\d+", first[PAYLOAD])  # Storm's own form: user:password
    assert first[PAYLOAD] != second[PAYLOAD]


def test_the_role_s_digest_is_used_and_counts_as_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(deployment.ZOOKEEPER_PAYLOAD_ENV, "storm:a-password-from-the-vault")
    options, fixed = deployment.zookeeper_topology_auth()
    assert fixed
    assert options == {SCHEME: "digest", PAYLOAD: "storm:a-password-from-the-vault"}


def test_the_digest_stays_off_sparse_s_command_line(tmp_path: Path) -> None:
    config = {"envs": {"cluster": {"options": {PAYLOAD: "storm:secret", "topology.workers": 2}}}}
    command = jar.submit_command(config, tmp_path / "config.json", tmp_path / "t.jar", "t", False)
    assert "topology.workers=2" in command
    assert not [argument for argument in command if "secret" in argument]
