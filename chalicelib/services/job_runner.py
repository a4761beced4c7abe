"""What every points job shares: a run id on every log line, start/finish/failure lines, the clock.

A scheduled handler is `run_job("expire_points", lambda: services().expiry.run(...))`; the operator
CLI (devtools/ops.py) calls the same services with a progress callback.
"""
from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime
from typing import Any, Callable, TypeVar

from ..db import Database
from ..logs import get_logger, request_id_var

log = get_logger("xanadu.jobs")

T = TypeVar("T")
# Called after each committed batch with the job's running report.
Progress = Callable[[Any], None]
# Asked between batches; True stops the job cleanly (e.g. the Lambda is about to time out).
ShouldStop = Callable[[], bool]


def db_now(db: Database) -> datetime:
    """The database clock: lots and ledger rows are stamped by it, so jobs measure time by it too."""
    with db.reader() as tx:
        return tx.fetch_value("SELECT now()")


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
        summary = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else {"result": result}
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
