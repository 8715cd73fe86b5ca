"""Client of the risk service: scores clean applicants in batches over one keep-alive session.

Every failure is one of two kinds, and the caller treats them very differently:

- **systemic** (:class:`ScoringError`): transport errors (refused, reset, timed out), 5xx, 429,
  401/403 (a token mismatch during a rotation, a misconfiguration), any other unexpected status,
  an answer that breaks the contract. Retried with exponential backoff a bounded number of times,
  moving on to the next risk service each time (``failover_urls``, lendstream.pipeline.endpoints);
  on 401/403 the token file is read again first (the token may just have been rotated). If it still
  fails, the caller fails its input for replay: replays go on until the cause goes away. Never a
  reason to dead-letter anything.
- **refused for its content** (:class:`ScoringRejectedError`, HTTP 400, 413, 422): the same request
  would be refused again. A 422 names the applicants at fault by index (``named``); the caller
  dead-letters those and scores the rest (lendstream.pipeline.flow.score_batch).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lendstream.pipeline.endpoints import EndpointRotation
from lendstream.pipeline.record import CleanApplicant

MAX_BATCH = 1_000  # the risk service's limit per request (docs/architecture.md)
# Statuses that blame the request's content: the same request is refused again on every replay.
REFUSED_STATUSES = frozenset({400, 413, 422})
AUTH_STATUSES = frozenset({401, 403})
DECISIONS = frozenset({"approve", "review", "decline"})
JSON_HEADERS = {"Content-Type": "application/json"}


class ScoringError(RuntimeError):
    """A batch could not be scored for a systemic reason (no risk service answered usefully);
    the caller must fail (replay) its input, never drop or dead-letter it."""


class ScoringRejectedError(ScoringError):
    """The risk service refused the request for its content (HTTP 400, 413, 422): the same
    request would be refused again. ``named`` maps the index (in the applicants given to
    :meth:`RiskServiceClient.score_clean_json`) of each applicant the answer blames to why;
    it is empty when the answer blames no applicant in particular."""

    def __init__(
        self, message: str, status: int, answer: str, named: dict[int, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.answer = answer  # "HTTP <status> <the answer's start>"
        self.named: dict[int, str] = named or {}

    def shifted(self, start: int) -> ScoringRejectedError:
        """The same refusal, its indices counted from ``start`` (a request of a longer list)."""
        named = {start + index: reason for index, reason in self.named.items()}
        return ScoringRejectedError(str(self), self.status, self.answer, named)


@dataclass(frozen=True, slots=True)
class Score:
    member_id: str
    probability_of_default: float
    decision: str
    model_version: str


@dataclass(frozen=True)
class RiskServiceSettings:
    base_url: str
    token: str
    timeout_s: float = 10.0
    max_attempts: int = 4
    first_backoff_s: float = 0.2
    max_batch: int = MAX_BATCH
    token_file: str | None = None  # where the token came from, to hand on to other processes
    failover_urls: tuple[str, ...] = ()  # tried in turn after base_url on a transport error
    connect_timeout_s: float = 3.0  # a dead node fails over quickly; timeout_s bounds the answer
    # The CA an https:// risk service's certificate must chain to (host names checked);
    # None: the system's trust store.
    ca_file: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        """Every risk service this client may use, in the order it tries them."""
        return (self.base_url, *self.failover_urls)

    @classmethod
    def from_token_file(
        cls, base_url: str, token_file: str | Path, **kwargs: Any
    ) -> RiskServiceSettings:
        token = Path(token_file).read_text().strip()
        return cls(base_url=base_url, token=token, token_file=str(token_file), **kwargs)


class RiskServiceClient:
    """Batched, retrying client of ``POST /v1/score``; one instance per process."""

    def __init__(self, settings: RiskServiceSettings, session: requests.Session | None = None):
        self.settings = settings
        self.rotation = EndpointRotation([url.rstrip("/") + "/v1/score" for url in settings.urls])
        self._session = session or requests.Session()
        self._token = settings.token
        self._session.headers["Authorization"] = f"Bearer {settings.token}"
        self._token_file_mtime_ns = self._token_file_mtime_ns_now()
        # Passed on every request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self._verify: str | bool = settings.ca_file or True

    def _token_file_mtime_ns_now(self) -> int | None:
        if not self.settings.token_file:
            return None
        try:
            return os.stat(self.settings.token_file).st_mtime_ns
        except OSError:
            return None

    def _follow_token_file(self) -> None:
        """Before each request: a token file written anew since it was read (a rotation puts the
        new token there while the risk services still accept the old one) is read again, so the
        switch happens before the old token is withdrawn, without a refused request."""
        mtime_ns = self._token_file_mtime_ns_now()
        if mtime_ns is not None and mtime_ns != self._token_file_mtime_ns:
            self._token_file_mtime_ns = mtime_ns
            self._reload_token()

    def _reload_token(self) -> None:
        """Read the token file again (after a 401/403: the token may have been rotated)."""
        if not self.settings.token_file:
            return
        try:
            token = Path(self.settings.token_file).read_text().strip()
        except OSError:
            return
        if token and token != self._token:
            self._token = token
            self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._session.close()

    def score(self, applicants: Sequence[CleanApplicant]) -> list[Score]:
        """Scores in the order of ``applicants``; splits into requests of at most ``max_batch``."""
        return self.score_dicts([applicant.as_dict() for applicant in applicants])

    def score_dicts(self, applicants: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Like :meth:`score`, for applicants already in their ``CleanApplicant.as_dict()`` form."""
        texts = [json.dumps(applicant, separators=(",", ":")) for applicant in applicants]
        return self.score_clean_json(texts, [str(a["member_id"]) for a in applicants])

    def score_clean_json(self, clean_json: Sequence[str], member_ids: Sequence[str]) -> list[Score]:
        """Like :meth:`score`, for clean applicants already encoded as JSON objects: the request
        body is put together from them without decoding and encoding them again."""
        scores: list[Score] = []
        size = self.settings.max_batch
        for start in range(0, len(clean_json), size):
            batch = clean_json[start : start + size]
            body = ('{"applicants":[' + ",".join(batch) + "]}").encode("utf-8")
            try:
                answer = self._post_with_retries(body, len(batch))
            except ScoringRejectedError as error:
                raise error.shifted(start) from None
            scores.extend(_parse_answer(answer, member_ids[start : start + size]))
        return scores

    def _post_with_retries(self, body: bytes, count: int) -> Any:
        last_problem = "no attempt made"
        timeout = (
            min(self.settings.connect_timeout_s, self.settings.timeout_s),
            self.settings.timeout_s,
        )
        for attempt in range(self.settings.max_attempts):
            if attempt:
                time.sleep(self.settings.first_backoff_s * 2 ** (attempt - 1))
            url = self.rotation.current
            self._follow_token_file()
            try:
                response = self._session.post(
                    url, data=body, headers=JSON_HEADERS, timeout=timeout, verify=self._verify
                )
            except requests.RequestException as error:
                last_problem = f"{type(error).__name__} from {url}: {error}"
                self.rotation.fail_over()
                continue
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    last_problem = f"the answer from {url} is not JSON"
                    self.rotation.fail_over()
                    continue
            if response.status_code in REFUSED_STATUSES:
                answer = f"HTTP {response.status_code} {response.text[:500]}"
                raise ScoringRejectedError(
                    f"risk service refused a batch of {count}: {answer}",
                    response.status_code,
                    answer,
                    _named_problems(response, count),
                )
            last_problem = f"HTTP {response.status_code} from {url}: {response.text[:200]}"
            if response.status_code in AUTH_STATUSES:
                self._reload_token()
            self.rotation.fail_over()
        raise ScoringError(
            f"risk service at {', '.join(self.rotation.endpoints)} failed a batch of {count} after "
            f"{self.settings.max_attempts} attempts; last: {last_problem}"
        )


def _named_problems(response: requests.Response, count: int) -> dict[int, str]:
    """Index → what is wrong, when every problem of a refusal names an applicant of the request
    (the risk service's 422 lists ``{"index", "field", "problem"}``); else empty: the refusal
    blames the request as a whole, or says nothing usable."""
    try:
        problems = response.json()["problems"]
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(problems, list) or not problems:
        return {}
    named: dict[int, list[str]] = {}
    for problem in problems:
        index = problem.get("index") if isinstance(problem, dict) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            return {}
        named.setdefault(index, []).append(f"{problem.get('field')}: {problem.get('problem')}")
    return {
        index: f"HTTP {response.status_code}: " + "; ".join(reasons)[:500]
        for index, reasons in named.items()
    }


def _parse_answer(answer: Any, member_ids: Sequence[str]) -> list[Score]:
    try:
        model_version = str(answer["model_version"])
        results = answer["results"]
    except (KeyError, TypeError):
        raise ScoringError(
            f"risk service answer lacks model_version/results: {answer!r:.300}"
        ) from None
    if not isinstance(results, list) or len(results) != len(member_ids):
        raise ScoringError(
            f"risk service answered {len(results) if isinstance(results, list) else 'no'} "
            f"results for {len(member_ids)} applicants"
        )
    scores = []
    for expected_id, result in zip(member_ids, results, strict=True):
        try:
            member_id = str(result["member_id"])
            probability = float(result["probability_of_default"])
            decision = str(result["decision"])
        except (KeyError, TypeError, ValueError):
            raise ScoringError(f"malformed result in the answer: {result!r:.300}") from None
        if member_id != expected_id:
            raise ScoringError(f"results out of order: expected {expected_id!r}, got {member_id!r}")
        if decision not in DECISIONS:
            raise ScoringError(f"unknown decision {decision!r} for {member_id!r}")
        scores.append(Score(member_id, probability, decision, model_version))
    return scores
