"""A scripted HTTP server on loopback that speaks the risk service's contract, for clients
(the scoring client in tests/topology, the endpoint failover in tests/unit)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token-not-a-secret"

Handler = Callable[[dict[str, Any]], tuple[int, Any]]


def contract_answer(body: dict[str, Any]) -> tuple[int, Any]:
    """Score like the contract says: probability from the interest rate, decision by threshold."""
    results = []
    for applicant in body["applicants"]:
        probability = min(applicant["int_rate"] / 100.0, 1.0)
        decision = "approve" if probability < 0.1 else "review" if probability < 0.2 else "decline"
        results.append(
            {
                "member_id": applicant["member_id"],
                "probability_of_default": probability,
                "decision": decision,
            }
        )
    return 200, {"model_version": "test-1", "results": results}


class ScriptedRiskService:
    """Answers each POST with the next scripted handler (the last one repeats)."""

    def __init__(self) -> None:
        self.script: list[Handler] = [contract_answer]
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.connections: set[int] = set()
        # The bearer tokens accepted (a rotation accepts the new one beside the old).
        self.accepted_tokens: set[str] = {TOKEN}
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                service.connections.add(id(self.connection))
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                service.requests.append(body)
                service.authorizations.append(self.headers.get("Authorization"))
                handler = service.script[min(len(service.requests) - 1, len(service.script) - 1)]
                accepted = {f"Bearer {token}" for token in service.accepted_tokens}
                if self.headers.get("Authorization") not in accepted:
                    status, answer = 401, {"error": "missing or wrong bearer token"}
                else:
                    status, answer = handler(body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # the client may have given up waiting (a scripted hang): nothing to answer then
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedRiskService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
