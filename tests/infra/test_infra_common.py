"""Every node: the JRE, the service users, limits and /etc/hosts from the common role."""

from __future__ import annotations

from typing import Any

from infra_cluster import groups, variables
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = ["ansible://all"]

SERVICE_USERS = {
    "zookeeper": "zookeeper",
    "hdfs": "hadoop",
    "yarn": "hadoop",
    "hbase": "hbase",
    "kafka": "kafka",
    "storm": "storm",
}


def test_java_17_runs(host: Any) -> None:
    result = host.run("java -version")
    assert result.rc == 0, result.stderr
    assert 'version "17' in result.stderr


def test_service_users_exist_without_a_login_shell(host: Any) -> None:
    for name, group in SERVICE_USERS.items():
        user = host.user(name)
        assert user.exists, name
        assert user.group == group, name
        assert user.shell == "/usr/sbin/nologin", name


def test_service_users_have_raised_session_limits(host: Any) -> None:
    limits = host.file("/etc/security/limits.d/90-lendstream.conf")
    assert limits.exists
    assert "hdfs\t-\tnofile\t65536" in limits.content_string


def test_every_cluster_host_resolves_to_its_address(host: Any, inventory: AnsibleRunner) -> None:
    for name in groups(host)["all"]:
        expected = str(inventory.get_variables(name)["ansible_host"])
        resolved = host.run(f"getent ahostsv4 {name}").stdout.split()
        assert resolved, f"{name} does not resolve"
        assert resolved[0] == expected, (name, resolved, expected)


def test_own_name_resolves_to_the_cluster_address_not_loopback(host: Any) -> None:
    own = variables(host)["inventory_hostname"]
    resolved = host.run(f"getent ahostsv4 {own}").stdout.split()
    assert resolved, f"{own} does not resolve"
    assert not resolved[0].startswith("127."), resolved
