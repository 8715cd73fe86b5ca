"""ZooKeeper: one server per zookeeper host, one leader and the rest followers, reachable."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_cluster import (
    ZOOKEEPER_CLIENT,
    ZOOKEEPER_ELECTION,
    assert_service,
    four_letter_word,
    groups,
    in_group,
)

testinfra_hosts = ["ansible://all"]


def test_server_runs_exactly_on_the_zookeeper_hosts(host: Any) -> None:
    if in_group(host, "zookeeper"):
        assert_service(host, "lendstream-zookeeper", (ZOOKEEPER_CLIENT, ZOOKEEPER_ELECTION))
    else:
        assert not host.service("lendstream-zookeeper").is_running


@pytest.mark.cluster_wide
def test_ensemble_has_one_leader_and_the_rest_followers(host: Any) -> None:
    members = groups(host)["zookeeper"]
    modes = [
        re.search(r"Mode: (\w+)", four_letter_word(host, member, "srvr")) for member in members
    ]
    names = sorted(match.group(1) for match in modes if match)
    assert names == sorted(["leader"] + ["follower"] * (len(members) - 1)), names


def test_every_member_answers_ruok(host: Any) -> None:
    for member in groups(host)["zookeeper"]:
        assert four_letter_word(host, member, "ruok") == "imok", member
