"""Liveness (DESIGN promise 9): every order reaches CONFIRMED or a final state within a documented bound,
even when its message is lost.

An order waits in PENDING for one message, its OrderCreated event. The outbox makes sure the event is
sent at least once, and the consumer's dedupe (processed_events) makes any number of deliveries one
effect; but a queue that accepted the message and then lost it would leave the order PENDING forever.
`recover_stalled_orders` (every 5 minutes) closes that gap:

1. An order still PENDING `ORDER_RESEND_AFTER_SECONDS` after it was placed, whose OrderCreated was
   published at least that long ago, has the very same event re-sent: its outbox row is marked
   unpublished, and the relay sends it again (same event id, so a delivery that did arrive makes the
   re-sent one a no-op). This repeats every ORDER_RESEND_AFTER_SECONDS while the order waits.
2. An order still PENDING `ORDER_FAIL_AFTER_SECONDS` after it was placed is FAILED through the state
   machine (points refunded, stock restored, OrderStatusChanged written), with the reason recorded.
   A confirmation arriving later is then a stale no-op. Bound: ORDER_FAIL_AFTER_SECONDS plus the job's
   period (default 60 + 5 minutes).

The other states that wait on something are watched in the same run: outbox events still unpublished
after the resend bound (the queue refuses them: the relay keeps trying; counted and logged so an alarm
can fire), and reservations HELD past their expiry (released here if the release job has fallen behind).
Each recovered order gets a log line; each run writes one metric line (CloudWatch EMF).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..events import outbox
from ..platform import logs
from ..platform.config import Settings
from ..platform.db import Database
from ..platform.errors import InvalidTransition, NotFound
from ..platform.jobs import ShouldStop, db_now
from ..reservations import repository as reservations
from ..reservations.service import ReservationService
from . import repository as orders
from .lifecycle import Action, transition
from .models import StalledOrder

log = logs.get_logger(__name__)

JOB = "recover_stalled_orders"
BATCH = 100


@dataclass(frozen=True)
class RecoveryReport:
    resent: int = 0
    failed: int = 0
    outbox_stuck: int = 0
    outbox_oldest_seconds: float = 0.0
    reservations_released: int = 0


class OrderRecovery:
    def __init__(self, db: Database, settings: Settings, reservations: ReservationService):
        self._db = db
        self._settings = settings
        self._reservations = reservations

    def run(self, should_stop: ShouldStop | None = None, now: datetime | None = None) -> RecoveryReport:
        now = now or db_now(self._db)
        resend_before = now - timedelta(seconds=self._settings.order_resend_after_seconds)
        fail_before = now - timedelta(seconds=self._settings.order_fail_after_seconds)
        failed = self._fail_overdue(fail_before, now, should_stop)
        resent = self._resend(resend_before, fail_before, now)
        stuck, oldest = self._outbox_backlog(resend_before, now)
        released = self._overdue_reservations(resend_before)
        report = RecoveryReport(resent, failed, stuck, oldest, released)
        logs.metric(
            "order recovery",
            {
                "OrdersResent": resent,
                "OrdersFailedByRecovery": failed,
                "OutboxStuck": stuck,
                "ReservationsReleasedLate": released,
            },
            dimensions={"Job": JOB},
        )
        return report

    # -- 1. re-send ----------------------------------------------------------------------------------
    def _resend(self, resend_before: datetime, fail_before: datetime, now: datetime) -> int:
        with self._db.transaction() as tx:
            rows = orders.resend_created_events(tx, resend_before, fail_before, f"re-sent by {JOB}: still PENDING")
            if rows:
                outbox.written(tx)  # the relay publishes them right after this commit
        for row in rows:
            log.warning("order still pending: OrderCreated re-sent", extra={**_order_fields(row, now), "job": JOB})
        return len(rows)

    # -- 2. give up ----------------------------------------------------------------------------------
    def _fail_overdue(self, fail_before: datetime, now: datetime, should_stop: ShouldStop | None) -> int:
        failed = 0
        while should_stop is None or not should_stop():
            with self._db.reader() as tx:
                overdue = orders.pending_before(tx, fail_before, BATCH)
            for row in overdue:
                if self._fail_one(row.order_id, now):
                    failed += 1
                    log.error(
                        "order not confirmed in time: FAILED, points refunded, stock restored",
                        extra={**_order_fields(row, now), "job": JOB},
                    )
            if len(overdue) < BATCH:
                break
        return failed

    def _fail_one(self, order_id: UUID, now: datetime) -> bool:
        reason = f"not confirmed within {self._settings.order_fail_after_seconds} s ({JOB})"
        try:
            with self._db.transaction() as tx:
                return transition(tx, order_id, Action.FAIL, reason=reason, read_back=False).changed
        except (InvalidTransition, NotFound):
            return False  # confirmed or cancelled meanwhile: nothing to recover

    # -- the other waiting states --------------------------------------------------------------------
    def _outbox_backlog(self, resend_before: datetime, now: datetime) -> tuple[int, float]:
        with self._db.reader() as tx:
            stuck, oldest_at = outbox.unpublished_before(tx, resend_before)
        oldest = (now - oldest_at).total_seconds() if oldest_at else 0.0
        if stuck:
            log.error(
                "outbox events not published in time (is the queue reachable?)",
                extra={"count": stuck, "oldest_seconds": round(oldest, 1), "job": JOB},
            )
        return stuck, oldest

    def _overdue_reservations(self, resend_before: datetime) -> int:
        with self._db.reader() as tx:
            overdue = reservations.held_past(tx, resend_before)
        if not overdue:
            return 0
        released = self._reservations.expire_due()
        log.warning("reservations held past their expiry released", extra={"count": released, "job": JOB})
        return released


def _order_fields(row: StalledOrder, now: datetime) -> dict[str, Any]:
    return {"order_id": str(row.order_id), "age_seconds": round((now - row.created_at).total_seconds(), 1)}
