"""lendstream.file_lock: a second open file waits for the first's lock, within its bound."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

from lendstream import file_lock


def test_a_held_lock_is_refused_after_the_wait_then_taken_once_released(tmp_path: Path) -> None:
    lock_path = tmp_path / ".lock"
    with lock_path.open("w") as holder, lock_path.open("w") as waiter:
        assert file_lock.acquire(holder, timeout_s=0.0, poll_s=0.05)
        started = time.monotonic()
        assert not file_lock.acquire(waiter.fileno(), timeout_s=0.3, poll_s=0.05)
        assert 0.3 <= time.monotonic() - started < 2.0
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert file_lock.acquire(waiter.fileno(), timeout_s=0.3, poll_s=0.05)
        # Now the waiter holds it: the first handle is refused in turn.
        assert not file_lock.acquire(holder, timeout_s=0.0, poll_s=0.05)
