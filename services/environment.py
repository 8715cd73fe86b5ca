"""Reading the services' settings from the environment: typed values and secrets.

Every service keeps its settings in one ``settings`` module that calls these helpers, so a wrong
value fails at start-up with the variable's name and what was expected, never deep in a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lendstream.kafka_client import KafkaSecurity, KafkaSecurityError


class SettingsError(ValueError):
    """An environment variable is missing or holds a value of the wrong kind."""


def text(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable's value, or ``default`` when it is unset or empty."""
    value = env.get(name, "").strip()
    return value or default


def integer(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    """An integer variable within ``[minimum, maximum]``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise SettingsError(f"{name} must be at least {minimum}{upper}, got {value}")
    return value


def number(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0.0,
    maximum: float | None = None,
) -> float:
    """A decimal variable within ``[minimum, maximum]``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum:g}"
        raise SettingsError(f"{name} must be at least {minimum:g}{upper}, got {raw}")
    return value


def secret(env: Mapping[str, str], name: str, *, required: bool = True) -> str | None:
    """A secret from ``NAME`` or, preferably, from the file named by ``NAME_FILE``.

    The file form keeps the secret out of the process table and shell history; a trailing
    newline in the file is ignored.
    """
    file_name = env.get(f"{name}_FILE", "").strip()
    if file_name:
        path = Path(file_name)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SettingsError(f"{name}_FILE={file_name} cannot be read: {error}") from None
        if not value:
            raise SettingsError(f"{name}_FILE={file_name} is empty")
        return value
    value = env.get(name, "").strip()
    if value:
        return value
    if required:
        raise SettingsError(f"set {name}_FILE (a file holding the secret) or {name}")
    return None


def environment() -> Mapping[str, str]:
    """The process environment (a seam so settings can be built from any mapping in tests)."""
    return os.environ


def kafka_security(env: Mapping[str, str]) -> KafkaSecurity:
    """The Kafka client security of the LENDSTREAM_KAFKA_* variables (lendstream.kafka_client)."""
    try:
        return KafkaSecurity.from_env(env)
    except KafkaSecurityError as error:
        raise SettingsError(str(error)) from None
