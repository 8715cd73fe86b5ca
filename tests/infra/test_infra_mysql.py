"""MariaDB of the pipeline (playbooks/pipeline.yml): the one unit running and enabled, listening on
the node's address, Debian's own instance off, the applicants table present, the read-only
account able to read and refused every write, the loader's password files root-only."""

from __future__ import annotations

import shlex
from typing import Any

from infra_cluster import address, assert_service, in_group

testinfra_hosts = ["ansible://all"]

MYSQL_PORT = 3306
CONF_DIR = "/etc/lendstream/mysql"
DATABASE = "lendstream"
READONLY_USER = "lendstream_api"


def _as_reader(host: Any, sql: str) -> Any:
    """Run SQL as the read-only account over TCP to the node's address (its password read on the
    node, root-only, so it never crosses into this process)."""
    command = (
        f"MYSQL_PWD=$(cat {CONF_DIR}/readonly-password) mariadb --no-defaults"
        f" --host={address(host)} --port={MYSQL_PORT} --user={READONLY_USER}"
        f" --batch --skip-column-names {DATABASE} -e {shlex.quote(sql)}"
    )
    with host.sudo():
        return host.run(f"sh -c {shlex.quote(command)}")


def test_mysql_service(host: Any) -> None:
    if in_group(host, "mysql"):
        assert_service(host, "lendstream-mysql", (MYSQL_PORT,))
    else:
        assert not host.service("lendstream-mysql").is_running


def test_debian_instance_is_off(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    debian = host.service("mariadb")
    assert not debian.is_running
    assert not debian.is_enabled


def test_server_runs_as_the_mysql_user(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    servers = host.process.filter(comm="mariadbd")
    assert servers, "no mariadbd process"
    assert {server.user for server in servers} == {"mysql"}


def test_reader_selects_the_applicants_table(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    result = _as_reader(host, "SELECT COUNT(*) >= 0 FROM applicants")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_reader_cannot_write(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    writes = (
        "INSERT INTO applicants (record_digest) VALUES (REPEAT('0', 64))",
        "UPDATE applicants SET member_id = member_id",
        "DELETE FROM applicants",
        "CREATE TABLE intruder (id INT)",
        "DROP TABLE applicants",
        "CREATE USER 'intruder'@'%'",
    )
    for sql in writes:
        result = _as_reader(host, sql)
        assert result.rc != 0, f"the read-only account could run: {sql}"
        assert "denied" in result.stderr.lower(), (sql, result.stderr)


def test_reader_sees_only_the_applicants_table(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    result = _as_reader(host, "SHOW DATABASES")
    assert result.rc == 0, result.stderr
    assert set(result.stdout.split()) == {"information_schema", DATABASE}


def test_loader_password_files_are_root_only(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    with host.sudo():
        for name in ("admin-password", "readonly-password"):
            secret = host.file(f"{CONF_DIR}/{name}")
            assert secret.exists, name
            assert secret.user == "root"
            assert secret.mode == 0o600, (name, oct(secret.mode))


def test_no_provisioning_sql_left_on_the_node(host: Any) -> None:
    if not in_group(host, "mysql"):
        return
    with host.sudo():
        found = host.run(f"grep -rl 'IDENTIFIED BY' {CONF_DIR} /tmp /var/tmp")
    assert found.stdout.strip() == "", f"SQL with passwords left on the node: {found.stdout}"
