"""Kafka's SCRAM users and ACLs, kept as the kafka role declares them, through the admin API.

The kafka role (``tasks/access.yml``, with ``kafka_security_enabled``) runs, on the controller,

    python -m lendstream.kafka_access apply < request.json

with a JSON request on stdin (passwords travel there, never on a command line):
``{"bootstrap": "host:port", "ca_cert": PEM, "admin_user", "admin_password",
"users": [{"name", "password"}], "acls": [{"principal", "resource_type", "name", "pattern_type",
"operations": [...]}], "retired_users": [name, ...], "check": bool}`` and prints
``{"changes": ["what", ...]}`` (no secret).

- A user is (re)set (``alter_user_scram_credentials``, SCRAM-SHA-512) when it has no such
  credential (or a retired one), or one of the ``bootstrap`` brokers, each asked alone, refuses
  its password (changed in the Vault, or behind the role's back, or lost by that broker:
  docs/security.md, "A restarted broker that refuses users"). Signing in is the only way to
  compare: Kafka keeps a salted hash, not the password. A credential set again reaches every
  running broker, including one that refused it.
- ACLs: for every principal the request names, the ALLOW bindings on host ``*`` are made exactly
  the requested ones: missing ones are created, others of that principal deleted. Principals the
  request does not name (the super users, anyone an operator added) are left alone.
- ``retired_users``: users no client signs in as any more (the previous of two alternating users
  after a password rotation, docs/security.md "Rotation"): their SCRAM-SHA-512 credential is
  replaced by one of a random password nobody keeps, marked by RETIRED_ITERATIONS, and every
  ALLOW binding of theirs removed, so the old password opens nothing. The credential is never
  deleted: Kafka 4.4.0 loses every SCRAM user of a broker that reads a deletion back from its
  metadata log at start when that deletion is the first change it applies (docs/security.md, "A
  restarted broker that refuses users: the cause"). A user both kept and retired is refused.
- ``check``: say what would change, change nothing (``ansible-playbook --check``).
A second run with the same request changes nothing.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaConnectionError, KafkaError

from lendstream.kafka_client import SASL_SSL, KafkaSecurity

ADMIN_TIMEOUT_MS = 30_000
SIGN_IN_TIMEOUT_MS = 5_000
SIGN_IN_WORKERS = 8
# A request the admin client sent to a broker that dropped the connection (one that refuses the
# administrator, say) is sent again: the client then picks another broker.
ADMIN_ATTEMPTS = 4
MECHANISM = ScramMechanism.SCRAM_SHA_512
# A retired user's credential: a random password nobody keeps, hashed with this many PBKDF2
# iterations, which no live user has (kafka-python and Kafka's own tools use 4096), so a rerun can
# tell it from a live one through describe (Kafka shows a credential's iterations, never its key).
RETIRED_ITERATIONS = 8192
ANY_HOST = "*"


T = TypeVar("T")


class KafkaAccessError(RuntimeError):
    """The users or ACLs could not be read or applied; says which and why."""


@dataclass(frozen=True, slots=True)
class AclSpec:
    """Operations one principal may do on one resource (ALLOW, from any host)."""

    principal: str  # a SCRAM user name, or a full principal "User:CN=m1"
    resource_type: str  # topic, group, cluster, transactional_id
    name: str
    operations: tuple[str, ...]
    pattern_type: str = "literal"  # or prefixed

    @property
    def kafka_principal(self) -> str:
        return self.principal if ":" in self.principal else f"User:{self.principal}"

    def bindings(self) -> set[ACL]:
        pattern = ResourcePattern(
            ResourceType[self.resource_type.upper()],
            self.name,
            ACLResourcePatternType[self.pattern_type.upper()],
        )
        return {
            ACL(
                self.kafka_principal,
                ANY_HOST,
                ACLOperation[operation.upper()],
                ACLPermissionType.ALLOW,
                pattern,
            )
            for operation in self.operations
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AclSpec:
        return cls(
            principal=str(data["principal"]),
            resource_type=str(data["resource_type"]),
            name=str(data["name"]),
            operations=tuple(str(operation) for operation in data["operations"]),
            pattern_type=str(data.get("pattern_type") or "literal"),
        )


def describe(binding: ACL) -> str:
    pattern = binding.resource_pattern
    prefix = "*" if pattern.pattern_type == ACLResourcePatternType.PREFIXED else ""
    return (
        f"{binding.principal} {binding.operation.name} "
        f"{pattern.resource_type.name.lower()} {pattern.resource_name}{prefix}"
    )


def signs_in(bootstrap: Sequence[str], security: KafkaSecurity) -> bool:
    """Whether ``security``'s user gets through SASL_SSL authentication (a metadata request)."""
    try:
        client = KafkaAdminClient(
            bootstrap_servers=list(bootstrap),
            client_id="lendstream-kafka-access-check",
            request_timeout_ms=SIGN_IN_TIMEOUT_MS,
            bootstrap_timeout_ms=SIGN_IN_TIMEOUT_MS,
            **security.client_options(),
        )
    except KafkaError:
        return False
    client.close()
    return True


def refusing_brokers(
    bootstrap: Sequence[str], ca_file: str, users: dict[str, str]
) -> dict[str, list[str]]:
    """For each user, the brokers of ``bootstrap`` that refuse its password, each broker asked
    alone (in parallel: a refusal waits out SIGN_IN_TIMEOUT_MS)."""
    pairs = [(name, broker) for name in sorted(users) for broker in bootstrap]

    def refused(pair: tuple[str, str]) -> bool:
        name, broker = pair
        security = KafkaSecurity(SASL_SSL, ca_file=ca_file, username=name, password=users[name])
        return not signs_in([broker], security)

    with ThreadPoolExecutor(max_workers=SIGN_IN_WORKERS) as pool:
        verdicts = list(pool.map(refused, pairs))
    refusals: dict[str, list[str]] = {name: [] for name in users}
    for (name, broker), is_refused in zip(pairs, verdicts, strict=True):
        if is_refused:
            refusals[name].append(broker)
    return refusals


def keep_users(
    admin: KafkaAdminClient,
    bootstrap: Sequence[str],
    ca_file: str,
    users: dict[str, str],
    check: bool,
) -> list[str]:
    """(Re)sets the users that have no live SCRAM-SHA-512 credential (none, or a retired one) or
    whose password a broker of ``bootstrap`` refuses; what was (or would be) changed."""
    present = live_users(admin, sorted(users))
    refusals = refusing_brokers(
        bootstrap, ca_file, {n: p for n, p in users.items() if n in present}
    )
    stale = sorted(name for name in users if name not in present or refusals[name])
    if stale and not check:
        upserts = [UserScramCredentialUpsertion(name, MECHANISM, users[name]) for name in stale]
        failed = {
            name: error
            for name, error in _retrying(admin.alter_user_scram_credentials, upserts).items()
            if error
        }
        if failed:
            raise KafkaAccessError(f"SCRAM credentials not set: {failed}")
    return [
        f"SCRAM user {name}: password set"
        + (f" (refused by {', '.join(refusals[name])})" if refusals.get(name) else "")
        for name in stale
    ]


def _retrying(call: Callable[..., T], *arguments: Any) -> T:
    """``call(*arguments)``, sent again when the broker it went to dropped the connection."""
    for _ in range(ADMIN_ATTEMPTS - 1):
        try:
            return call(*arguments)
        except KafkaConnectionError:
            continue
    return call(*arguments)


def live_users(admin: KafkaAdminClient, names: Sequence[str]) -> set[str]:
    """The users of ``names`` with a SCRAM-SHA-512 credential that is not a retired one."""
    if not names:
        return set()
    described = _retrying(admin.describe_user_scram_credentials, list(names))
    return {
        name
        for name, found in described.items()
        if any(
            info["mechanism"] == MECHANISM and info["iterations"] != RETIRED_ITERATIONS
            for info in found["credential_infos"]
        )
    }


def retire_users(admin: KafkaAdminClient, names: Sequence[str], check: bool) -> list[str]:
    """Replaces the live SCRAM-SHA-512 credential of each user in ``names`` by a retired one (a
    random password nobody keeps) and removes every ALLOW binding (host *) of theirs; what was
    (or would be) changed."""
    if not names:
        return []
    with_credential = sorted(live_users(admin, sorted(names)))
    bindings = sorted(
        (binding for name in sorted(names) for binding in current_bindings(admin, f"User:{name}")),
        key=describe,
    )
    if not check:
        if with_credential:
            overwrites = [
                UserScramCredentialUpsertion(
                    name, MECHANISM, secrets.token_urlsafe(32), iterations=RETIRED_ITERATIONS
                )
                for name in with_credential
            ]
            failed = {
                name: error
                for name, error in _retrying(admin.alter_user_scram_credentials, overwrites).items()
                if error
            }
            if failed:
                raise KafkaAccessError(f"SCRAM credentials not retired: {failed}")
        if bindings:
            _retrying(admin.delete_acls, [_exact_filter(b) for b in bindings])
    return [f"SCRAM user {name}: retired" for name in with_credential] + [
        f"ACL removed: {describe(b)}" for b in bindings
    ]


def current_bindings(admin: KafkaAdminClient, principal: str) -> set[ACL]:
    """Every ALLOW binding on host * of ``principal``."""
    wanted = ACLFilter(
        principal=principal,
        host=ANY_HOST,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )
    found, error = _retrying(admin.describe_acls, wanted)
    if error.errno:  # NoError has errno 0
        raise KafkaAccessError(f"ACLs of {principal} not described: {error}")
    return set(found)


def keep_acls(admin: KafkaAdminClient, specs: Sequence[AclSpec], check: bool) -> list[str]:
    """Makes each named principal's bindings exactly the requested ones; what changed."""
    wanted: dict[str, set[ACL]] = {}
    for spec in specs:
        wanted.setdefault(spec.kafka_principal, set()).update(spec.bindings())
    missing: list[ACL] = []
    extra: list[ACL] = []
    for principal, bindings in sorted(wanted.items()):
        present = current_bindings(admin, principal)
        missing += sorted(bindings - present, key=describe)
        extra += sorted(present - bindings, key=describe)
    if not check:
        if missing:
            failed = _retrying(admin.create_acls, missing)["failed"]
            if failed:
                raise KafkaAccessError(f"ACLs not created: {failed}")
        if extra:
            _retrying(admin.delete_acls, [_exact_filter(b) for b in extra])
    return [f"ACL added: {describe(b)}" for b in missing] + [
        f"ACL removed: {describe(b)}" for b in extra
    ]


def _exact_filter(binding: ACL) -> ACLFilter:
    pattern = binding.resource_pattern
    return ACLFilter(
        principal=binding.principal,
        host=binding.host,
        operation=binding.operation,
        permission_type=binding.permission_type,
        resource_pattern=ResourcePatternFilter(
            pattern.resource_type, pattern.resource_name, pattern.pattern_type
        ),
    )


def apply(request: dict[str, Any]) -> list[str]:
    """Users first (an ACL may name a user created here), then ACLs, then the retired users;
    what changed."""
    try:
        bootstrap = [str(server) for server in _as_list(request["bootstrap"])]
        ca_cert = str(request["ca_cert"])
        admin_security = {
            "username": str(request["admin_user"]),
            "password": str(request["admin_password"]),
        }
        users = {str(user["name"]): str(user["password"]) for user in request.get("users", [])}
        specs = [AclSpec.from_dict(acl) for acl in request.get("acls", [])]
        retired = [str(name) for name in request.get("retired_users", [])]
        check = bool(request.get("check", False))
    except (KeyError, TypeError, ValueError) as error:
        raise KafkaAccessError(f"a malformed request: {error!r}") from None
    if any(not password for password in users.values()):
        raise KafkaAccessError("every user needs a password (from the Vault)")
    kept_and_retired = sorted(set(retired) & (set(users) | {spec.principal for spec in specs}))
    if kept_and_retired:
        raise KafkaAccessError(f"users both kept and retired: {', '.join(kept_and_retired)}")
    with tempfile.TemporaryDirectory(prefix="lendstream-kafka-access-") as scratch:
        ca_file = Path(scratch) / "ca.crt"
        ca_file.write_text(ca_cert)
        security = KafkaSecurity(SASL_SSL, ca_file=str(ca_file), **admin_security)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="lendstream-kafka-access",
                request_timeout_ms=ADMIN_TIMEOUT_MS,
                **security.client_options(),
            )
        except KafkaError as error:
            raise KafkaAccessError(
                f"the admin user cannot reach {','.join(bootstrap)}: {error!r}"
            ) from None
        try:
            changed = keep_users(admin, bootstrap, str(ca_file), users, check)
            changed += keep_acls(admin, specs, check)
            return changed + retire_users(admin, retired, check)
        except KafkaError as error:
            raise KafkaAccessError(f"the admin API refused: {error!r}") from None
        finally:
            admin.close()


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["apply"]:
        print("usage: python -m lendstream.kafka_access apply < request.json", file=sys.stderr)
        return 2
    try:
        request = json.load(sys.stdin)
        if not isinstance(request, dict):
            raise KafkaAccessError("the request must be a JSON object")
        print(json.dumps({"changes": apply(request)}))
    except (KafkaAccessError, ValueError) as error:
        print(f"kafka_access: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
