"""The mysql role's my.cnf and provisioning SQL, rendered offline (tests/services/render-mysql.yml)
with TLS off (the default), on, and on with REQUIRE SSL for the read-only account too."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_playbook import REPOSITORY_ROOT, run_render_playbook

RENDER_PLAYBOOK = REPOSITORY_ROOT / "tests" / "services" / "render-mysql.yml"
RENDER_TIMEOUT_S = 120.0
SECRETS = {
    "mysql_admin_password": "admin-secret",
    "mysql_loader_password": "loader-secret",
    "mysql_readonly_password": "reader-secret",
}
SETTINGS = {
    "off": {},
    "tls": {"mysql_tls_enabled": True},
    "tls and reader": {"mysql_tls_enabled": True, "mysql_readonly_require_ssl": True},
}


@pytest.fixture(scope="module", params=list(SETTINGS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mysql-render")
    variables = {"render_dir": str(root), "mysql_conf_dir": str(root), **SECRETS}
    run_render_playbook(
        RENDER_PLAYBOOK, {**variables, **SETTINGS[request.param]}, timeout_s=RENDER_TIMEOUT_S
    )
    return root


def _setting(rendered: Path) -> dict[str, bool]:
    sql = (rendered / "provision.sql").read_text()
    loader = "'lendstream_loader'@'127.0.0.1' IDENTIFIED BY 'loader-secret' REQUIRE SSL;" in sql
    reader = "'lendstream_api'@'%' IDENTIFIED BY 'reader-secret' REQUIRE SSL;" in sql
    return {"loader": loader, "reader": reader}


def test_my_cnf_serves_tls_only_when_on(rendered: Path) -> None:
    my_cnf = (rendered / "my.cnf").read_text()
    tls_lines = {
        "ssl_cert = /etc/lendstream/tls/node.crt",
        "ssl_key = /etc/lendstream/tls/node.key",
        "ssl_ca = /etc/lendstream/tls/ca.crt",
        "tls_version = TLSv1.2,TLSv1.3",
    }
    present = tls_lines & set(my_cnf.splitlines())
    assert present in (set(), tls_lines)
    assert bool(present) == _setting(rendered)["loader"]
    assert "secret" not in my_cnf


def test_each_account_gets_exactly_its_grants(rendered: Path) -> None:
    grants = [
        line for line in (rendered / "provision.sql").read_text().splitlines() if "GRANT " in line
    ]
    assert grants == [
        "GRANT ALL PRIVILEGES ON *.* TO 'lendstream_admin'@'localhost' WITH GRANT OPTION;",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'lendstream_loader'@'127.0.0.1';",
        "GRANT SELECT, INSERT ON `lendstream`.`applicants` TO 'lendstream_loader'@'127.0.0.1';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'lendstream_api'@'%';",
        "GRANT SELECT ON `lendstream`.`applicants` TO 'lendstream_api'@'%';",
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'lendstream_api'@'localhost';",
        "GRANT SELECT ON `lendstream`.`applicants` TO 'lendstream_api'@'localhost';",
    ]


def test_require_follows_the_switches(rendered: Path, request: pytest.FixtureRequest) -> None:
    setting = request.node.callspec.params["rendered"]
    assert _setting(rendered) == {
        "loader": setting != "off",
        "reader": setting == "tls and reader",
    }
    sql = (rendered / "provision.sql").read_text()
    if setting == "off":
        assert "REQUIRE SSL" not in sql
        assert sql.count("REQUIRE NONE") == 3  # the loader's account and the reader's two
