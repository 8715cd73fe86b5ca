"""What the stack needs to know about the artifact bundles beyond their paths."""

from __future__ import annotations

from pathlib import Path

from lendstream.stack.artifacts import bundle_info


def storm_ui_available() -> bool:
    """Storm's UI needs the storm-webapp jars (lib-webapp/), which the bundle may not hold:
    the Maven registry reachable here does not serve storm-webapp."""
    return (Path(str(bundle_info("storm")["path"])) / "lib-webapp").is_dir()
