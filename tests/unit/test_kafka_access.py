"""lendstream.kafka_access's user keeping against a stand-in admin client and stand-in sign-ins.

The real thing (a real Kafka, the role's access entry point) is in
tests/services/test_kafka_security.py; a single broker there cannot show one broker of several
refusing a user, which is what these check."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.admin import UserScramCredentialUpsertion
from kafka.errors import KafkaConnectionError

from lendstream import kafka_access
from lendstream.kafka_client import KafkaSecurity

BROKERS = ["m1:9092", "m2:9092", "m3:9092"]
PASSWORDS = {"lendstream-producer": "p", "admin": "a"}


class StandInAdmin:
    """Answers describe with the users it holds (each credential's PBKDF2 iterations); keeps and
    records every upsert; refuses deletions (the role never deletes a credential). Its first
    ``drops`` calls fail as a broker that dropped the connection would."""

    def __init__(
        self, users: set[str], drops: int = 0, retired: frozenset[str] = frozenset()
    ) -> None:
        self.iterations = {name: 4096 for name in users} | {
            name: kafka_access.RETIRED_ITERATIONS for name in retired
        }
        self.upserted: list[str] = []
        self.drops = drops

    def _maybe_drop(self) -> None:
        if self.drops:
            self.drops -= 1
            raise KafkaConnectionError("socket disconnected")

    def describe_user_scram_credentials(self, names: list[str]) -> dict[str, Any]:
        self._maybe_drop()
        return {
            name: {
                "error": None,
                "credential_infos": [
                    {"mechanism": kafka_access.MECHANISM, "iterations": self.iterations[name]}
                ]
                if name in self.iterations
                else [],
            }
            for name in names
        }

    def alter_user_scram_credentials(self, upserts: list[Any]) -> dict[str, None]:
        self._maybe_drop()
        assert all(isinstance(upsert, UserScramCredentialUpsertion) for upsert in upserts)
        self.upserted += [upsert.user for upsert in upserts]
        self.iterations |= {upsert.user: upsert.iterations for upsert in upserts}
        return {upsert.user: None for upsert in upserts}


@pytest.fixture
def refused_by(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """(user, broker) pairs whose sign-in the stand-in brokers refuse."""
    refusals: set[tuple[str, str]] = set()

    def signs_in(bootstrap: list[str], security: KafkaSecurity) -> bool:
        assert len(bootstrap) == 1, "each broker is asked alone"
        return (security.username, bootstrap[0]) not in refusals

    monkeypatch.setattr(kafka_access, "signs_in", signs_in)
    return refusals


def test_a_user_one_broker_refuses_is_set_again_and_the_change_names_that_broker(
    refused_by: set[tuple[str, str]],
) -> None:
    refused_by.add(("lendstream-producer", "m2:9092"))
    admin = StandInAdmin({"lendstream-producer", "admin"})
    changes = kafka_access.keep_users(admin, BROKERS, "ca.crt", PASSWORDS, check=False)  # type: ignore[arg-type]
    assert admin.upserted == ["lendstream-producer"]
    assert changes == ["SCRAM user lendstream-producer: password set (refused by m2:9092)"]


def test_users_every_broker_accepts_are_left_alone(refused_by: set[tuple[str, str]]) -> None:
    admin = StandInAdmin({"lendstream-producer", "admin"})
    assert kafka_access.keep_users(admin, BROKERS, "ca.crt", PASSWORDS, check=False) == []  # type: ignore[arg-type]
    assert admin.upserted == []


def test_a_missing_user_is_set_and_check_mode_only_says_so(
    refused_by: set[tuple[str, str]],
) -> None:
    admin = StandInAdmin({"admin"})
    changes = kafka_access.keep_users(admin, BROKERS, "ca.crt", PASSWORDS, check=True)  # type: ignore[arg-type]
    assert changes == ["SCRAM user lendstream-producer: password set"]
    assert admin.upserted == []


def test_a_dropped_connection_is_retried_on_another_try(
    refused_by: set[tuple[str, str]],
) -> None:
    refused_by.add(("admin", "m3:9092"))
    admin = StandInAdmin({"lendstream-producer", "admin"}, drops=2)
    changes = kafka_access.keep_users(admin, BROKERS, "ca.crt", PASSWORDS, check=False)  # type: ignore[arg-type]
    assert admin.upserted == ["admin"]
    assert changes == ["SCRAM user admin: password set (refused by m3:9092)"]


def test_a_connection_dropped_on_every_try_is_an_error() -> None:
    admin = StandInAdmin({"admin"}, drops=kafka_access.ADMIN_ATTEMPTS)
    with pytest.raises(KafkaConnectionError):
        kafka_access.keep_users(admin, BROKERS, "ca.crt", {"admin": "a"}, check=False)  # type: ignore[arg-type]


def test_a_retired_user_keeps_a_credential_nobody_knows_and_a_rerun_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No deletion ever reaches Kafka's metadata log (docs/security.md, "A restarted broker that
    refuses users: the cause"): the retired user's credential is overwritten, marked retired."""
    monkeypatch.setattr(kafka_access, "current_bindings", lambda admin, principal: set())
    admin = StandInAdmin({"lendstream-producer", "admin"})
    changes = kafka_access.retire_users(admin, ["lendstream-producer"], check=False)  # type: ignore[arg-type]
    assert changes == ["SCRAM user lendstream-producer: retired"]
    assert admin.upserted == ["lendstream-producer"]
    assert admin.iterations["lendstream-producer"] == kafka_access.RETIRED_ITERATIONS
    assert kafka_access.retire_users(admin, ["lendstream-producer"], check=False) == []  # type: ignore[arg-type]
    assert admin.upserted == ["lendstream-producer"]


def test_a_retired_user_kept_again_is_set_as_a_missing_one(
    refused_by: set[tuple[str, str]],
) -> None:
    """The next rotation brings the retired slot back: its credential counts as none."""
    admin = StandInAdmin({"admin"}, retired=frozenset({"lendstream-producer"}))
    changes = kafka_access.keep_users(admin, BROKERS, "ca.crt", PASSWORDS, check=False)  # type: ignore[arg-type]
    assert changes == ["SCRAM user lendstream-producer: password set"]
    assert admin.iterations["lendstream-producer"] != kafka_access.RETIRED_ITERATIONS
