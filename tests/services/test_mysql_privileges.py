"""The mysql role's accounts and TLS, against a real MariaDB started from what the role writes.

The role's ``my.cnf``, launcher and provisioning SQL are rendered (render-mysql.yml, the role's
defaults plus the cluster's settings: TLS on, the loader's and the API's accounts from the
loopback address) with a CA and a host certificate made by lendstream.pki as role pki would. A
private ``mariadbd`` runs from them on a free port and the SQL is applied as the role applies it
(root over the unix socket). Then: the loader CLI loads as the loader account over verified TLS,
and that account can do nothing else; the API's account only reads; ``REQUIRE SSL`` refuses
plain TCP, and a verifying client without the deployment's CA, or checking another name, refuses
the server. ``REQUIRE SSL`` asks for encryption, not for a client certificate: pymysql's default
(no CA: TLS attempted, unverified) gets in with the password, as the applicant API does today.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from cryptography import x509
from local_processes import clean_environment, free_port, running, wait_until
from render_playbook import ANSIBLE_DIR, run_render_playbook
from service_databases import run_loader

from lendstream import pki
from lendstream.attacks import clients
from lendstream.deploy.schema import schema_statements
from lendstream.services.applicant_api.loader import (
    AdminConnection,
    account_password,
    account_password_file_variable,
    connect_admin,
)
from lendstream.services.applicant_api.repository import ApplicantRepository, DatabaseUnavailable
from lendstream.services.applicant_api.settings import MySQLSettings, tls_arguments
from lendstream.stack.mysql_admin import run_over_socket

pytestmark = pytest.mark.mysql

RENDER_PLAYBOOK = Path(__file__).resolve().parent / "render-mysql.yml"
PROVISION_PLAYBOOK = Path(__file__).resolve().parent / "provision-mysql.yml"
TLS_PLAYBOOK = Path(__file__).resolve().parent / "tls-mysql.yml"
RENDER_TIMEOUT_S = 120.0
START_TIMEOUT_S = 90.0
CLIENT_TIMEOUT_S = 30.0
PLAYBOOK_TIMEOUT_S = 300.0
HOST = "127.0.0.1"
DATABASE = "lendstream"
LOADER_USER = "lendstream_loader"
READER_USER = "lendstream_api"
# MariaDB's "access denied" errors: to a table, a database, a user, a global privilege.
DENIED = {1044, 1045, 1142, 1227}


@dataclass(frozen=True)
class PrivateMariaDB:
    """The private server and what its clients need."""

    port: int
    ca_file: Path
    other_ca_file: Path
    loader_password: str
    reader_password: str
    rendered: Path
    role_variables: dict[str, Any]
    ca: pki.Issued


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _as_socket_root(rendered: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """SQL as the OS user's MariaDB account over the unix socket, as the role runs it."""
    return run_over_socket(rendered / "my.cnf", getpass.getuser(), sql)


@contextmanager
def _private_mariadb(root: Path, *, tls_enabled: bool) -> Iterator[PrivateMariaDB]:
    """A mariadbd from the role's rendered my.cnf and launcher, provisioned with its SQL."""
    tls = root / "tls"
    tls.mkdir()
    ca = pki.new_ca("lendstream test CA")
    # The server's certificate names its address only: a client that checks "localhost" fails.
    node = pki.issue_host_certificate(
        ca, pki.HostNames("mysql.lendstream.test", ("mysql.lendstream.test",), (HOST,))
    )
    _write(tls / "ca.crt", ca.cert_pem)
    _write(tls / "node.crt", node.cert_pem)
    _write(tls / "node.key", node.key_pem, 0o600)
    other_ca = _write(tls / "other-ca.crt", pki.new_ca("another deployment's CA").cert_pem)
    loader_password = "loader-" + os.urandom(12).hex()
    reader_password = "reader-" + os.urandom(12).hex()
    rendered = root / "conf"
    rendered.mkdir()
    port = free_port(HOST)
    role_variables: dict[str, Any] = {
        "mysql_port": port,
        "mysql_bind_address": HOST,
        "mysql_os_user": getpass.getuser(),
        "mysql_conf_dir": str(rendered),
        "mysql_bin_dir": str(rendered),
        "mysql_data_dir": str(root / "data"),
        "mysql_run_dir": str(root / "run"),
        "mysql_tmp_dir": str(root / "tmp"),
        "mysql_innodb_buffer_pool_size": "32M",
        "mysql_database": DATABASE,
        "mysql_schema_sql": "\n".join(schema_statements()),
        "mysql_admin_password": "admin-" + os.urandom(12).hex(),
        "mysql_loader_password": loader_password,
        "mysql_loader_hosts": [HOST],
        "mysql_readonly_password": reader_password,
        "mysql_readonly_require_ssl": tls_enabled,
        "mysql_tls_enabled": tls_enabled,
        "mysql_tls_cert_file": str(tls / "node.crt"),
        "mysql_tls_key_file": str(tls / "node.key"),
        "mysql_tls_ca_file": str(tls / "ca.crt"),
    }
    run_render_playbook(
        RENDER_PLAYBOOK, {"render_dir": str(rendered), **role_variables}, timeout_s=RENDER_TIMEOUT_S
    )
    for directory in ("data", "run", "tmp"):
        (root / directory).mkdir(mode=0o750)
    log = root / "mariadbd.log"
    with running([str(rendered / "mysql-server")], log) as server:
        wait_until(
            lambda: _as_socket_root(rendered, "SELECT 1").returncode == 0,
            START_TIMEOUT_S,
            "the private MariaDB answering on its socket",
            server,
            log,
        )
        applied = _as_socket_root(rendered, (rendered / "provision.sql").read_text())
        assert applied.returncode == 0, applied.stderr
        yield PrivateMariaDB(
            port=port,
            ca_file=tls / "ca.crt",
            other_ca_file=other_ca,
            loader_password=loader_password,
            reader_password=reader_password,
            rendered=rendered,
            role_variables=role_variables,
            ca=ca,
        )


@pytest.fixture(scope="module")
def tls_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """The cluster's settings with lendstream_tls: TLS on, REQUIRE SSL on both accounts."""
    with _private_mariadb(tmp_path_factory.mktemp("tls-mariadb"), tls_enabled=True) as server:
        yield server


@pytest.fixture(scope="module")
def plain_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """The cluster's default settings (CI): TLS off, no REQUIRE SSL."""
    with _private_mariadb(tmp_path_factory.mktemp("plain-mariadb"), tls_enabled=False) as server:
        yield server


def _connect(
    server: PrivateMariaDB, user: str, password: str, *, host: str = HOST, **tls: Any
) -> pymysql.Connection:
    return pymysql.connect(
        host=host,
        port=server.port,
        user=user,
        password=password,
        database=DATABASE,
        autocommit=True,
        connect_timeout=5,
        **tls,
    )


def _loader(server: PrivateMariaDB) -> pymysql.Connection:
    """The loader account as the loader connects: TLS verified against the deployment CA."""
    return _connect(
        server, LOADER_USER, server.loader_password, **tls_arguments(str(server.ca_file))
    )


def _reader(server: PrivateMariaDB) -> pymysql.Connection:
    """The API's account as the API connects: with TLS on, verified against the deployment CA."""
    ca_file = str(server.ca_file) if server.role_variables["mysql_tls_enabled"] else None
    return _connect(server, READER_USER, server.reader_password, **tls_arguments(ca_file))


def _tls_version(connection: pymysql.Connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        return str(cursor.fetchone()[1])


def _refused(connection: pymysql.Connection, sql: str) -> int:
    """The error code MariaDB answers ``sql`` with; fails the test if it runs."""
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql)
        except pymysql.MySQLError as error:
            return int(error.args[0])
    raise AssertionError(f"{sql!r} ran")


def test_the_loader_cli_loads_as_the_loader_account_over_verified_tls(
    tls_mariadb: PrivateMariaDB,
) -> None:
    environment = clean_environment(
        {
            "LENDSTREAM_MYSQL_HOST": HOST,
            "LENDSTREAM_MYSQL_PORT": str(tls_mariadb.port),
            "LENDSTREAM_MYSQL_LOADER_PASSWORD": tls_mariadb.loader_password,
        }
    )
    arguments = ("--user", LOADER_USER, "--load-only", "--ssl-ca", str(tls_mariadb.ca_file))
    load = ("--skip-real", "--synthetic", "40", "--seed", "5", "--malformed-rate", "0.1")
    first = run_loader(environment, *arguments, *load)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["synthetic"]["inserted"] == 40
    again = run_loader(environment, *arguments, *load)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["synthetic"]["inserted"] == 0
    assert summary["synthetic"]["already_present"] == 40
    with _reader(tls_mariadb) as reader, reader.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants WHERE member_id LIKE 'SYN-5-%'")
        assert cursor.fetchone()[0] >= 36  # the malformed tenth may lack a member_id


def test_the_loader_without_the_loader_account_fails_clearly(tls_mariadb: PrivateMariaDB) -> None:
    environment = clean_environment(
        {
            "LENDSTREAM_MYSQL_HOST": HOST,
            "LENDSTREAM_MYSQL_PORT": str(tls_mariadb.port),
            "LENDSTREAM_MYSQL_LOADER_PASSWORD": "not-the-password",
        }
    )
    result = run_loader(
        environment, "--user", LOADER_USER, "--load-only", "--ssl-ca", str(tls_mariadb.ca_file)
    )
    assert result.returncode == 2
    assert "Access denied" in result.stderr


def test_the_loader_account_has_exactly_insert_and_select_on_applicants(
    tls_mariadb: PrivateMariaDB,
) -> None:
    with _loader(tls_mariadb) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        grants = sorted(row[0] for row in cursor.fetchall())
    account = f"`{LOADER_USER}`@`{HOST}`"
    assert len(grants) == 2, grants
    assert grants[0].startswith(f"GRANT SELECT, INSERT ON `{DATABASE}`.`applicants` TO {account}")
    assert grants[1].startswith(f"GRANT USAGE ON *.* TO {account}")
    assert grants[1].endswith("REQUIRE SSL"), grants[1]


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE applicants",
        "CREATE TABLE intruder (id INT)",
        "CREATE DATABASE intruder",
        f"GRANT SELECT ON {DATABASE}.applicants TO '{READER_USER}'@'%'",
        "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'",
        "SELECT User, Host FROM mysql.user",
        "UPDATE applicants SET member_id = member_id",
        "DELETE FROM applicants",
        "ALTER TABLE applicants ADD COLUMN intruder INT",
    ],
)
def test_the_loader_account_can_do_nothing_else(tls_mariadb: PrivateMariaDB, sql: str) -> None:
    with _loader(tls_mariadb) as connection:
        assert _refused(connection, sql) in DENIED


def test_the_api_account_reads_and_cannot_write(tls_mariadb: PrivateMariaDB) -> None:
    with _reader(tls_mariadb) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) >= 0 FROM applicants")
            assert cursor.fetchone() == (1,)
        for sql in (
            "INSERT INTO applicants (record_digest) VALUES (REPEAT('0', 64))",
            "UPDATE applicants SET member_id = member_id",
            "DELETE FROM applicants",
            "DROP TABLE applicants",
            "SELECT User FROM mysql.user",
        ):
            assert _refused(connection, sql) in DENIED, sql


@pytest.mark.parametrize("account", ["loader", "api"])
def test_require_ssl_refuses_plain_tcp(tls_mariadb: PrivateMariaDB, account: str) -> None:
    user, password = {
        "loader": (LOADER_USER, tls_mariadb.loader_password),
        "api": (READER_USER, tls_mariadb.reader_password),
    }[account]
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _connect(tls_mariadb, user, password, ssl_disabled=True)
    assert refused.value.args[0] == 1045


@pytest.mark.parametrize("which", ["system CAs", "another deployment's CA"])
def test_a_verifying_client_without_the_deployment_ca_refuses_the_server(
    tls_mariadb: PrivateMariaDB, which: str
) -> None:
    tls: dict[str, Any] = {"ssl_verify_cert": True, "ssl_verify_identity": True}
    if which != "system CAs":
        tls["ssl_ca"] = str(tls_mariadb.other_ca_file)
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _connect(tls_mariadb, LOADER_USER, tls_mariadb.loader_password, **tls)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def test_a_client_checking_another_name_refuses_the_server(tls_mariadb: PrivateMariaDB) -> None:
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _connect(
            tls_mariadb,
            LOADER_USER,
            tls_mariadb.loader_password,
            host="localhost",
            **tls_arguments(str(tls_mariadb.ca_file)),
        )
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def test_the_loader_connection_is_encrypted_and_verified(tls_mariadb: PrivateMariaDB) -> None:
    with _loader(tls_mariadb) as connection:
        assert _tls_version(connection) in {"TLSv1.2", "TLSv1.3"}


def _api_repository(server: PrivateMariaDB, ca_file: Path) -> ApplicantRepository:
    """The applicant API's own repository, set up as the role's environment file sets it with
    lendstream_tls (LENDSTREAM_MYSQL_SSL_CA: the deployment CA)."""
    return ApplicantRepository(
        MySQLSettings.from_env(
            {
                "LENDSTREAM_MYSQL_HOST": HOST,
                "LENDSTREAM_MYSQL_PORT": str(server.port),
                "LENDSTREAM_MYSQL_DATABASE": DATABASE,
                "LENDSTREAM_MYSQL_USER": READER_USER,
                "LENDSTREAM_MYSQL_PASSWORD": server.reader_password,
                "LENDSTREAM_MYSQL_SSL_CA": str(ca_file),
            }
        )
    )


def test_the_api_reads_over_tls_verified_against_the_deployment_ca(
    tls_mariadb: PrivateMariaDB,
) -> None:
    repository = _api_repository(tls_mariadb, tls_mariadb.ca_file)
    repository.ping()
    assert isinstance(repository.page(after=0, limit=5), list)
    rows = repository._query("SHOW SESSION STATUS LIKE 'Ssl_version'", ())
    assert rows[0]["Value"] in {"TLSv1.2", "TLSv1.3"}


def test_the_api_refuses_a_server_another_ca_signed(tls_mariadb: PrivateMariaDB) -> None:
    """With the CA set, a server the deployment CA did not sign (a stand-in on the network) is
    refused before the API sends its password: the API answers 503, never the stand-in's rows."""
    repository = _api_repository(tls_mariadb, tls_mariadb.other_ca_file)
    with pytest.raises(DatabaseUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        repository.ping()


def test_the_role_health_gate_command_verifies_the_server(tls_mariadb: PrivateMariaDB) -> None:
    """The mariadb client call of the role's health gate (tasks/main.yml), with TLS."""

    def gate(ca_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                f"--host={HOST}",
                f"--port={tls_mariadb.port}",
                f"--user={LOADER_USER}",
                "--batch",
                "--skip-column-names",
                "--ssl",
                f"--ssl-ca={ca_file}",
                "--ssl-verify-server-cert",
                "--execute=SELECT COUNT(*) >= 0 FROM `applicants`",
                DATABASE,
            ],
            env=clean_environment({"MYSQL_PWD": tls_mariadb.loader_password}),
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT_S,
            check=False,
        )

    passed = gate(tls_mariadb.ca_file)
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip() == "1"
    assert gate(tls_mariadb.other_ca_file).returncode != 0


def test_provisioning_again_changes_no_grant(tls_mariadb: PrivateMariaDB) -> None:
    """The SQL is idempotent: a rerun leaves the grants as they were."""
    query = "SELECT User, Host, ssl_type FROM mysql.user ORDER BY User, Host"
    before = _as_socket_root(tls_mariadb.rendered, query)
    again = _as_socket_root(
        tls_mariadb.rendered, (tls_mariadb.rendered / "provision.sql").read_text()
    )
    assert again.returncode == 0, again.stderr
    after = _as_socket_root(tls_mariadb.rendered, query)
    assert before.stdout == after.stdout
    assert f"{LOADER_USER}\t{HOST}\tANY" in after.stdout


@pytest.mark.parametrize("lendstream_tls", [True, False], ids=["tls", "plain (CI default)"])
def test_the_load_applicants_playbook_loads_as_the_loader_account(
    request: pytest.FixtureRequest, tmp_path: Path, lendstream_tls: bool
) -> None:
    """ansible/playbooks/load-applicants.yml as CI runs it, on this machine as the mysql host:
    the loader account's password file the role keeps; with lendstream_tls, TLS verified
    against the CA."""
    server: PrivateMariaDB = request.getfixturevalue(
        "tls_mariadb" if lendstream_tls else "plain_mariadb"
    )
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    _write(conf_dir / "loader-password", server.loader_password + "\n", 0o600)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "m3": {
                            "ansible_connection": "local",
                            "ansible_host": HOST,
                            "ansible_python_interpreter": sys.executable,
                            "ansible_become": False,
                        }
                    },
                    "children": {"mysql": {"hosts": {"m3": None}}},
                    "vars": {"lendstream_tls": lendstream_tls},
                }
            }
        )
    )
    extra_vars = {
        "load_applicants_venv_dir": str(Path(sys.executable).parent.parent),
        "load_applicants_mysql_conf_dir": str(conf_dir),
        **({"load_applicants_mysql_ssl_ca": str(server.ca_file)} if lendstream_tls else {}),
        "load_applicants_real": False,
        "load_applicants_synthetic": 30,
        "load_applicants_seed": 6,
    }
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            *("-i", str(inventory)),
            *("-e", json.dumps(extra_vars)),
            str(ANSIBLE_DIR / "playbooks" / "load-applicants.yml"),
        ],
        cwd=ANSIBLE_DIR,
        env=clean_environment(
            {
                "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
                "NO_COLOR": "1",
                # The playbook gives no port (the cluster's is 3306): the loader reads this one.
                "LENDSTREAM_MYSQL_PORT": str(server.port),
            }
        ),
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert '"inserted": 30' in result.stdout, result.stdout[-4000:]
    with _reader(server) as reader, reader.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants WHERE member_id LIKE 'SYN-6-%'")
        assert cursor.fetchone()[0] == 30


def test_the_role_provisioning_drops_accounts_at_unlisted_hosts_and_reruns_idle(
    tls_mariadb: PrivateMariaDB,
) -> None:
    """tasks/provision.yml itself: an administrator's TCP account of an earlier deployment (when
    the loader ran as it) is dropped; a second run applies nothing (the digest is unchanged)."""
    earlier = "CREATE USER 'lendstream_admin'@'127.0.0.1' IDENTIFIED BY 'old';"
    earlier += "GRANT ALL PRIVILEGES ON *.* TO 'lendstream_admin'@'127.0.0.1' WITH GRANT OPTION;"
    assert _as_socket_root(tls_mariadb.rendered, earlier).returncode == 0
    accounts = "SELECT User, Host FROM mysql.user WHERE User LIKE 'lendstream%' ORDER BY User, Host"
    run_render_playbook(PROVISION_PLAYBOOK, tls_mariadb.role_variables, timeout_s=RENDER_TIMEOUT_S)
    digest = tls_mariadb.rendered / "provision.sha256"
    applied_at = digest.stat().st_mtime_ns
    listed = _as_socket_root(tls_mariadb.rendered, accounts).stdout.splitlines()
    assert listed == [
        "lendstream_admin\tlocalhost",
        "lendstream_api\t%",
        "lendstream_api\tlocalhost",
        f"lendstream_loader\t{HOST}",
    ]
    run_render_playbook(PROVISION_PLAYBOOK, tls_mariadb.role_variables, timeout_s=RENDER_TIMEOUT_S)
    assert digest.stat().st_mtime_ns == applied_at
    assert _as_socket_root(tls_mariadb.rendered, accounts).stdout.splitlines() == listed
    with _loader(tls_mariadb) as connection:
        assert _tls_version(connection) in {"TLSv1.2", "TLSv1.3"}


def test_without_tls_the_accounts_have_the_same_grants_and_no_require(
    plain_mariadb: PrivateMariaDB,
) -> None:
    with _connect(plain_mariadb, LOADER_USER, plain_mariadb.loader_password) as connection:
        assert _tls_version(connection) == ""  # the server serves no TLS
        with connection.cursor() as cursor:
            cursor.execute("SHOW GRANTS")
            grants = sorted(row[0] for row in cursor.fetchall())
        assert _refused(connection, "DROP TABLE applicants") in DENIED
    account = f"`{LOADER_USER}`@`{HOST}`"
    assert grants[0] == f"GRANT SELECT, INSERT ON `{DATABASE}`.`applicants` TO {account}"
    assert grants[1].startswith(f"GRANT USAGE ON *.* TO {account}")
    assert "REQUIRE" not in grants[1]


def test_the_attack_suites_mysql_attack_is_denied_by_require_ssl_and_logs_in_without_it(
    tls_mariadb: PrivateMariaDB, plain_mariadb: PrivateMariaDB
) -> None:
    # lendstream.attacks runs this from a cluster member with the API's own password.
    for server, expected in (
        (tls_mariadb, clients.Outcome.DENIED),
        (plain_mariadb, clients.Outcome.SUCCEEDED),
    ):
        params = {"user": READER_USER, "password": server.reader_password}
        outcome, detail = clients.mysql_connect([HOST], server.port, params)
        assert outcome == expected, detail


def _signs_in(server: PrivateMariaDB, user: str, password: str) -> bool:
    """Whether ``user`` gets in with ``password`` over verified TLS (False: access denied,
    1045; any other failure is raised)."""
    try:
        _connect(server, user, password, **tls_arguments(str(server.ca_file))).close()
    except pymysql.OperationalError as error:
        if error.args[0] != 1045:
            raise
        return False
    return True


def test_a_password_rotation_accepts_both_passwords_until_the_clients_read_the_new_one(
    tls_mariadb: PrivateMariaDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """playbooks/rotate-mysql-passwords.yml's steps with the role's own provisioning: each account
    accepts its new password beside its old one; the API's repository and the loader, reading
    their password files at each new connection, switch with no restart; then the old passwords
    open nothing, while connections made with them stay signed in."""
    server = tls_mariadb
    old = {LOADER_USER: server.loader_password, READER_USER: server.reader_password}
    new = {user: f"new-{user}-" + os.urandom(12).hex() for user in old}
    api_file = _write(tmp_path / "mysql-password", old[READER_USER] + "\n", 0o600)
    loader_file = _write(tmp_path / "loader-password", old[LOADER_USER] + "\n", 0o600)
    monkeypatch.setenv("LENDSTREAM_MYSQL_LOADER_PASSWORD_FILE", str(loader_file))
    loader_env = {"LENDSTREAM_MYSQL_LOADER_PASSWORD_FILE": str(loader_file)}
    loader = AdminConnection(
        HOST,
        server.port,
        LOADER_USER,
        account_password(loader_env),
        str(server.ca_file),
        account_password_file_variable(loader_env),
    )
    repository = ApplicantRepository(
        MySQLSettings.from_env(
            {
                "LENDSTREAM_MYSQL_HOST": HOST,
                "LENDSTREAM_MYSQL_PORT": str(server.port),
                "LENDSTREAM_MYSQL_USER": READER_USER,
                "LENDSTREAM_MYSQL_PASSWORD_FILE": str(api_file),
                "LENDSTREAM_MYSQL_SSL_CA": str(server.ca_file),
            }
        )
    )
    repository.ping()  # a connection made with the old password, kept by its thread
    provision = {
        **server.role_variables,
        "mysql_loader_password": new[LOADER_USER],
        "mysql_readonly_password": new[READER_USER],
    }
    try:
        run_render_playbook(
            PROVISION_PLAYBOOK,
            {
                **provision,
                "mysql_loader_previous_password": old[LOADER_USER],
                "mysql_readonly_previous_password": old[READER_USER],
            },
            timeout_s=RENDER_TIMEOUT_S,
        )
        for user, password in old.items():
            assert _signs_in(server, user, password), user
            assert _signs_in(server, user, new[user]), user
        # The clients' files get the new passwords: no restart, the next connection reads them.
        api_file.write_text(new[READER_USER] + "\n")
        loader_file.write_text(new[LOADER_USER] + "\n")

        run_render_playbook(PROVISION_PLAYBOOK, provision, timeout_s=RENDER_TIMEOUT_S)
        for user, password in old.items():
            assert not _signs_in(server, user, password), user
            assert _signs_in(server, user, new[user]), user
        repository.ping()  # the old connection is still signed in
        repository._drop_connection()  # as after a failure: the next query connects anew
        repository.ping()
        with connect_admin(loader, DATABASE) as connection:
            assert _tls_version(connection) in {"TLSv1.2", "TLSv1.3"}
        grants = _as_socket_root(server.rendered, f"SHOW CREATE USER '{READER_USER}'@'%'")
        assert " OR " not in grants.stdout  # one password again, not a chain
    finally:
        # The module's other tests use the fixture's passwords.
        run_render_playbook(PROVISION_PLAYBOOK, server.role_variables, timeout_s=RENDER_TIMEOUT_S)


def _served_serial(connection: pymysql.Connection) -> int:
    """The serial number of the certificate the server presented to this connection."""
    # pymysql exposes its TLS socket only as this attribute.
    der = connection._sock.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def test_a_renewed_certificate_is_served_after_flush_ssl_without_a_restart(
    tls_mariadb: PrivateMariaDB,
) -> None:
    """tasks/tls.yml, as the certificate rotation runs it: the new certificate (same CA and
    names) is served to new connections; a connection opened before stays signed in."""
    before = _loader(tls_mariadb)
    old_serial = _served_serial(before)
    variables = {**tls_mariadb.role_variables, "mysql_manage_service": True}
    run_render_playbook(TLS_PLAYBOOK, variables, timeout_s=PLAYBOOK_TIMEOUT_S)
    marker = tls_mariadb.rendered / "tls-certificate.sha256"
    noted = marker.read_text()
    assert _served_serial(_loader(tls_mariadb)) == old_serial  # nothing renewed, nothing changed

    tls = Path(variables["mysql_tls_cert_file"]).parent
    renewed = pki.issue_host_certificate(
        tls_mariadb.ca,
        pki.HostNames("mysql.lendstream.test", ("mysql.lendstream.test",), (HOST,)),
    )
    _write(tls / "node.key", renewed.key_pem, 0o600)
    _write(tls / "node.crt", renewed.cert_pem)
    assert _served_serial(_loader(tls_mariadb)) == old_serial  # MariaDB keeps what it loaded
    run_render_playbook(TLS_PLAYBOOK, variables, timeout_s=PLAYBOOK_TIMEOUT_S)

    assert marker.read_text() != noted
    after = _loader(tls_mariadb)
    assert _served_serial(after) == pki.load_certificate(renewed.cert_pem).serial_number
    with before.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM applicants")
        assert cursor.fetchone() is not None
