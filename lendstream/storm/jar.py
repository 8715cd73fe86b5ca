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
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from lendstream.cluster import REPO_ROOT
from lendstream.pipeline.topology_conf import TopologyConf

PROJECT_DIR = REPO_ROOT / "topology"
BUILD_DIR = REPO_ROOT / ".cache" / "topology"
TOPOLOGY_NAME = "lendstream"  # the name on nimbus
# topologies/<DEFINITION>.py; not "lendstream.py": sparse puts topologies/ on sys.path, where a
# module of that name would shadow the lendstream package the bolts import.
DEFINITION = "loan_risk"
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)  # fixed entry times: the same sources give the same jar
SUBMIT_TIMEOUT_S = 180.0
# The topology's own ZooKeeper digest (lendstream.storm.deployment.zookeeper_topology_auth).
ZOOKEEPER_AUTH_PAYLOAD_OPTION = "storm.zookeeper.topology.auth.payload"
SECRET_OPTIONS = frozenset({ZOOKEEPER_AUTH_PAYLOAD_OPTION})


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
    """The checked-in config.json with one environment completed for this submission.
    ``extra_options`` may override Storm settings of the topology definition (e.g.
    ``topology.message.timeout.secs``): :func:`submit` passes every option as ``-o``, which
    streamparse ranks above the definition's own ``config``."""
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
    force: bool = False,
    timeout_s: float = SUBMIT_TIMEOUT_S,
) -> str:
    """Run ``sparse submit -j <jar>`` with the rendered config; returns its output."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    config_path = BUILD_DIR / f"config.{name}.json"
    # The environment's options may carry a secret (the topology's ZooKeeper digest): the file is
    # private, and secrets go to sparse through it, never on its command line.
    config_path.touch(mode=0o600)
    config_path.chmod(0o600)
    config_path.write_text(json.dumps(config, indent=2))
    command = submit_command(config, config_path, jar, name, force)
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


def submit_command(
    config: dict[str, Any], config_path: Path, jar: Path, name: str, force: bool
) -> list[str]:
    """``sparse submit``'s argv: the environment's options as ``-o`` (sparse gives them
    precedence over the topology's), but for SECRET_OPTIONS, which sparse reads from the private
    config file only."""
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
    for key, value in config["envs"][environment].get("options", {}).items():
        if key not in SECRET_OPTIONS:  # sparse reads them from the config file
            command += ["-o", f"{key}={json.dumps(value)}"]  # JSON is YAML: values keep their type
    if force:  # streamparse's own replace: kill after 1 s and wait without bound (see deploy)
        command.append("--force")
    return command


def deployment_digest(config: dict[str, Any], jar: Path) -> str:
    """What a submission deploys: the jar's bytes and the environment it runs with."""
    digest = hashlib.sha256(jar.read_bytes())
    digest.update(json.dumps(config["envs"], sort_keys=True).encode())
    return digest.hexdigest()[:16]
