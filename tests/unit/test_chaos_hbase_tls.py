"""The hbase-rpc-tls-rollout fault's pure parts: it reads a host's phase from the same
hbase-site.xml lines the hbase role writes and reads, and it runs site.yml until every HBase host
is at phase 3, stepping back once first when the cluster is there already."""

from __future__ import annotations

from typing import cast

import jinja2
import pytest
import yaml
from phased_hosts import PhasedHosts

from lendstream.chaos import faults
from lendstream.chaos.cluster import ANSIBLE_DIR, ChaosCluster, ChaosError

HBASE_ROLE = ANSIBLE_DIR / "roles" / "hbase"


def _site(phase: int) -> str:
    """hbase-site.xml's TLS lines as the role's template renders them for ``phase``."""
    template = (HBASE_ROLE / "templates" / "hbase-site.xml.j2").read_text()
    body = template.split("{% set __hbase_tls_phase", 1)[1]
    rendered = jinja2.Environment().from_string("{% set __hbase_tls_phase" + body)
    return rendered.render(
        __hbase_rpc_tls_rendered=phase,
        hbase_conf_dir="/etc/lendstream/hbase",
        hbase_tls_ca_file="/etc/lendstream/tls/ca.crt",
    )


def test_the_fault_reads_the_phases_by_the_roles_own_markers() -> None:
    markers = yaml.safe_load((HBASE_ROLE / "vars" / "main.yml").read_text())[
        "__hbase_rpc_tls_markers"
    ]
    assert markers == {
        "server": faults.HBASE_TLS_SERVER,
        "plaintext": faults.HBASE_TLS_PLAINTEXT,
        "client": faults.HBASE_TLS_CLIENT,
    }
    for phase in range(4):
        assert _Cluster(phases={"m1": phase}).phase_read("m1") == phase


class _Cluster(PhasedHosts):
    """HBase hosts whose phase moves one step towards the wanted one per site.yml run."""

    SWITCH = "hbase_rpc_tls_enabled"

    def hosts(self, group: str) -> tuple[str, ...]:
        return tuple(self.phases) if group == "hbase_regionserver" else ()

    def sh(self, host: str, command: str, timeout_s: float = 60, check: bool = True) -> str:
        assert command == "cat /etc/lendstream/hbase/hbase-site.xml"
        return _site(self.phases[host])

    def phase_read(self, host: str) -> int:
        return faults.hbase_rpc_tls_phases(cast("ChaosCluster", self))[host]


TAGS = ("site.yml", "--tags", "hbase")


@pytest.mark.parametrize(
    ("start", "expected_runs"),
    [
        (0, [TAGS] * 3),
        (2, [TAGS]),
        (3, [(*TAGS, "-e", "hbase_rpc_tls_enabled=false"), TAGS]),
    ],
)
def test_the_rollout_runs_site_yml_until_every_host_is_at_phase_3(
    start: int, expected_runs: list[tuple[str, ...]]
) -> None:
    cluster = _Cluster(phases={"m1": start, "m2": start})
    state: dict[str, object] = {}
    faults.by_name(["hbase-rpc-tls-rollout"])[0].inject(cast("ChaosCluster", cluster), state)
    assert cluster.runs == expected_runs
    assert cluster.phases == {"m1": 3, "m2": 3}
    assert cast("list[dict[str, int]]", state["runs"])[-1] == {"m1": 3, "m2": 3}


def test_the_rollout_fails_when_the_phases_do_not_move() -> None:
    cluster = _Cluster(phases={"m1": 1}, stuck=True)
    with pytest.raises(ChaosError, match="did not reach phase 3"):
        faults.by_name(["hbase-rpc-tls-rollout"])[0].inject(cast("ChaosCluster", cluster), {})
    assert len(cluster.runs) == faults.TLS_ROLLOUT_MAX_RUNS
