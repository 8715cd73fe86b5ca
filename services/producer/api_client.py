"""Reading pages of applicants from the applicant API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# One more try of a page whose connection broke before an answer came (a read or connect error:
# the API closed an idle keep-alive connection just as the producer reused it, gunicorn's
# keep-alive being as short as the poll interval). GET is idempotent; a status is never retried.
DROPPED_CONNECTION_RETRY = Retry(
    total=1, connect=1, read=1, status=0, other=0, redirect=0, raise_on_status=False
)


class ApiUnavailableError(RuntimeError):
    """The API did not answer with a usable page (down, 5xx, not JSON, wrong shape)."""


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[Any]
    next_after: int | None


class ApplicantApiClient:
    """``GET /v1/applicants?after=&limit=`` over one keep-alive session, with the bearer
    ``token`` when given; an ``https://`` API is verified against ``ca_file`` (host name included)
    when given, else against the system's trust store."""

    def __init__(
        self, base_url: str, timeout_s: float, token: str | None = None, ca_file: str | None = None
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/v1/applicants"
        self._timeout_s = timeout_s
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=DROPPED_CONNECTION_RETRY)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        # Passed on every request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self._verify: str | bool = ca_file or True

    def page(self, after: int, limit: int) -> Page:
        try:
            response = self._session.get(
                self._url,
                params={"after": after, "limit": limit},
                timeout=self._timeout_s,
                verify=self._verify,
            )
        except requests.RequestException as error:
            raise ApiUnavailableError(f"{self._url}: {type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise ApiUnavailableError(
                f"{self._url}?after={after}: HTTP {response.status_code} {response.text[:300]}"
            )
        try:
            body = response.json()
        except ValueError:
            raise ApiUnavailableError(f"{self._url}?after={after}: answer is not JSON") from None
        entries = body.get("applicants") if isinstance(body, dict) else None
        next_after = body.get("next_after") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not (
            next_after is None or (isinstance(next_after, int) and next_after > after)
        ):
            raise ApiUnavailableError(f"{self._url}?after={after}: unexpected page {body!r:.300}")
        if entries and next_after is None:
            raise ApiUnavailableError(f"{self._url}?after={after}: entries but no next_after")
        return Page(entries=entries, next_after=next_after)

    def close(self) -> None:
        self._session.close()
