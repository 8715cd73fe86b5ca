"""Logs are bounded on every node: the common role's journald drop-in is in place, journald
restarted with it and keeps the journal under its cap; each daemon's deployed logging
configuration has only console appenders (the journal) or size-capped rolling files
(tests/log_bounds.py judges both the rendered and the deployed files); Storm workers' log
directories hold no more backups than the storm role keeps; no secret of the inventory's Vault is
in any journal or log file."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
from infra_cluster import in_group, inventory_vault
from log_bounds import (
    APPENDER_READERS,
    JOURNALD_LIMITS,
    is_journald_size,
    journald_limits,
    unbounded,
)

from lendstream.chaos.cluster import role_default
from lendstream.secrets import CA_KEY_NAME, confidential_names

testinfra_hosts = ["ansible://all"]

JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/lendstream.conf"
# Where the secrets' search patterns wait on a node while the search runs (root only, then removed).
SECRET_PATTERNS_FILE = "/root/.lendstream-log-audit-patterns"
# A line of the CA key's PEM body shorter than this (its last) is not searched for: too short to
# be told from chance.
PEM_LINE_MIN_CHARS = 16
SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _bytes(size: str) -> float:
    """A size as journald and journalctl write it: 1G, 64M, 24.0M, 512.5K, 65536."""
    match = re.fullmatch(r"([0-9.]+)\s*([BKMGT]?)", size.strip())
    assert match, f"not a size: {size!r}"
    return float(match.group(1)) * SIZE_UNITS[match.group(2)]


def _logging_files(host: Any) -> list[str]:
    """The logging configurations the roles deployed on this node, by the node's groups."""
    files = []
    if in_group(host, "zookeeper"):
        files.append(f"{role_default('zookeeper', 'zookeeper_conf_dir')}/logback.xml")
    if in_group(host, "kafka_controller") or in_group(host, "kafka_broker"):
        files.append(f"{role_default('kafka', 'kafka_conf_dir')}/log4j2.xml")
    hadoop_groups = ("hdfs_namenode", "hdfs_datanode", "yarn_resourcemanager", "yarn_nodemanager")
    if any(in_group(host, group) for group in hadoop_groups):
        files.append(f"{role_default('hdfs', 'hdfs_conf_dir')}/log4j.properties")
    hbase_groups = ("hbase_master", "hbase_backup_master", "hbase_regionserver", "hbase_thrift")
    if any(in_group(host, group) for group in hbase_groups):
        files.append(f"{role_default('hbase', 'hbase_conf_dir')}/log4j2.properties")
    if any(in_group(host, group) for group in ("storm_nimbus", "storm_supervisor", "storm_ui")):
        home = role_default("storm", "storm_home_dir")
        files += [f"{home}/log4j2/cluster.xml", f"{home}/log4j2/worker.xml"]
    return files


def test_journald_drop_in_caps_the_journal(host: Any) -> None:
    drop_in = host.file(JOURNALD_DROP_IN)
    assert drop_in.exists, JOURNALD_DROP_IN
    assert drop_in.user == "root"
    assert drop_in.mode == 0o644
    limits = journald_limits(drop_in.content_string)
    assert sorted(limits) == sorted(JOURNALD_LIMITS), limits
    assert all(is_journald_size(value) for value in limits.values()), limits
    configuration = host.run("systemd-analyze cat-config systemd/journald.conf")
    assert configuration.rc == 0, configuration.stderr
    assert f"# {JOURNALD_DROP_IN}" in configuration.stdout


def test_journald_restarted_after_its_drop_in_changed(host: Any) -> None:
    assert host.service("systemd-journald").is_running
    written = int(host.check_output(f"stat -c %Y {JOURNALD_DROP_IN}"))
    started = int(
        host.check_output(
            'date -d "$(systemctl show -p ActiveEnterTimestamp --value systemd-journald)" +%s'
        )
    )
    assert started >= written, (started, written)


def test_journal_stays_under_its_cap(host: Any) -> None:
    limits = journald_limits(host.file(JOURNALD_DROP_IN).content_string)
    with host.sudo():
        usage = host.check_output("journalctl --disk-usage")
    match = re.search(r"take up ([0-9.]+\s*[BKMGT]?)", usage)
    assert match, usage
    # Persistent and volatile journals together; journald vacuums when it rotates a file, so the
    # total may pass the caps by at most one file before it does.
    cap = _bytes(limits["SystemMaxUse"]) + _bytes(limits["RuntimeMaxUse"])
    assert _bytes(match.group(1)) <= cap + _bytes(limits["SystemMaxFileSize"]), usage


def test_daemon_logging_configurations_are_bounded(host: Any) -> None:
    for path in _logging_files(host):
        with host.sudo():
            configuration = host.file(path)
            assert configuration.exists, path
            text = configuration.content_string
        appenders = APPENDER_READERS[path.rsplit("/", 1)[1]](text)
        assert appenders, f"{path}: no appender"
        assert not unbounded(appenders), f"{path}: unbounded appenders {unbounded(appenders)}"


@pytest.mark.in_groups("storm_supervisor")
def test_storm_workers_keep_no_more_backups_than_configured(host: Any) -> None:
    artifacts = f"{role_default('storm', 'storm_log_dir')}/workers-artifacts"
    kept = {
        "worker.log": int(role_default("storm", "storm_worker_log_max_backups")),
        "worker.log.out": int(role_default("storm", "storm_worker_stdio_log_max_backups")),
        "worker.log.err": int(role_default("storm", "storm_worker_stdio_log_max_backups")),
    }
    with host.sudo():
        listing = host.run(f"find {artifacts} -mindepth 3 -maxdepth 3 -name 'worker.log*.gz'")
    backups: dict[tuple[str, str], int] = {}
    for path in listing.stdout.split():
        directory, name = path.rsplit("/", 1)
        base = re.sub(r"\.[0-9]+\.gz$", "", name)
        backups[(directory, base)] = backups.get((directory, base), 0) + 1
    for (directory, base), count in backups.items():
        assert count <= kept[base], (directory, base, count)


@pytest.fixture(scope="session")
def secret_names(pytestconfig: pytest.Config) -> list[str]:
    """The names of the Vault's confidential entries (lendstream.secrets.confidential_names);
    their values stay with Ansible."""
    names = confidential_names(inventory_vault(pytestconfig.getoption("ansible_inventory")))
    # The CA key last: it alone spans several pattern lines (_patterns_expression).
    return sorted(names, key=lambda name: name == CA_KEY_NAME)


def _patterns_expression(names: list[str]) -> str:
    """A Jinja expression that Ansible templates on the controller into the search patterns, one
    per line, in the order of ``names``: each secret, and each long line of the CA key's PEM
    body."""
    parts = [
        f"({name}.splitlines() | reject('match', '-----')"
        f" | select('match', '.{{{PEM_LINE_MIN_CHARS}}}') | list)"
        if name == CA_KEY_NAME
        else f"[{name}]"
        for name in names
    ]
    # A loop around a real newline: Ansible keeps a backslash in a template of a module's arguments
    # as it is, so join('\\n') would join with a backslash and an n.
    return "{% for pattern in " + " + ".join(parts) + " %}{{ pattern }}\n{% endfor %}"


# Prints "<pattern's line number> <count> <where>" for every pattern found in the journal or in a
# file under /var/log (gzip'd rotations included), never the text found.
SECRET_SEARCH = r"""set -u
patterns=$1
count() {
  grep -oFf "$patterns" | awk -v where="$1" -v file="$patterns" '
    BEGIN { while ((getline line < file) > 0) line_of[line] = ++n }
    { found[line_of[$0]]++ }
    END { for (i in found) print i, found[i], where }'
}
journalctl -o cat --no-pager | count journal
for log in $(grep -rlFf "$patterns" --exclude-dir=journal /var/log); do count "$log" < "$log"; done
for log in $(find /var/log -name '*.gz' -not -path '/var/log/journal/*'); do
  zcat "$log" | count "$log"
done
"""


def test_no_secret_of_the_vault_is_in_a_journal_or_log(host: Any, secret_names: list[str]) -> None:
    """A daemon that logs its configuration, or a task that passes a secret to a module without
    no_log (the node's journal keeps every module invocation), puts a secret where anyone with
    the logs can read it. The patterns reach the node through the copy module's content, which
    Ansible never logs."""
    assert secret_names
    arguments = {
        "content": _patterns_expression(secret_names),
        "dest": SECRET_PATTERNS_FILE,
        "owner": "root",
        "group": "root",
        "mode": "0600",
    }
    host.ansible("ansible.builtin.copy", json.dumps(arguments), check=False, become=True)
    try:
        with host.sudo():
            search = host.run(f"bash -c {shlex.quote(SECRET_SEARCH)} search {SECRET_PATTERNS_FILE}")
    finally:
        host.ansible(
            "ansible.builtin.file",
            f"path={SECRET_PATTERNS_FILE} state=absent",
            check=False,
            become=True,
        )
    assert search.rc == 0, search.stderr
    found = [line.split(" ", 2) for line in search.stdout.splitlines() if line.strip()]
    assert not found, [
        f"{secret_names[min(int(number), len(secret_names)) - 1]}: {count} times in {where}"
        for number, count, where in found
    ]
