"""What every scheduled job shares: a run id on every log line, start/finish/failure lines, the clock,
and stopping cleanly before the Lambda's time is up.

A scheduled handler in app.py is `run_scheduled("expire_points", event, lambda stop: ...)`; the
operator CLI (devtools/ops.py) calls the same services with a progress callback.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from .db import Database
from .logs import get_logger, request_id_var

log = get_logger("xanadu.jobs")

T = TypeVar("T")
# Called after each committed batch with the job's running report.
Progress = Callable[[Any], None]
# Asked between batches; True stops the job cleanly (e.g. the Lambda is about to time out).
ShouldStop = Callable[[], bool]


def db_now(db: Database) -> datetime:
    """The database clock: lots and ledger rows are stamped by it, so jobs measure time by it too."""
    with db.reader() as tx:
        now: datetime = tx.fetch_value("SELECT now()")
    return now


def run_job(name: str, work: Callable[[], T]) -> T:
    """Run one job with a fresh run id as the request id (carried into outbox events it writes)."""
    run_id = f"job-{name}-{uuid.uuid4()}"
    token = request_id_var.set(run_id)
    started = time.perf_counter()
    log.info("job started", extra={"job": name})
    try:
        result = work()
    except Exception:
        log.exception("job failed", extra={"job": name, "seconds": round(time.perf_counter() - started, 3)})
        raise
    else:
        summary = (
            dataclasses.asdict(result)
            if dataclasses.is_dataclass(result) and not isinstance(result, type)
            else {"result": result}
        )
        log.info("job finished", extra={"job": name, "seconds": round(time.perf_counter() - started, 3), **summary})
        return result
    finally:
        request_id_var.reset(token)


def lambda_deadline(context: Any, margin_ms: int = 20_000) -> ShouldStop | None:
    """Stop between batches when the Lambda has less than `margin_ms` left (None outside Lambda)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return lambda: remaining() < margin_ms


def run_scheduled(name: str, event: Any, work: Callable[[ShouldStop | None], Any]) -> dict[str, Any]:
    """A schedule handler's body: JSON logs with the job name and a run id, `work(should_stop)` that stops
    between batches before the Lambda times out, and the job's report as a JSON-able dict."""
    import os

    from .logs import configure

    configure(os.environ.get("LOG_LEVEL", "INFO"))
    should_stop = lambda_deadline(getattr(event, "context", None))
    result = run_job(name, lambda: work(should_stop))
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if isinstance(result, dict):
        return result
    return {"result": result}
