"""Business refusals raised by the money functions in SQL (migration 0011), as domain errors.

The functions raise with SQLSTATEs of our own class XR; a service wraps its call in
`with money_outcomes():` so callers see the same domain errors the Python code raised before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pg8000.exceptions import DatabaseError

from .db import sqlstate
from .errors import InsufficientPoints, OutOfStock

INSUFFICIENT_POINTS = "XR001"
OUT_OF_STOCK = "XR002"
LEDGER_INVARIANT = "XR003"


class LedgerInvariantBroken(RuntimeError):
    """Lots do not cover the balance: a bug, never a user error. Rolls the transaction back."""


def _field(exc: DatabaseError, key: str) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    value = info.get(key)
    return value if isinstance(value, str) else ""


def _required(message: str) -> int:
    return int(message.rsplit(":", 1)[-1].strip())


@contextmanager
def money_outcomes() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        state = sqlstate(exc)
        if state == INSUFFICIENT_POINTS:
            available = _field(exc, "D")
            raise InsufficientPoints(_required(_field(exc, "M")), int(available) if available else None) from exc
        if state == OUT_OF_STOCK:
            raise OutOfStock(_field(exc, "D")) from exc
        if state == LEDGER_INVARIANT:
            raise LedgerInvariantBroken(_field(exc, "M")) from exc
        raise
