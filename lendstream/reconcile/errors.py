"""The reconcile's own error."""

from __future__ import annotations


class CannotReconcileError(RuntimeError):
    """The check could not be made (as opposed to: it was made and found differences)."""
