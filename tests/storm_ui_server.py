"""The Storm UI stand-in under gunicorn (`python -m lendstream.storm_ui --bind`), for the tests
that check it against the single-machine stack's real nimbus."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from local_processes import clean_environment, free_port, running
from prometheus_client.parser import text_string_to_metric_families

from lendstream.stack.runtime import StackEndpoints

REPOSITORY = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0


@contextmanager
def storm_ui(stack: StackEndpoints, log_path: Path) -> Iterator[str]:
    """The UI on a free port, its URL for the block. Its first nimbus seed is a dead one, so
    finding the live nimbus among several seeds is exercised too."""
    port = free_port()
    seeds = f"127.0.0.1:{free_port()},{stack.storm_nimbus_host}:{stack.storm_nimbus_port}"
    env = clean_environment(
        {
            "LENDSTREAM_STORM_UI_NIMBUS_SEEDS": seeds,
            "LENDSTREAM_STORM_UI_THRIFT_TIMEOUT_MS": "20000",
        }
    )
    command = [sys.executable, "-m", "lendstream.storm_ui", "--bind", f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with running(command, log_path, env=env, cwd=REPOSITORY) as process:
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer"
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the UI exited {process.returncode}: {log_path.read_text()}")
            try:
                response = requests.get(f"{url}/healthz", timeout=REQUEST_TIMEOUT_S)
                if response.status_code == 200:
                    break
                last = f"{response.status_code} {response.text}"
            except (requests.ConnectionError, requests.Timeout) as error:
                last = str(error)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{url}/healthz not healthy in {START_TIMEOUT_S:.0f} s ({last}): "
                    f"{log_path.read_text()}"
                )
            time.sleep(0.3)
        yield url


def get_json(url: str) -> Any:
    """GET a UI document: 200 and its JSON."""
    response = requests.get(url, timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return response.json()


def scrape_metrics(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """GET the UI's ``/metrics``: 200, and each sample's value by name and sorted labels."""
    response = requests.get(f"{url}/metrics", timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples
