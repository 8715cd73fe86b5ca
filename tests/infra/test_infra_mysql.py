"""MariaDB of the pipeline (playbooks/pipeline.yml): the one unit running and enabled, listening on
the node's address, Debian's own instance off, the applicants table present, one account per
purpose with exactly its grants (the loader INSERT and SELECT, the read-only account SELECT, the
administrator from the unix socket only), the read-only account refused every write and the
loader everything else, REQUIRE SSL with the inventory's lendstream_tls, the service accounts'
password files root-only and no administrator's password on the node."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from infra_cluster import TLS_CA_FILE, address, assert_service, in_group, pipeline_tls

# Every node: the unit runs on the mysql hosts and nowhere else; the rest only on them.
testinfra_hosts = ["ansible://all"]
pytestmark = pytest.mark.in_groups("mysql")

MYSQL_PORT = 3306
CONF_DIR = "/etc/lendstream/mysql"
DATABASE = "lendstream"
READONLY_USER = "lendstream_api"
LOADER_USER = "lendstream_loader"
ADMIN_USER = "lendstream_admin"


def _as_account(host: Any, user: str, password_file: str, sql: str) -> Any:
    """Run SQL as a service account over TCP to the node's address, as its client connects (with
    lendstream_tls: TLS, the server verified against the deployment CA); its password is read on
    the node, root-only, so it never crosses into this process."""
    tls = f" --ssl --ssl-ca={TLS_CA_FILE} --ssl-verify-server-cert" if pipeline_tls(host) else ""
    command = (
        f"MYSQL_PWD=$(cat {CONF_DIR}/{password_file}) mariadb --no-defaults"
        f" --host={address(host)} --port={MYSQL_PORT} --user={user}{tls}"
        f" --batch --skip-column-names {DATABASE} -e {shlex.quote(sql)}"
    )
    with host.sudo():
        return host.run(f"sh -c {shlex.quote(command)}")


def _as_reader(host: Any, sql: str) -> Any:
    return _as_account(host, READONLY_USER, "readonly-password", sql)


def _as_loader(host: Any, sql: str) -> Any:
    return _as_account(host, LOADER_USER, "loader-password", sql)


def _as_root(host: Any, sql: str) -> Any:
    """SQL as MariaDB's root over the unix socket, as the role provisions."""
    with host.sudo():
        return host.run(
            f"mariadb --defaults-file={CONF_DIR}/my.cnf --user=root --batch --skip-column-names"
            f" -e {shlex.quote(sql)}"
        )


@pytest.mark.in_groups("all")
def test_mysql_service(host: Any) -> None:
    if in_group(host, "mysql"):
        assert_service(host, "lendstream-mysql", (MYSQL_PORT,))
    else:
        assert not host.service("lendstream-mysql").is_running


def test_debian_instance_is_off(host: Any) -> None:
    debian = host.service("mariadb")
    assert not debian.is_running
    assert not debian.is_enabled


def test_server_runs_as_the_mysql_user(host: Any) -> None:
    servers = host.process.filter(comm="mariadbd")
    assert servers, "no mariadbd process"
    assert {server.user for server in servers} == {"mysql"}


def test_reader_selects_the_applicants_table(host: Any) -> None:
    result = _as_reader(host, "SELECT COUNT(*) >= 0 FROM applicants")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_reader_cannot_write(host: Any) -> None:
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
    result = _as_reader(host, "SHOW DATABASES")
    assert result.rc == 0, result.stderr
    assert set(result.stdout.split()) == {"information_schema", DATABASE}


def test_the_service_accounts_have_exactly_their_grants(host: Any) -> None:
    require = " REQUIRE SSL" if pipeline_tls(host) else ""
    expected = {
        LOADER_USER: (_as_loader, f"`{LOADER_USER}`@`{address(host)}`", "SELECT, INSERT"),
        READONLY_USER: (_as_reader, f"`{READONLY_USER}`@`%`", "SELECT"),
    }
    for user, (run, account, privileges) in expected.items():
        result = run(host, "SHOW GRANTS")
        assert result.rc == 0, (user, result.stderr)
        grants = sorted(result.stdout.strip().splitlines())
        assert len(grants) == 2, (user, grants)
        assert grants[0].startswith(f"GRANT {privileges} ON `{DATABASE}`.`applicants` TO {account}")
        assert grants[1].startswith(f"GRANT USAGE ON *.* TO {account}"), grants[1]
        # "… IDENTIFIED BY PASSWORD '*…'", then " REQUIRE SSL" with TLS.
        assert grants[1].endswith(f"'{require}"), grants[1]


def test_the_role_accounts_exist_only_at_their_hosts(host: Any) -> None:
    users = "', '".join((ADMIN_USER, LOADER_USER, READONLY_USER))
    result = _as_root(host, f"SELECT User, Host FROM mysql.user WHERE User IN ('{users}')")
    assert result.rc == 0, result.stderr
    accounts = {tuple(line.split("\t")) for line in result.stdout.strip().splitlines()}
    assert accounts == {
        (ADMIN_USER, "localhost"),
        (LOADER_USER, address(host)),
        (READONLY_USER, "%"),
        (READONLY_USER, "localhost"),
    }


def test_loader_inserts_and_reads_only(host: Any) -> None:
    allowed = _as_loader(host, "SELECT COUNT(*) >= 0 FROM applicants")
    assert allowed.rc == 0, allowed.stderr
    refused = (
        "UPDATE applicants SET member_id = member_id",
        "DELETE FROM applicants",
        "DROP TABLE applicants",
        "CREATE TABLE intruder (id INT)",
        "CREATE USER 'intruder'@'%'",
        f"GRANT SELECT ON {DATABASE}.applicants TO '{READONLY_USER}'@'%'",
        "SELECT User FROM mysql.user",
    )
    for sql in refused:
        result = _as_loader(host, sql)
        assert result.rc != 0, f"the loader account could run: {sql}"
        assert "denied" in result.stderr.lower(), (sql, result.stderr)


def test_plain_tcp_is_refused_exactly_with_lendstream_tls(host: Any) -> None:
    """With lendstream_tls the accounts REQUIRE SSL: a client without TLS is denied. Without it,
    the same plain connection is let in (docs/security.md)."""
    command = (
        f"MYSQL_PWD=$(cat {CONF_DIR}/loader-password) mariadb --no-defaults --skip-ssl"
        f" --host={address(host)} --port={MYSQL_PORT} --user={LOADER_USER} {DATABASE} -e 'SELECT 1'"
    )
    with host.sudo():
        result = host.run(f"sh -c {shlex.quote(command)}")
    if pipeline_tls(host):
        assert result.rc != 0
        assert "denied" in result.stderr.lower(), result.stderr
    else:
        assert result.rc == 0, result.stderr


def test_service_account_password_files_are_root_only(host: Any) -> None:
    with host.sudo():
        for name in ("loader-password", "readonly-password"):
            secret = host.file(f"{CONF_DIR}/{name}")
            assert secret.exists, name
            assert secret.user == "root"
            assert secret.mode == 0o600, (name, oct(secret.mode))
        assert not host.file(f"{CONF_DIR}/admin-password").exists


def test_no_provisioning_sql_left_on_the_node(host: Any) -> None:
    with host.sudo():
        found = host.run(f"grep -rl 'IDENTIFIED BY' {CONF_DIR} /tmp /var/tmp")
    assert found.stdout.strip() == "", f"SQL with passwords left on the node: {found.stdout}"
