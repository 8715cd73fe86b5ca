"""The applicant API: a Flask app serving raw applicants, cursor-paginated by row id.

Routes: ``GET /v1/applicants?after=<id>&limit=<n>``, ``GET /v1/applicants/<id>``, ``GET /healthz``,
``GET /metrics`` (requests by route and status, latency by route: :mod:`.metrics`). With tokens
configured (``LENDSTREAM_API_TOKEN_FILE``, as on the cluster), every ``/v1/`` request must send
``Authorization: Bearer <token>`` or gets 401; ``/healthz`` and ``/metrics`` show no applicant.
Bad parameters get 400 with a message, an unknown id 404, a database failure 503; every answer,
errors included, is JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from lendstream.services import bearer_auth, http_errors, prometheus_metrics
from lendstream.services.applicant_api import metrics
from lendstream.services.applicant_api.repository import ApplicantRepository, DatabaseUnavailable
from lendstream.services.applicant_api.settings import MySQLSettings, api_tokens

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1
LISTING_PARAMETERS = frozenset({"after", "limit"})


class BadParameterError(ValueError):
    """A query or path parameter the API cannot use; the message says what is expected."""


def create_app(
    settings: MySQLSettings | None = None,
    repository: ApplicantRepository | None = None,
    tokens: tuple[str, ...] | None = None,
) -> Flask:
    """Build the app; settings and accepted tokens come from the environment unless given
    (no tokens: no authentication, as on the single-machine stack)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    applicants = repository or ApplicantRepository(settings or MySQLSettings.from_env())
    accepted = tuple(
        token.encode("utf-8") for token in (api_tokens() if tokens is None else tokens)
    )
    prometheus_metrics.record_requests(app, metrics.REQUESTS, metrics.LATENCY)

    @app.before_request
    def require_token() -> Any:
        if not accepted or not request.path.startswith("/v1/"):
            return None
        if bearer_auth.authorised(request.headers.get("Authorization", ""), accepted):
            return None
        response = http_errors.error_response(401, "send Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="lendstream-applicants"'
        return response

    @app.get("/v1/applicants")
    def list_applicants() -> Any:
        unknown = sorted(set(request.args) - LISTING_PARAMETERS)
        if unknown:
            raise BadParameterError(
                f"unknown parameter(s) {', '.join(unknown)}; use after and limit"
            )
        after = _integer_parameter("after", request.args.get("after"), 0, 0, MAX_ID)
        limit = _integer_parameter("limit", request.args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        page = applicants.page(after, limit)
        next_after = page[-1]["id"] if page else None
        return jsonify(applicants=page, next_after=next_after)

    @app.get("/v1/applicants/<applicant_id>")
    def get_applicant(applicant_id: str) -> Any:
        number = _integer_parameter("id", applicant_id, None, 1, MAX_ID)
        applicant = applicants.one(number)
        if applicant is None:
            return http_errors.error_response(404, f"no applicant with id {number}")
        return jsonify(applicant)

    @app.get("/healthz")
    def health() -> Any:
        applicants.ping()
        return jsonify(status="ok")

    @app.errorhandler(BadParameterError)
    def bad_parameter(error: BadParameterError) -> Any:
        return http_errors.error_response(400, str(error))

    @app.errorhandler(DatabaseUnavailable)
    def database_unavailable(error: DatabaseUnavailable) -> Any:
        app.logger.warning("database unavailable: %s", error)
        return http_errors.error_response(503, "the applicant database is unavailable; retry later")

    http_errors.register_error_handlers(app)

    return app


def _integer_parameter(
    name: str, raw: str | None, default: int | None, minimum: int, maximum: int
) -> int:
    if raw is None or (raw == "" and default is not None):
        if default is None:
            raise BadParameterError(f"{name} is required")
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        raise BadParameterError(
            f"{name} must be an integer from {minimum} to {maximum}, got {raw[:40]!r}"
        )
    value = int(text)
    if not minimum <= value <= maximum:
        raise BadParameterError(
            f"{name} must be an integer from {minimum} to {maximum}, got {value}"
        )
    return value
