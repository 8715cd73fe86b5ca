"""An exclusive lock on an open file within a bounded wait (processes sharing a directory)."""

from __future__ import annotations

import fcntl
import time
from typing import IO, Any


def acquire(file: IO[Any] | int, timeout_s: float, poll_s: float) -> bool:
    """Take an exclusive ``flock`` on the open file, trying every ``poll_s`` seconds; ``False``
    when another process still holds it after ``timeout_s`` (the caller says what it waited for).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll_s)
