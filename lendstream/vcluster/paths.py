"""Where the simulated cluster keeps things: the machine-wide cache and the checkout's state."""

from __future__ import annotations

import os
from pathlib import Path

from lendstream.cluster import REPO_ROOT


def shared_cache_dir() -> Path:
    """Machine-wide, keyed by content: base root filesystems and the apt proxy's cache."""
    base = os.environ.get("LENDSTREAM_CACHE_DIR") or str(Path.home() / ".cache" / "lendstream")
    return Path(base) / "vcluster"


def layout_state_dir(layout_name: str) -> Path:
    """This checkout's state for one layout: node upper dirs, SSH keys, inventory, ssh_config.
    Its real path: a clone whose .cache links here must name the same launchers and nodes
    (their command lines carry this path)."""
    return (REPO_ROOT / ".cache" / "vcluster" / layout_name).resolve()


def inventory_path(layout_name: str) -> Path:
    return layout_state_dir(layout_name) / "inventory.yml"


def ssh_config_path(layout_name: str) -> Path:
    return layout_state_dir(layout_name) / "ssh_config"
