"""A deployment's probe (X-Lendstream-Probe, the risk_service role's gate) is scored like any
request and counted apart: not in the pipeline's requests, decisions or batch sizes, which the
alerts and `lendstream status` read; without a valid token the header changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram

from lendstream.model.synthetic import generate
from lendstream.pipeline.rules import clean
from lendstream.services.risk_service import metrics
from lendstream.services.risk_service.app import create_app
from lendstream.services.risk_service.settings import RiskSettings, ThresholdOverrides

TOKEN = "probe-test-token-not-a-secret"
PROBE = {metrics.PROBE_HEADER: "rollout"}


def counted(metric: Counter | Histogram, suffix: str, **labels: str) -> float:
    """The metric's ``suffix`` samples with these labels, summed (this process's registry)."""
    return sum(
        sample.value
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith(suffix) and labels.items() <= sample.labels.items()
    )


def figures() -> dict[str, float]:
    return {
        "score 200": counted(metrics.REQUESTS, "_total", route="/v1/score", status="200"),
        "score 401": counted(metrics.REQUESTS, "_total", route="/v1/score", status="401"),
        "timed": counted(metrics.LATENCY, "_count", route="/v1/score"),
        "scored": counted(metrics.SCORED, "_total"),
        "batches": counted(metrics.BATCH_SIZE, "_count"),
        "probe 200": counted(metrics.PROBES, "_total", status="200"),
        "probe 401": counted(metrics.PROBES, "_total", status="401"),
    }


def post(client: Any, headers: dict[str, str]) -> Any:
    body = {"applicants": [clean(raw).as_dict() for raw in generate(3, seed=11)]}
    return client.post("/v1/score", json=body, headers=headers)


def test_a_probe_is_scored_and_counted_apart_and_only_with_the_token(model_dir: Path) -> None:
    settings = RiskSettings(
        model_dir=model_dir,
        tokens=(TOKEN,),
        thresholds=ThresholdOverrides(review_at=None, decline_at=None),
    )
    client = create_app(settings).test_client()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    before = figures()
    probed = post(client, {**bearer, **PROBE})
    after_probe = figures()
    plain = post(client, bearer)
    after_plain = figures()
    refused = post(client, {"Authorization": "Bearer wrong", **PROBE})
    after_refused = figures()

    assert probed.status_code == plain.status_code == 200
    assert probed.get_json() == plain.get_json()  # scored the same
    changed = {name: after_probe[name] - before[name] for name in before}
    assert changed == {name: 1.0 if name == "probe 200" else 0.0 for name in before}
    changed = {name: after_plain[name] - after_probe[name] for name in before}
    assert changed == {
        name: {"score 200": 1.0, "timed": 1.0, "scored": 3.0, "batches": 1.0}.get(name, 0.0)
        for name in before
    }
    assert refused.status_code == 401
    changed = {name: after_refused[name] - after_plain[name] for name in before}
    assert changed == {name: {"score 401": 1.0, "timed": 1.0}.get(name, 0.0) for name in before}
