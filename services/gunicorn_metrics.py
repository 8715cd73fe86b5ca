"""The workers' metrics directory of a gunicorn master, for its configuration's hooks.

prometheus_client chooses between per-process and multiprocess values when it is first imported,
and gunicorn's workers inherit the master's modules: so the configuration must set
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus_client. This module does not
import it (only :meth:`GunicornMetricsDirectory.worker_exited` does, in the master, long after).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class GunicornMetricsDirectory:
    """The workers' metrics directory of one gunicorn master, for its configuration's hooks.

    Created at import of the configuration (before any worker starts) unless the environment
    names one; emptied when the master starts (files of an earlier run would be summed into this
    one's); a dead worker's live gauges dropped; a directory made here removed at exit.
    """

    def __init__(self, prefix: str) -> None:
        self.made_here = not os.environ.get(MULTIPROC_DIR_VARIABLE)
        if self.made_here:
            os.environ[MULTIPROC_DIR_VARIABLE] = tempfile.mkdtemp(prefix=prefix)
        self.path = Path(os.environ[MULTIPROC_DIR_VARIABLE])

    def clear(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob("*.db"):
            stale.unlink()

    def worker_exited(self, pid: int) -> None:
        from prometheus_client import multiprocess  # noqa: PLC0415 - see the module's docstring

        multiprocess.mark_process_dead(pid)

    def remove(self) -> None:
        if self.made_here:
            shutil.rmtree(self.path, ignore_errors=True)
