"""With no nimbus listening, every route answers 503 with the reason (never a 500)."""

from __future__ import annotations

import pytest
from local_processes import free_port

from lendstream.storm.nimbus import NimbusAddress
from lendstream.storm_ui.app import create_app
from lendstream.storm_ui.settings import UiSettings


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    seeds = (NimbusAddress("127.0.0.1", free_port()), NimbusAddress("127.0.0.1", free_port()))
    return create_app(UiSettings(nimbus_seeds=seeds, thrift_timeout_ms=1000)).test_client()


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/api/v1/cluster/summary",
        "/api/v1/supervisor/summary",
        "/api/v1/nimbus/summary",
        "/api/v1/topology/summary",
        "/api/v1/topology/lendstream-1-100",
    ],
)
def test_api_answers_503_naming_the_seeds(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "Service Unavailable"
    assert "nimbus is unavailable" in body["errorMessage"]
    assert body["errorMessage"].count("127.0.0.1:") >= 2


def test_overview_page_says_nimbus_is_unavailable(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Nimbus is unavailable" in response.get_data(as_text=True)


def test_unknown_window_is_a_400_before_any_nimbus_call(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/topology/x?window=7")
    assert response.status_code == 400
    assert ":all-time" in response.get_json()["errorMessage"]


def test_unknown_route_is_a_json_404(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"
