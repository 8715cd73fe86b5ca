"""The web services' JSON errors: one error document and the handlers every service registers.

Every answer of the applicant API and the risk service, errors included, is JSON
``{"error": "<message>"}``; an HTTP error keeps its status, anything unexpected is logged with its
traceback and answered 500 naming only the exception's type.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


def error_response(status: int, message: str) -> Any:
    """``{"error": message}`` with this status."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer HTTP errors (404, 405, 413…) and unexpected exceptions as JSON errors."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Any:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, f"internal error ({type(error).__name__}); see the service log")
