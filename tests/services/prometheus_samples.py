"""Reading a service's /metrics in the tests: one sample's value, by name and labels."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of ``url`` (a /metrics endpoint) as (name, labels, value)."""
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    ]


def value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` (0 when it does not exist yet)."""
    matching = [v for found, found_labels, v in samples if (found, found_labels) == (name, labels)]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else 0.0
