"""The daemon catalogue (lendstream.stack.artifacts.catalogue) and the roles' launchers (what
systemd on the cluster and supervisord in the single-machine stack run) start each JVM daemon
the same way: the same main class, configuration files and log configuration. The bundle checks
start daemons from the catalogue, so a launcher that drifts from it fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import yaml

from lendstream.stack.artifacts.catalogue import BUNDLES, Daemon
from lendstream.stack.layout import CHECKOUT_ROOT

ROLES = CHECKOUT_ROOT / "ansible" / "roles"
LOG_CONFIG_PROPERTIES = (
    "-Dlog4j2.configurationFile",
    "-Dlog4j.configurationFile",
    "-Dlog4j.configuration",
    "-Dlogback.configurationFile",
)
# Java class names written in launcher sources, not as a -D property name.
CLASS_NAME = re.compile(r"(?<![-\w.])((?:org\.apache|kafka)\.(?:[a-z0-9_]+\.)*[A-Z]\w*)")


@dataclass(frozen=True)
class Launcher:
    """Where a role starts a bundle's daemons: its launcher template, and the file listing the
    main classes when the template takes them as a parameter."""

    role: str
    template: str
    classes_from: str | None = None

    def template_text(self) -> str:
        return (ROLES / self.role / "templates" / "bin" / self.template).read_text()

    def started_classes(self) -> set[str]:
        """The main classes this launcher starts: written in its template, or listed per daemon
        in `classes_from` (a vars file's `__<role>_daemon_classes`, or a task's loop items)."""
        found = set(CLASS_NAME.findall(self.template_text()))
        if self.classes_from is None:
            return found
        listing = (ROLES / self.role / self.classes_from).read_text()
        if self.classes_from.startswith("vars/"):
            return found | set(yaml.safe_load(listing)[f"__{self.role}_daemon_classes"].values())
        return found | set(re.findall(r"main_class: ([\w.]+)", listing))


LAUNCHERS = {
    ("zookeeper", "server"): Launcher("zookeeper", "zookeeper-server.j2"),
    ("kafka", "server"): Launcher("kafka", "kafka-server.j2"),
    **{
        ("hbase", name): Launcher("hbase", "hbase-daemon.j2", "tasks/configure.yml")
        for name in ("master", "regionserver", "thrift")
    },
    **{
        ("storm", name): Launcher("storm", "storm-daemon.j2", "tasks/configure.yml")
        for name in ("nimbus", "supervisor")
    },
    **{
        ("hadoop", name): Launcher("hdfs", "hdfs-daemon.j2", "vars/main.yml")
        for name in ("namenode", "datanode", "secondarynamenode", "journalnode", "zkfc")
    },
    **{
        ("hadoop", name): Launcher("yarn", "yarn-daemon.j2", "vars/main.yml")
        for name in ("resourcemanager", "nodemanager")
    },
}
# Catalogued for the bundle checks, started by no role (the cluster runs no job history server).
NOT_DEPLOYED = {("hadoop", "jobhistory")}


def catalogued_daemons() -> dict[tuple[str, str], Daemon]:
    return {
        (bundle.name, name): daemon
        for bundle in BUNDLES.values()
        for name, daemon in bundle.daemons.items()
    }


def log_configuration(daemon: Daemon) -> tuple[str, str]:
    """The catalogued log configuration: (-D property, file name)."""
    for option in daemon.jvm_options:
        name, _, value = option.partition("=")
        if name in LOG_CONFIG_PROPERTIES:
            return name, value.rsplit("/", 1)[-1]
    raise AssertionError(f"no log configuration in {daemon.jvm_options}")


def test_every_catalogued_daemon_has_a_launcher_and_every_launcher_a_daemon() -> None:
    assert set(catalogued_daemons()) - NOT_DEPLOYED == set(LAUNCHERS)


@pytest.mark.parametrize("key", sorted(LAUNCHERS), ids="-".join)
def test_the_launcher_starts_the_catalogued_main_class_and_configuration(
    key: tuple[str, str],
) -> None:
    daemon, launcher = catalogued_daemons()[key], LAUNCHERS[key]
    assert daemon.main_class in launcher.started_classes(), (
        f"{launcher.role} does not start {key[1]} with {daemon.main_class}"
    )
    template = launcher.template_text()
    prop, file_name = log_configuration(daemon)
    assert re.search(rf"{re.escape(prop)}=[^\n]*/{re.escape(file_name)}\b", template), (
        f"{launcher.template} does not read {prop}=…/{file_name}"
    )
    for argument in daemon.args:
        if argument.startswith("{conf_dir}/"):
            assert argument.removeprefix("{conf_dir}/") in template


@pytest.mark.parametrize("role", sorted({launcher.role for launcher in LAUNCHERS.values()}))
def test_every_class_a_launcher_starts_is_catalogued(role: str) -> None:
    catalogued = {
        daemon.main_class
        for bundle in BUNDLES.values()
        for daemon in (*bundle.daemons.values(), *bundle.tools.values())
    }
    launchers = {launcher for launcher in LAUNCHERS.values() if launcher.role == role}
    started = {name for launcher in launchers for name in launcher.started_classes()}
    assert started, f"no main class found in {role}'s launchers"
    assert started <= catalogued, f"{role} starts classes the catalogue lacks"


def test_the_class_listings_are_what_the_launchers_read() -> None:
    """The listings the parametrised templates take their class from hold one class per
    daemon name (so the search above reads the right file)."""
    hdfs = yaml.safe_load((ROLES / "hdfs" / "vars" / "main.yml").read_text())
    yarn = yaml.safe_load((ROLES / "yarn" / "vars" / "main.yml").read_text())
    expected = {**hdfs["__hdfs_daemon_classes"], **yarn["__yarn_daemon_classes"]}
    hadoop = BUNDLES["hadoop"].daemons
    assert {name: hadoop[name].main_class for name in expected} == expected
