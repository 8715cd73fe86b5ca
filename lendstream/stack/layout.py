"""Where the single-machine stack keeps its state, and the ports it listens on."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, fields
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackPorts:
    mysql: int = 3307
    zookeeper: int = 2181
    kafka: int = 9092
    kafka_controller: int = 9093
    hbase_master: int = 16000
    hbase_master_info: int = 16010
    hbase_regionserver: int = 16020
    hbase_regionserver_info: int = 16030
    hbase_thrift: int = 9090
    hbase_thrift_info: int = 9095
    storm_nimbus: int = 6627
    storm_supervisor_thrift: int = 6628
    storm_ui: int = 8080
    applicant_api: int = 8081
    risk_service: int = 8090
    storm_supervisor_slots: tuple[int, ...] = (6700, 6701)

    def shifted(self, offset: int) -> StackPorts:
        """Every port moved by `offset`."""
        if not offset:
            return self
        singles = {
            f.name: getattr(self, f.name) + offset
            for f in fields(self)
            if f.name != "storm_supervisor_slots"
        }
        slots = tuple(port + offset for port in self.storm_supervisor_slots)
        return StackPorts(**singles, storm_supervisor_slots=slots)


@dataclass(frozen=True)
class StackLayout:
    """Paths of one checkout's stack: everything under `<checkout>/.cache/stack/`."""

    root: Path
    ports: StackPorts = StackPorts()
    host: str = "127.0.0.1"

    @classmethod
    def default(cls) -> StackLayout:
        """This checkout's stack; `LENDSTREAM_STACK_DIR` and `LENDSTREAM_STACK_PORT_OFFSET` move
        it (e.g. a second stack beside the usual one: another directory, every port + offset)."""
        root = os.environ.get("LENDSTREAM_STACK_DIR") or CHECKOUT_ROOT / ".cache" / "stack"
        offset = int(os.environ.get("LENDSTREAM_STACK_PORT_OFFSET") or 0)
        return cls(root=Path(root), ports=StackPorts().shifted(offset))

    @property
    def ansible_dir(self) -> Path:
        return CHECKOUT_ROOT / "ansible"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def pipeline_metrics(self) -> Path:
        """The topology's metrics files (lendstream.pipeline.textfile_metrics), as a node
        exporter's textfile directory holds them on a cluster."""
        return self.root / "pipeline-metrics"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def supervisord_socket(self) -> Path:
        return self.root / "supervisord.sock"

    @property
    def supervisord_pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def render_vars(self) -> Path:
        return self.root / "render-vars.json"

    def listening_ports(self, component: str) -> tuple[int, ...]:
        """The TCP ports a component's daemons listen on (checked free before they start)."""
        ports = self.ports
        return {
            "mysql": (ports.mysql,),
            "zookeeper": (ports.zookeeper,),
            "kafka": (ports.kafka, ports.kafka_controller),
            "hbase": (
                ports.hbase_master,
                ports.hbase_master_info,
                ports.hbase_regionserver,
                ports.hbase_regionserver_info,
                ports.hbase_thrift,
                ports.hbase_thrift_info,
            ),
            "storm": (ports.storm_nimbus, ports.storm_supervisor_thrift, ports.storm_ui),
            "applicant-api": (ports.applicant_api,),
            "risk-service": (ports.risk_service,),
        }.get(component, ())

    def component_dir(self, component: str) -> Path:
        return self.root / component

    def launcher(self, component: str, program: str) -> Path:
        return self.component_dir(component) / "bin" / program

    def program_log(self, program: str) -> Path:
        return self.logs / f"{program}.log"

    @property
    def mysql_conf(self) -> Path:
        return self.component_dir("mysql") / "conf" / "my.cnf"

    @property
    def os_user(self) -> str:
        return getpass.getuser()
