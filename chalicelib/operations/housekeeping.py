"""Hourly clean-up of bookkeeping rows that have served their purpose, in bounded batches.

Outbox events are not bookkeeping any more: they are the event archive (events/archive.py), kept
until exported and past EVENT_RETENTION_DAYS by the daily export_events job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..events import inbox as processed_events
from ..platform.db import Database, Tx
from ..platform.idempotency import IdempotencyService

# Longer than a message can live (4 days on order-events + up to 14 in the DLQ + a redrive): a
# redelivery older than this would be deduplicated by the state machine alone.
PROCESSED_EVENTS_RETENTION = timedelta(days=30)


class Housekeeping:
    def __init__(self, db: Database, idempotency: IdempotencyService):
        self._db = db
        self._idempotency = idempotency

    def run(self, batch: int = 1000) -> dict[str, int]:
        now = datetime.now(UTC)
        return {
            "idempotency_keys": self._idempotency.purge_expired(batch),
            "processed_events": self._purge(processed_events.purge_before, now - PROCESSED_EVENTS_RETENTION, batch),
        }

    def _purge(self, purge: Callable[[Tx, datetime, int], int], cutoff: datetime, batch: int) -> int:
        total = 0
        while True:
            with self._db.transaction() as tx:
                deleted = purge(tx, cutoff, batch)
            total += deleted
            if deleted < batch:
                return total
