"""The outbox relay: unpublished outbox rows -> the order-events SQS queue, at least once.

A run claims the oldest unpublished rows (FOR UPDATE SKIP LOCKED, so concurrent relays split the
work instead of queueing), sends them with one SendMessageBatch, and marks the ones SQS accepted,
all inside one short transaction per batch of 10. A crash after the send but before the commit
leaves the rows unpublished, so they are sent again: duplicates are possible, loss is not, and the
consumer dedupes by event id (docs/orders.md).

Two triggers: the `relay_outbox` schedule every minute (bounded number of batches per run), and
`kick()` right after a transaction that wrote events commits (the outbox's after-commit hook): one
batch, best effort, never raising, and skipped for a while after a failure so an SQS outage does
not slow every request down. The kick
costs the request one SQS round trip; OUTBOX_PUBLISH_AFTER_COMMIT=false leaves publishing to the
schedule alone (docs/orders.md weighs the two).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..adapters.sqs import SQS_BATCH, Sqs
from ..platform.config import Settings
from ..platform.db import Database
from ..platform.logs import get_logger
from . import outbox
from .outbox import PendingEvent

log = get_logger(__name__)

KICK_PAUSE_AFTER_FAILURE_S = 30.0


@dataclass(frozen=True)
class RelayReport:
    published: int = 0
    failed: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"published": self.published, "failed": self.failed, "batches": self.batches}


def envelope(event: PendingEvent) -> dict[str, Any]:
    """The message body: the consumer's `OrderEvent` (orders/messages.py)."""
    return {
        "event_id": str(event.id),
        "event_type": event.event_type,
        "aggregate_id": str(event.aggregate_id),
        "occurred_at": event.created_at.isoformat(),
        "request_id": event.request_id,
        "payload": event.payload,
    }


class OutboxRelay:
    def __init__(self, db: Database, settings: Settings, sqs: Sqs):
        self._db = db
        self._settings = settings
        self._sqs = sqs
        self._paused_until = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._settings.order_events_queue_url)

    def publish_pending(self, max_batches: int = 50) -> RelayReport:
        """Relay up to `max_batches` x 10 events; stops early when the outbox is empty or SQS fails."""
        if not self.enabled:
            return RelayReport()
        published = failed = batches = 0
        for _ in range(max_batches):
            with self._db.transaction() as tx:
                events = outbox.claim(tx, SQS_BATCH)
                if not events:
                    break
                sent, errors = self._send(events)
                outbox.mark_published(tx, sent)
                for error, ids in _group(errors).items():
                    outbox.mark_failed(tx, ids, error)
            batches += 1
            published += len(sent)
            failed += len(errors)
            if errors:
                break  # SQS is unhappy: the next run (or kick) tries again
        if published or failed:
            log.info("outbox relayed", extra={"published": published, "failed": failed, "batches": batches})
        return RelayReport(published, failed, batches)

    def kick(self) -> None:
        """Best effort, right after a commit: publish one batch now instead of within the minute."""
        if not (self.enabled and self._settings.outbox_publish_after_commit) or time.monotonic() < self._paused_until:
            return
        try:
            report = self.publish_pending(max_batches=1)
        except Exception as exc:  # noqa: BLE001 - the request that kicked us has already succeeded
            report = RelayReport(failed=1)
            log.warning("outbox kick failed; the scheduled relay will publish", extra={"error": str(exc)})
        if report.failed:
            with self._lock:
                self._paused_until = time.monotonic() + KICK_PAUSE_AFTER_FAILURE_S

    def _send(self, events: list[PendingEvent]) -> tuple[list[Any], dict[Any, str]]:
        by_entry = {str(e.id): e for e in events}
        entries = []
        for event in events:
            attributes = {"event_type": {"DataType": "String", "StringValue": event.event_type}}
            if event.request_id:
                attributes["request_id"] = {"DataType": "String", "StringValue": event.request_id}
            entries.append(
                {
                    "Id": str(event.id),
                    "MessageBody": json.dumps(envelope(event), default=str),
                    "MessageAttributes": attributes,
                }
            )
        try:
            refused = self._sqs.send_batch(self._settings.order_events_queue_url or "", entries)
        except Exception as exc:  # noqa: BLE001 - network or service error: nothing was marked sent
            log.warning("outbox send failed", extra={"error": str(exc), "events": len(events)})
            return [], {e.id: f"{type(exc).__name__}: {exc}" for e in events}
        sent = [e.id for key, e in by_entry.items() if key not in refused]
        return sent, {by_entry[key].id: error for key, error in refused.items()}


def _group(errors: dict[Any, str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for event_id, error in errors.items():
        grouped.setdefault(error, []).append(event_id)
    return grouped
