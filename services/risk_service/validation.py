"""Checking a scoring request: its shape, and each clean applicant against ``CleanApplicant``.

Each field of :class:`lendstream.pipeline.record.CleanApplicant` must be present with the type
its annotation gives (``float`` accepts integers too, ``int`` accepts integral floats), ``null``
only where the annotation allows ``None``; numbers must be finite. Unknown fields are rejected:
the clean record is a fixed contract, and a misspelt optional field would otherwise be scored as
"unknown" without anyone noticing.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from lendstream.pipeline.record import CLEAN_FIELDS, CleanApplicant

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: which applicant (``None`` for the body), which field."""

    index: int | None
    field: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "problem": self.problem}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one clean field accepts."""

    kind: type
    nullable: bool


class InvalidRequestError(ValueError):
    """The request cannot be scored; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _field_specs() -> dict[str, FieldSpec]:
    specs = {}
    for name, annotation in typing.get_type_hints(CleanApplicant).items():
        members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
        if members:
            kinds = [member for member in members if member is not type(None)]
            specs[name] = FieldSpec(kind=kinds[0], nullable=len(kinds) < len(members))
        else:
            specs[name] = FieldSpec(kind=annotation, nullable=False)
    return specs


FIELD_SPECS: dict[str, FieldSpec] = _field_specs()
assert tuple(FIELD_SPECS) == CLEAN_FIELDS


def parse_request(body: Any) -> tuple[list[dict[str, Any]], bool]:
    """The applicants of a scoring request and whether it was a single ``applicant``.

    Raises :class:`InvalidRequestError` listing every problem of every applicant.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError([Problem(None, "(body)", "must be a JSON object")])
    keys = set(body) & {"applicant", "applicants"}
    extra = sorted(set(body) - {"applicant", "applicants"})
    if len(keys) != 1 or extra:
        problem = "send exactly one of applicant (an object) or applicants (a list)"
        fields = extra or sorted(keys) or ["applicants"]
        raise InvalidRequestError([Problem(None, name, problem) for name in fields])
    single = "applicant" in keys
    applicants = [body["applicant"]] if single else body["applicants"]
    if not isinstance(applicants, list):
        raise InvalidRequestError([Problem(None, "applicants", "must be a list")])
    if len(applicants) > MAX_BATCH:
        raise InvalidRequestError(
            [Problem(None, "applicants", f"at most {MAX_BATCH} per request, got {len(applicants)}")]
        )
    problems = [
        problem for index, record in enumerate(applicants) for problem in check(index, record)
    ]
    if problems:
        raise InvalidRequestError(problems)
    return applicants, single


def check(index: int, record: Any) -> list[Problem]:
    """Every problem of one clean applicant (empty: it can be scored)."""
    if not isinstance(record, dict):
        return [Problem(index, "(applicant)", f"must be an object, not {type(record).__name__}")]
    problems = [Problem(index, name, "unknown field") for name in record if name not in FIELD_SPECS]
    for name, spec in FIELD_SPECS.items():
        if name not in record:
            problems.append(Problem(index, name, "is missing"))
            continue
        problem = _value_problem(spec, record[name])
        if problem is not None:
            problems.append(Problem(index, name, problem))
    return problems


def _value_problem(spec: FieldSpec, value: Any) -> str | None:
    if value is None:
        return None if spec.nullable else "must not be null"
    if spec.kind is str:
        return _text_problem(spec, value)
    expected = _describe(spec)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be {expected}, not {_shown(value)}"
    if not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    if spec.kind is int and not float(value).is_integer():
        return f"must be {expected}, not {value!r}"
    return None


def _text_problem(spec: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be {_describe(spec)}, not {_shown(value)}"
    return None if value.strip() else f"must be {_describe(spec)}, not an empty string"


def _describe(spec: FieldSpec) -> str:
    names = {str: "a string", int: "an integer", float: "a number"}
    text = names.get(spec.kind, spec.kind.__name__)
    return f"{text} or null" if spec.nullable else text


def _shown(value: Any) -> str:
    """A short description of a wrong value; containers by size, never by a (recursive, maybe
    huge) repr of what they hold."""
    if isinstance(value, list | dict):
        return f"{type(value).__name__} of {len(value)} item(s)"
    return f"{type(value).__name__} {value!r:.40}"
