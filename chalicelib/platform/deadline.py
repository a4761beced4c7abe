"""A per-request deadline, so no API request outlives API Gateway's 29 s integration timeout.

Why: per-call timeouts alone do not bound a request that makes several slow calls. The HTTP
middleware (app.py, "deploy-time handlers") starts a deadline for each request; the database layer
shortens its socket timeouts to what is left and gives up with 503 DATABASE_UNAVAILABLE when
nothing is. Outside HTTP (queue handlers, jobs) there is no deadline and nothing changes.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

# 29 s gateway timeout minus room for the response and the function's own overhead.
API_REQUEST_BUDGET_SECONDS = 25.0

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("xanadu_deadline", default=None)


def remaining() -> float | None:
    """Seconds left for the current request, or None when no deadline applies."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def bounded(timeout: float) -> float:
    """`timeout`, shortened to what the current request has left (never below 1 ms)."""
    left = remaining()
    return timeout if left is None else max(0.001, min(timeout, left))


@contextmanager
def request_deadline(seconds: float = API_REQUEST_BUDGET_SECONDS) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)
