"""Build the topology jar without Leiningen, and submit it to nimbus with ``sparse submit -j``.

streamparse 5.0.1 builds its jar with ``lein jar`` (Clojars is unreachable here, and the jar
holds no JVM code anyway): the jar only has to carry ``resources/`` — a copy of the project's
``src/`` — which Storm unpacks next to the worker and ``streamparse_run`` imports from. This
module writes that jar with :mod:`zipfile` and hands it to ``sparse submit -j``, which then
talks Thrift to nimbus (:6627) exactly as it would with a lein-built jar.

``sparse`` reads one ``config.json``; the checked-in ``topology/config.json`` describes the
environments, and :func:`render_config` writes a copy whose environment points at the Python
the workers must run (this checkout's venv locally, the Ansible-built venv on a cluster) and
carries the ``lendstream.*`` topology settings. See docs/topology.md.

Usage: ``python -m lendstream.stack.topology_jar build|deploy|kill|status``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from streamparse.thrift import KillOptions
from streamparse.util import get_nimbus_client

from lendstream.pipeline.topology_conf import TopologyConf
from lendstream.stack.layout import CHECKOUT_ROOT, StackLayout

PROJECT_DIR = CHECKOUT_ROOT / "topology"
BUILD_DIR = CHECKOUT_ROOT / ".cache" / "topology"
TOPOLOGY_NAME = "lendstream"  # the name on nimbus
# topologies/<DEFINITION>.py; not "lendstream.py": sparse puts topologies/ on sys.path, where a
# module of that name would shadow the lendstream package the bolts import.
DEFINITION = "loan_risk"
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)  # fixed entry times: the same sources give the same jar
SUBMIT_TIMEOUT_S = 180.0


def build_jar(jar_path: Path = BUILD_DIR / "lendstream-topology.jar") -> Path:
    """Write a jar of ``resources/<src files>`` (and a manifest); returns its path."""
    source = PROJECT_DIR / "src"
    files = sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    jar_path.parent.mkdir(parents=True, exist_ok=True)
    partial = jar_path.with_suffix(".jar.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as jar:
        manifest = zipfile.ZipInfo("META-INF/MANIFEST.MF", ZIP_EPOCH)
        jar.writestr(manifest, "Manifest-Version: 1.0\r\nCreated-By: lendstream\r\n\r\n")
        for path in files:
            entry = zipfile.ZipInfo(f"resources/{path.relative_to(source).as_posix()}", ZIP_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            jar.writestr(entry, path.read_bytes())
    partial.replace(jar_path)
    return jar_path


def venv_root_and_name(prefix: str = sys.prefix) -> tuple[str, str]:
    """streamparse runs ``<virtualenv_root>/<virtualenv_name>/bin/streamparse_run``."""
    path = Path(prefix).resolve()
    return str(path.parent), path.name


def render_config(
    environment: str,
    settings: TopologyConf,
    nimbus: str | None = None,
    venv_prefix: str | None = None,
    extra_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checked-in config.json with one environment completed for this submission."""
    config = json.loads((PROJECT_DIR / "config.json").read_text())
    env = config["envs"][environment]
    if nimbus is not None:
        env["nimbus"] = nimbus
    if venv_prefix is not None:
        env["virtualenv_root"], env["virtualenv_name"] = venv_root_and_name(venv_prefix)
    env["options"] = {
        **env.get("options", {}),
        **settings.as_storm_options(),
        **(extra_options or {}),
    }
    config["envs"] = {environment: env}
    return config


def submit(
    config: dict[str, Any],
    jar: Path,
    name: str = TOPOLOGY_NAME,
    force: bool = True,
    timeout_s: float = SUBMIT_TIMEOUT_S,
) -> str:
    """Run ``sparse submit -j <jar>`` with the rendered config; returns its output."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    config_path = BUILD_DIR / f"config.{name}.json"
    config_path.write_text(json.dumps(config, indent=2))
    environment = next(iter(config["envs"]))
    command = [
        str(Path(sys.prefix) / "bin" / "sparse"),
        "submit",
        "--config",
        str(config_path),
        "-e",
        environment,
        "-n",
        DEFINITION,
        "-N",
        name,
        "-j",
        str(jar),
        "--wait",
        "1",
    ]
    if force:
        command.append("--force")
    # streamparse refuses to run as root unless LEIN_ROOT is set (a lein habit; no lein runs).
    environ = {**os.environ, "LEIN_ROOT": "1"}
    result = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"sparse submit failed ({result.returncode}):\n{output[-4000:]}")
    return output


def nimbus_client(nimbus: str, timeout_ms: int = 20_000) -> Any:
    host, port = nimbus.rsplit(":", 1)
    return get_nimbus_client(host=host, port=int(port), timeout=timeout_ms)


def running_topologies(nimbus: str) -> dict[str, str]:
    """Name → status of the topologies nimbus knows."""
    summary = nimbus_client(nimbus).getClusterInfo()
    return {topology.name: topology.status for topology in summary.topologies or []}


def kill(nimbus: str, name: str = TOPOLOGY_NAME, wait_s: int = 1, timeout_s: float = 60.0) -> bool:
    """Kill a topology and wait until nimbus forgets it; False if it was not running."""
    if name not in running_topologies(nimbus):
        return False
    nimbus_client(nimbus).killTopologyWithOpts(name=name, options=KillOptions(wait_secs=wait_s))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if name not in running_topologies(nimbus):
            return True
        time.sleep(1.0)
    raise TimeoutError(f"topology {name} still known to nimbus after {timeout_s:.0f} s")


def local_settings(layout: StackLayout | None = None) -> TopologyConf:
    """The topology's settings for the single-machine stack."""
    layout = layout or StackLayout.default()
    ports = layout.ports
    return TopologyConf(
        kafka_bootstrap_servers=f"{layout.host}:{ports.kafka}",
        hbase_host=layout.host,
        hbase_port=ports.hbase_thrift,
        risk_service_url=f"http://{layout.host}:{ports.risk_service}",
        risk_service_token_file=str(layout.secrets / "risk-service-token"),
    )


def local_nimbus(layout: StackLayout | None = None) -> str:
    layout = layout or StackLayout.default()
    return f"{layout.host}:{layout.ports.storm_nimbus}"


def deploy_local(
    settings: TopologyConf | None = None,
    name: str = TOPOLOGY_NAME,
    extra_options: dict[str, Any] | None = None,
    nimbus: str | None = None,
) -> str:
    """Build the jar and submit the topology (default: to the local stack's nimbus), replacing
    a running topology of the same name."""
    layout = StackLayout.default()
    settings = settings or local_settings(layout)
    if not Path(settings.risk_service_token_file).is_file():
        raise FileNotFoundError(
            f"the risk service's token file {settings.risk_service_token_file!r} is missing: "
            "start the risk service first, or point at its token with "
            "--set risk_service_token_file=PATH --set risk_service_url=URL"
        )
    config = render_config(
        "local", settings, nimbus or local_nimbus(layout), sys.prefix, extra_options
    )
    return submit(config, build_jar(), name=name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lendstream topology", description=__doc__)
    parser.add_argument("action", choices=["build", "deploy", "kill", "status"])
    parser.add_argument("--name", default=TOPOLOGY_NAME, help="topology name on nimbus")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a topology setting, e.g. --set hbase_table=members_test",
    )
    args = parser.parse_args(argv)
    layout = StackLayout.default()
    nimbus = f"{layout.host}:{layout.ports.storm_nimbus}"
    if args.action == "build":
        print(build_jar())
    elif args.action == "deploy":
        settings = local_settings(layout)
        overrides = dict(item.split("=", 1) for item in args.set)
        settings = replace(
            settings,
            **{key: type(getattr(settings, key))(value) for key, value in overrides.items()},
        )
        try:
            print(deploy_local(settings, args.name))
        except (FileNotFoundError, RuntimeError) as error:
            sys.exit(f"deploy failed: {error}")
    elif args.action == "kill":
        print("killed" if kill(nimbus, args.name) else f"{args.name} was not running")
    else:
        print(json.dumps(running_topologies(nimbus), indent=2))


if __name__ == "__main__":
    main()
