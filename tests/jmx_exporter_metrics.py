"""Reading a JMX exporter agent's /metrics in the stack tests (tests/stack/*jmx_exporter*)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

SCRAPE_TIMEOUT_S = 5.0
# The agent's own metrics, exported whatever the rules file says.
AGENT_PREFIXES = ("jvm_", "process_", "jmx_")


def _samples(port: int) -> list[Sample]:
    """Every sample of the exporter's /metrics ([] while it does not answer)."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S
        ) as response:
            text = response.read().decode()
    except OSError:
        return []
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def scrape(port: int) -> dict[str, float]:
    """Every unlabelled sample of the exporter's /metrics, by name ({} while it does not answer)."""
    return {sample.name: sample.value for sample in _samples(port) if not sample.labels}


def scrape_by_label(port: int, label: str) -> dict[str, dict[str, float]]:
    """The samples that carry ``label``, by name and then by that label's value."""
    found: dict[str, dict[str, float]] = {}
    for sample in _samples(port):
        if label in sample.labels:
            found.setdefault(sample.name, {})[sample.labels[label]] = sample.value
    return found


def scraped(port: int, wanted: Callable[[dict[str, float]], bool]) -> Callable[[], bool]:
    """A wait_until condition: the exporter on ``port`` answers what ``wanted`` accepts."""
    return lambda: wanted(scrape(port))


def rule_names(metrics: dict[str, float]) -> set[str]:
    """The names the rules file exports, without the agent's own metrics."""
    return {name for name in metrics if not name.startswith(AGENT_PREFIXES)}
