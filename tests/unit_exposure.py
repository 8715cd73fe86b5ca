"""The exposure ceiling of lendstream's systemd units, shared by the offline check of the rendered
units (tests/ansible/test_unit_hardening.py) and the check on the nodes (tests/infra)."""

from __future__ import annotations

import re

# systemd's own line between "OK" and "MEDIUM" in `systemd-analyze security`.
EXPOSURE_CEILING = 5.0
# Units allowed above EXPOSURE_CEILING: unit -> (its own ceiling, why). None needs it today (the
# NodeManager, whose containers run without a system call filter, scores 3.0); a unit added here
# must still stay under its own ceiling.
UNIT_CEILINGS: dict[str, tuple[float, str]] = {}

# Every unit the roles install (one per daemon a role knows).
ROLE_UNITS = [
    "lendstream-zookeeper",
    "lendstream-kafka",
    "lendstream-hdfs-namenode",
    "lendstream-hdfs-secondarynamenode",
    "lendstream-hdfs-datanode",
    "lendstream-hdfs-journalnode",
    "lendstream-hdfs-zkfc",
    "lendstream-yarn-resourcemanager",
    "lendstream-yarn-nodemanager",
    "lendstream-hbase-master",
    "lendstream-hbase-regionserver",
    "lendstream-hbase-thrift",
    "lendstream-storm-nimbus",
    "lendstream-storm-supervisor",
    "lendstream-storm-ui",
    "lendstream-storm-nimbus-registry",
    "lendstream-mysql",
    "lendstream-applicant-api",
    "lendstream-risk-service",
    "lendstream-producer",
    "lendstream-pipeline-exporter",
    "lendstream-alert-log",
    "lendstream-certificate-check",
]

_OVERALL = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def ceiling(unit: str) -> float:
    """The highest exposure `unit` (without .service) may score."""
    return UNIT_CEILINGS.get(unit, (EXPOSURE_CEILING, ""))[0]


def overall_exposure(report: str) -> float | None:
    """The overall exposure in `systemd-analyze security <unit>`'s report, None if it has none."""
    match = _OVERALL.search(report)
    return float(match.group(1)) if match else None
