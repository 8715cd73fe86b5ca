"""lendstream.chaos.runner and its steady load: a fault run that stops short leaves no loader
running (a real child process stands in for the loader's ansible-playbook)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from lendstream.chaos import runner
from lendstream.chaos.faults import Fault
from lendstream.chaos.load import SteadyLoad

LOADS: list[SteadyLoad] = []  # each stand-in loader started, to check it ended


def _sleeping_load(*_args: Any, **_kwargs: Any) -> SteadyLoad:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], text=True)
    LOADS.append(SteadyLoad(seed=1, count=10, rate_per_s=1.0, process=process))
    return LOADS[-1]


def test_stop_ends_a_running_loader_and_leaves_an_ended_one_alone() -> None:
    load = _sleeping_load()
    load.stop()
    assert load.process.poll() is not None
    load.stop()  # already ended: nothing to do, no error


def test_an_unexpected_failure_of_the_injection_stops_the_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_injection(_cluster: Any, _state: dict[str, Any]) -> None:
        raise RuntimeError("a failure the runner does not expect")

    monkeypatch.setattr(runner.SteadyLoad, "start", _sleeping_load)
    monkeypatch.setattr(runner, "WARMUP_S", 0)
    fault = Fault("broken", "an injection that raises", broken_injection)
    with pytest.raises(RuntimeError, match="does not expect"):
        runner.run_fault(object(), fault, seed=1, rate_per_s=1.0, before={}, progress=print)  # type: ignore[arg-type]
    assert LOADS[-1].process.poll() is not None
