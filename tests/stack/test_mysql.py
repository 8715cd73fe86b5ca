"""The private MariaDB of the single-machine stack."""

from __future__ import annotations

import stat
import uuid

import pymysql
import pytest

from lendstream.stack.layout import StackLayout
from lendstream.stack.runtime import StackEndpoints

pytestmark = pytest.mark.mysql


def _connect(endpoints: StackEndpoints, **extra: object) -> pymysql.Connection:
    return pymysql.connect(
        host=endpoints.mysql_host,
        port=endpoints.mysql_port,
        user=endpoints.mysql_admin_user,
        password=endpoints.mysql_admin_password,
        connect_timeout=5,
        **extra,  # type: ignore[arg-type]
    )


def test_admin_answers_select_one(stack_mysql: StackEndpoints) -> None:
    with _connect(stack_mysql) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_it_is_the_private_instance_not_the_system_one(stack_mysql: StackEndpoints) -> None:
    layout = StackLayout.default()
    with _connect(stack_mysql) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@datadir, @@port")
        datadir, port = cursor.fetchone()
    assert datadir.rstrip("/") == str(layout.component_dir("mysql") / "data")
    assert port == stack_mysql.mysql_port


def test_admin_can_create_a_schema_and_grant_a_user(stack_mysql: StackEndpoints) -> None:
    schema = f"stacktest_{uuid.uuid4().hex[:8]}"
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    with _connect(stack_mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {schema}")
        try:
            cursor.execute(f"CREATE TABLE {schema}.t (id INT PRIMARY KEY)")
            cursor.execute(f"INSERT INTO {schema}.t VALUES (1), (2)")
            cursor.execute(f"CREATE USER '{reader}'@'127.0.0.1' IDENTIFIED BY 'pw-{reader}'")
            cursor.execute(f"GRANT SELECT ON {schema}.* TO '{reader}'@'127.0.0.1'")
            reader_connection = pymysql.connect(
                host=stack_mysql.mysql_host,
                port=stack_mysql.mysql_port,
                user=reader,
                password=f"pw-{reader}",
                database=schema,
            )
            with reader_connection, reader_connection.cursor() as reader_cursor:
                reader_cursor.execute("SELECT COUNT(*) FROM t")
                assert reader_cursor.fetchone() == (2,)
                with pytest.raises(pymysql.err.OperationalError):
                    reader_cursor.execute("INSERT INTO t VALUES (3)")
        finally:
            cursor.execute(f"DROP USER IF EXISTS '{reader}'@'127.0.0.1'")
            cursor.execute(f"DROP DATABASE {schema}")


def test_admin_secret_is_private_to_its_owner(stack_mysql: StackEndpoints) -> None:
    secret = StackLayout.default().secrets / "mysql-admin.json"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700


def test_rendered_my_cnf_carries_the_ansible_managed_header(stack_mysql: StackEndpoints) -> None:
    rendered = StackLayout.default().mysql_conf.read_text()
    assert "Ansible managed" in rendered.splitlines()[1]
    assert f"port = {stack_mysql.mysql_port}" in rendered
