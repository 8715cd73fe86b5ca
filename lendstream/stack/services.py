"""The pipeline's own services in the single-machine stack: applicant API, risk service, producer.

Their configuration and launchers are rendered from the `applicant_api`, `risk_service` and
`producer` roles (ansible/local-stack.yml), exactly as on the cluster. What is here is what the
stack does around them: per-stack secrets, the schema, the read-only account and the loader's
before the API starts (the loader loads as the latter: INSERT and SELECT only), a model artifact
before the risk service starts, health checks over HTTP.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import requests

from lendstream.model import artifact
from lendstream.stack.health import Health, kafka_brokers_and_topics
from lendstream.stack.layout import StackLayout
from lendstream.stack.mysql_admin import admin_credentials

HTTP_TIMEOUT_S = 5.0
DATABASE = "lendstream"
READER_USER = "lendstream_api"
LOADER_USER = "lendstream_loader"
# The loader connects over TCP on loopback.
LOADER_HOSTS = ("127.0.0.1",)


def secret(layout: StackLayout, name: str) -> str:
    """A per-stack secret under secrets/ (0600), generated on first use, never in the repo."""
    path = layout.secrets / name
    if not path.exists():
        layout.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def risk_service_token(layout: StackLayout) -> str:
    return secret(layout, "risk-service-token")


def api_reader_password(layout: StackLayout) -> str:
    return secret(layout, "api-db-password")


def loader_password(layout: StackLayout) -> str:
    return secret(layout, "loader-db-password")


def model_dir(layout: StackLayout) -> Path:
    """The artifact the local risk service serves: the checkout's current model."""
    return artifact.default_model_root() / "current"


def ensure_model(layout: StackLayout) -> None:
    """Train the model once if this checkout has no artifact yet."""
    if (model_dir(layout) / "metadata.json").exists():
        return
    from lendstream.model.__main__ import main as model_main  # noqa: PLC0415 - heavy, rare

    if model_main(["train"]) != 0:
        raise RuntimeError("training the model failed")


def prepare_risk_service(layout: StackLayout) -> None:
    """A model artifact to serve and the per-stack bearer token, before the service starts."""
    ensure_model(layout)
    risk_service_token(layout)


def ensure_secrets(layout: StackLayout) -> None:
    """Every per-stack secret the role templates read (ansible/local-stack.yml looks them up)."""
    risk_service_token(layout)
    api_reader_password(layout)


def _admin_connection(layout: StackLayout, database: str | None = None):  # type: ignore[no-untyped-def]
    from lendstream.services.applicant_api.loader import (  # noqa: PLC0415
        AdminConnection,
        connect_admin,
    )

    credentials = admin_credentials(layout)
    admin = AdminConnection(layout.host, layout.ports.mysql, credentials.user, credentials.password)
    return connect_admin(admin, database)


def ensure_applicant_schema(layout: StackLayout) -> None:
    """The applicants table, the API's read-only account and the loader's, before the API starts."""
    from lendstream.services.applicant_api.loader import (  # noqa: PLC0415
        DEFAULT_READER_HOSTS,
        create_loader_account,
        create_reader,
        create_schema,
    )

    connection = _admin_connection(layout)
    try:
        create_schema(connection, DATABASE)
        create_reader(
            connection, DATABASE, READER_USER, api_reader_password(layout), DEFAULT_READER_HOSTS
        )
        create_loader_account(
            connection, DATABASE, LOADER_USER, loader_password(layout), LOADER_HOSTS
        )
    finally:
        connection.close()


def loader_connection(layout: StackLayout):  # type: ignore[no-untyped-def]
    """A connection to the applicants database as the stack's loader account."""
    from lendstream.services.applicant_api.loader import (  # noqa: PLC0415
        AdminConnection,
        connect_admin,
    )

    account = AdminConnection(layout.host, layout.ports.mysql, LOADER_USER, loader_password(layout))
    return connect_admin(account, DATABASE)


def load_applicants(
    synthetic: int, seed: int, malformed_rate: float, layout: StackLayout | None = None
) -> int:
    """Load the real rows and `synthetic` generated ones (idempotent); the table's row count."""
    from lendstream.model.data import lending_club_raw_records  # noqa: PLC0415
    from lendstream.model.synthetic import generate  # noqa: PLC0415
    from lendstream.services.applicant_api.loader import load_records  # noqa: PLC0415

    layout = layout or StackLayout.default()
    ensure_applicant_schema(layout)
    connection = loader_connection(layout)
    try:
        load_records(connection, lending_club_raw_records())
        if synthetic:
            load_records(connection, generate(synthetic, seed=seed, malformed_rate=malformed_rate))
    finally:
        connection.close()
    return applicant_count(layout)


def applicant_count(layout: StackLayout | None = None) -> int:
    layout = layout or StackLayout.default()
    connection = _admin_connection(layout, DATABASE)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM applicants")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def _http_health(url: str) -> Health:
    response = requests.get(url, timeout=HTTP_TIMEOUT_S)
    if response.status_code != 200:
        return Health(False, f"{url} answered {response.status_code}: {response.text[:200]}")
    return Health(True, f"{url} {response.json()}")


def applicant_api_health(layout: StackLayout) -> Health:
    return _http_health(f"http://{layout.host}:{layout.ports.applicant_api}/healthz")


def risk_service_health(layout: StackLayout) -> Health:
    return _http_health(f"http://{layout.host}:{layout.ports.risk_service}/healthz")


def producer_health(layout: StackLayout) -> Health:
    """What the producer works with answers: the applicant API, and Kafka with its topics."""
    api = applicant_api_health(layout)
    if not api.ok:
        return Health(False, f"applicant API: {api.detail}")
    kafka = kafka_brokers_and_topics(layout)
    return Health(kafka.ok, f"publishing to Kafka: {kafka.detail}")
