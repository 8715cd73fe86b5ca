"""The zookeeper-client-tls-rollout fault's pure parts: it reads a member's client TLS phase from
zoo.cfg and the phase file as the zookeeper role renders them (the role's own templates), and it
runs site.yml until every member is at phase 3, stepping back once first when it is there."""

from __future__ import annotations

from typing import cast

import jinja2
import pytest
from phased_hosts import PhasedHosts

from lendstream.chaos import faults
from lendstream.chaos.cluster import ANSIBLE_DIR, ChaosCluster, ChaosError

TEMPLATES = ANSIBLE_DIR / "roles" / "zookeeper" / "templates"


def _rendered(name: str, phase: int) -> str:
    """One of the role's templates for client TLS ``phase`` (quorum TLS off)."""
    environment = jinja2.Environment(keep_trailing_newline=True)
    environment.filters["comment"] = lambda text: f"# {text}"
    return environment.from_string((TEMPLATES / name).read_text()).render(
        ansible_managed="managed",
        __zookeeper_client_tls_rendered=phase,
        __zookeeper_quorum_tls_rendered=0,
        zookeeper_tick_time_ms=2000,
        zookeeper_init_limit=10,
        zookeeper_sync_limit=5,
        zookeeper_data_dir="/data",
        zookeeper_client_port=2181,
        zookeeper_client_address="192.168.61.11",
        zookeeper_max_client_connections=200,
        zookeeper_autopurge_snap_retain_count=5,
        zookeeper_autopurge_purge_interval_hours=6,
        zookeeper_four_letter_words=["srvr"],
        zookeeper_conf_dir="/etc/lendstream/zookeeper",
        zookeeper_tls_ca_file="/etc/lendstream/tls/ca.crt",
        zookeeper_servers=[{"id": 1, "host": "m1"}],
        zookeeper_quorum_port=2888,
        zookeeper_election_port=3888,
    )


def _files(phase: int) -> tuple[str, str]:
    return _rendered("zoo.cfg.j2", phase), _rendered("client-tls-phase.j2", phase)


def test_the_fault_reads_each_phase_from_the_roles_own_files() -> None:
    for phase in range(4):
        assert faults.zookeeper_client_tls_phase(*_files(phase)) == phase
    # A member deployed before the phase file existed: its zoo.cfg alone.
    assert faults.zookeeper_client_tls_phase(_files(0)[0], "") == 0
    assert faults.zookeeper_client_tls_phase(_files(1)[0], "") == 1


class _Cluster(PhasedHosts):
    """Members whose phase moves one step towards the wanted one per site.yml run."""

    SWITCH = "zookeeper_client_tls_enabled"

    def hosts(self, group: str) -> tuple[str, ...]:
        return tuple(self.phases) if group == "zookeeper" else ()

    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        zoo_cfg, phase_file = _files(self.phases[host])
        return zoo_cfg if command.endswith("/zoo.cfg") else phase_file


TAGS = ("site.yml", "--tags", "zookeeper,hdfs,yarn,hbase,storm")


@pytest.mark.parametrize(
    ("start", "expected_runs"),
    [
        (0, [TAGS] * 3),
        (2, [TAGS]),
        (3, [(*TAGS, "-e", "zookeeper_client_tls_enabled=false"), TAGS]),
    ],
)
def test_the_rollout_runs_site_yml_until_every_member_is_at_phase_3(
    start: int, expected_runs: list[tuple[str, ...]]
) -> None:
    cluster = _Cluster(phases={"m1": start, "m2": start})
    state: dict[str, object] = {}
    fault = faults.by_name(["zookeeper-client-tls-rollout"])[0]
    fault.inject(cast("ChaosCluster", cluster), state)
    assert cluster.runs == expected_runs
    assert cast("list[dict[str, int]]", state["runs"])[-1] == {"m1": 3, "m2": 3}


def test_the_rollout_fails_when_the_phases_do_not_move() -> None:
    cluster = _Cluster(phases={"m1": 1}, stuck=True)
    with pytest.raises(ChaosError, match="did not reach phase 3"):
        faults.by_name(["zookeeper-client-tls-rollout"])[0].inject(
            cast("ChaosCluster", cluster), {}
        )
    assert len(cluster.runs) == faults.TLS_ROLLOUT_MAX_RUNS
