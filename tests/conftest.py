"""Session fixtures that bring up the parts of the single-machine stack a test needs.

Each fixture starts what is missing (`lendstream.stack.runtime.ensure_up`) and, at session end,
stops only what it started itself — unless `LENDSTREAM_KEEP_STACK=1`, which leaves it running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lendstream.stack import runtime
from lendstream.stack.components import with_dependencies
from lendstream.stack.runtime import StackEndpoints


def _keep_stack() -> bool:
    return os.environ.get("LENDSTREAM_KEEP_STACK", "") == "1"


def _stack_session(*components: str) -> Iterator[StackEndpoints]:
    already_healthy = runtime.healthy_components()
    started_here = [
        name for name in with_dependencies(list(components)) if name not in already_healthy
    ]
    try:
        endpoints = runtime.ensure_up(*components)
    except runtime.StackError:
        # Leave nothing half-started behind (the error names the component and its log tail).
        if not _keep_stack():
            runtime.stop(*started_here)
        raise
    yield endpoints
    if started_here and not _keep_stack():
        runtime.stop(*started_here)


@pytest.fixture(scope="session")
def stack_mysql() -> Iterator[StackEndpoints]:
    """The private MariaDB; endpoints carry the admin connection."""
    yield from _stack_session("mysql")


@pytest.fixture(scope="session")
def stack_kafka() -> Iterator[StackEndpoints]:
    """Kafka (KRaft) with the applicant and dead-letter topics."""
    yield from _stack_session("kafka")


@pytest.fixture(scope="session")
def stack_hbase() -> Iterator[StackEndpoints]:
    """HBase (master, region server, Thrift on 9090) with the `members` table; needs ZooKeeper."""
    yield from _stack_session("hbase")


@pytest.fixture(scope="session")
def stack_storm() -> Iterator[StackEndpoints]:
    """Storm nimbus, supervisor and UI; needs ZooKeeper."""
    yield from _stack_session("storm")
