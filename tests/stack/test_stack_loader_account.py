"""The single-machine stack loads applicants as its own loader account, not as its admin: the
account `ensure_applicant_schema` makes may INSERT and SELECT on the applicants table only."""

from __future__ import annotations

import pymysql
import pytest

from lendstream.stack import services
from lendstream.stack.layout import StackLayout
from lendstream.stack.runtime import StackEndpoints

pytestmark = pytest.mark.mysql


def test_the_stack_loader_account_may_insert_and_select_only(stack_mysql: StackEndpoints) -> None:
    layout = StackLayout.default()
    services.ensure_applicant_schema(layout)
    connection = services.loader_connection(layout)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER()")
            assert cursor.fetchone()[0] == f"{services.LOADER_USER}@127.0.0.1"
            cursor.execute("SHOW GRANTS")
            grants = sorted(row[0] for row in cursor.fetchall())
            cursor.execute("SELECT COUNT(*) >= 0 FROM applicants")
            assert cursor.fetchone() == (1,)
            for sql in ("DROP TABLE applicants", "DELETE FROM applicants", "CREATE DATABASE x"):
                with pytest.raises(pymysql.MySQLError) as refused:
                    cursor.execute(sql)
                assert "denied" in str(refused.value), sql
    finally:
        connection.close()
    account = f"`{services.LOADER_USER}`@`127.0.0.1`"
    assert len(grants) == 2, grants
    assert grants[0] == f"GRANT SELECT, INSERT ON `{services.DATABASE}`.`applicants` TO {account}"
    assert grants[1].startswith(f"GRANT USAGE ON *.* TO {account}")
