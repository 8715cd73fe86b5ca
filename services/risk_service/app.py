"""The risk service: scores clean applicants with the model artifact, one predict call a request.

``POST /v1/score`` (bearer token) takes ``{"applicant": {...}}`` or ``{"applicants": [...]}`` (at
most 1,000) and answers ``{"model_version", "result"}`` or ``{"model_version", "results"}`` with
each applicant's ``member_id``, ``probability_of_default`` and ``decision``. A request with any
bad field is refused whole with 422 listing every problem. ``GET /healthz``, ``GET /metrics``.
An authorised request with the ``X-Lendstream-Probe`` header (a deployment's gate) is scored
like any other and counted apart (lendstream.services.risk_service.metrics).

Whatever body a client sends, the answer is a 4xx with a JSON ``error``, never a 500: a content
type other than JSON 415, a body over 8 MiB 413; a body that is not UTF-8, not JSON, nested
deeper than the parser's recursion limit, holding ``NaN``/``Infinity`` or an integer too long to
read 400; a well-formed body with wrong shapes, types or non-finite numbers 422
(lendstream.services.risk_service.validation). tests/services/test_risk_bodies.py fuzzes it
under gunicorn.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask, g, jsonify, request

from lendstream.model import artifact
from lendstream.services import bearer_auth, http_errors, prometheus_metrics
from lendstream.services.risk_service import metrics
from lendstream.services.risk_service.decisions import Thresholds
from lendstream.services.risk_service.settings import RiskSettings
from lendstream.services.risk_service.validation import (
    InvalidRequestError,
    Problem,
    parse_request,
)

MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyError(ValueError):
    """The request body cannot be read as a scoring request's JSON; ``status`` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(settings: RiskSettings | None = None, model: Any | None = None) -> Flask:
    """Build the app: load (and verify) the artifact, resolve thresholds, wire the routes."""
    settings = settings or RiskSettings.from_env()
    model = model if model is not None else artifact.load(settings.model_dir)
    thresholds = Thresholds.resolve(settings.thresholds, model.metadata)
    accepted_tokens = tuple(token.encode("utf-8") for token in settings.tokens)
    metrics.MODEL_LOADED.labels(version=model.version).set(1)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]

    prometheus_metrics.record_requests(app, metrics.REQUESTS, metrics.LATENCY, metrics.PROBES)

    @app.post("/v1/score")
    def score() -> Any:
        if not _authorised(accepted_tokens):
            response = http_errors.error_response(401, "send Authorization: Bearer <token>")
            response.headers["WWW-Authenticate"] = 'Bearer realm="lendstream-risk"'
            return response
        g.probe = metrics.PROBE_HEADER in request.headers
        try:
            body = _json_body()
        except BodyError as error:
            return http_errors.error_response(error.status, error.message)
        try:
            applicants, single = parse_request(body)
            model_problems = [
                Problem(index, problem.field, problem.problem)
                for index, record in enumerate(applicants)
                for problem in model.feature_problems(record)
            ]
            if model_problems:
                raise InvalidRequestError(model_problems)
        except InvalidRequestError as error:
            response = jsonify(
                error=f"{len(error.problems)} problem(s) in the request; nothing was scored",
                problems=[problem.as_dict() for problem in error.problems],
            )
            response.status_code = 422
            return response
        probabilities = model.predict_default_probability(applicants)
        results = []
        for record, probability in zip(applicants, probabilities, strict=True):
            decision = thresholds.decide(float(probability))
            if not g.probe:
                metrics.SCORED.labels(decision=decision).inc()
            results.append(
                {
                    "member_id": record["member_id"],
                    "probability_of_default": float(probability),
                    "decision": decision,
                }
            )
        if not g.probe:
            metrics.BATCH_SIZE.observe(len(applicants))
        if single:
            return jsonify(model_version=model.version, result=results[0])
        return jsonify(model_version=model.version, results=results)

    @app.get("/healthz")
    def health() -> Any:
        return jsonify(
            status="ok",
            model_version=model.version,
            # Which worker answered: the graceful reload waits for one it started itself.
            worker=os.getpid(),
            thresholds={"review_at": thresholds.review_at, "decline_at": thresholds.decline_at},
        )

    http_errors.register_error_handlers(app)

    return app


def _authorised(accepted: tuple[bytes, ...]) -> bool:
    return bearer_auth.authorised(request.headers.get("Authorization", ""), accepted)


def _json_body() -> Any:
    """The request's body parsed as strict JSON, or :class:`BodyError` saying why not."""
    if request.mimetype != "application/json":
        raise BodyError(
            415, f"send Content-Type: application/json, not {request.mimetype or 'none'!r}"
        )
    data = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 (RequestEntityTooLarge)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(400, f"the body is not UTF-8 text: {error}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # the C parser bounds its own depth (the recursion limit)
        raise BodyError(400, "the body is nested too deeply to be a scoring request") from None
    except ValueError as error:
        raise BodyError(400, f"the body must be JSON: {error}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
