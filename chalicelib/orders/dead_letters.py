"""The order-events DLQ for admins: look at dead letters without consuming them, and redrive them.

Redrive sends a new message with the same body and attributes to order-events, then deletes the
dead letter; a crash in between sends it twice, which the processor's event-id dedupe absorbs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..adapters.sqs import SQS_BATCH, Received, Sqs
from ..platform.config import Settings
from ..platform.logs import get_logger
from .models import DeadLetter

log = get_logger(__name__)

# Long enough to page through the DLQ without receiving a message twice; made visible again after.
_PEEK_VISIBILITY_S = 30
_REDRIVE_VISIBILITY_S = 60


class DeadLetterService:
    def __init__(self, settings: Settings, sqs: Sqs):
        self._settings = settings
        self._sqs = sqs

    def peek(self, limit: int = 100) -> list[DeadLetter]:
        dlq = self._settings.order_events_dlq_url
        if not dlq:
            return []
        seen: dict[str, Received] = {}
        while len(seen) < limit:
            batch = self._sqs.receive(
                dlq, max_messages=min(SQS_BATCH, limit - len(seen)), visibility_timeout=_PEEK_VISIBILITY_S
            )
            if not batch:
                break
            for message in batch:
                seen[message.message_id] = message
        if seen:
            self._sqs.change_visibility(dlq, [m.receipt_handle for m in seen.values()], 0)
        return [_letter(m) for m in seen.values()]

    def redrive(self, limit: int = 100) -> int:
        dlq, queue = self._settings.order_events_dlq_url, self._settings.order_events_queue_url
        if not dlq or not queue:
            return 0
        moved = 0
        while moved < limit:
            batch = self._sqs.receive(
                dlq, max_messages=min(SQS_BATCH, limit - moved), visibility_timeout=_REDRIVE_VISIBILITY_S
            )
            if not batch:
                break
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m.body,
                    **({"MessageAttributes": m.message_attributes} if m.message_attributes else {}),
                }
                for i, m in enumerate(batch)
            ]
            refused = self._sqs.send_batch(queue, entries)
            sent = [m for i, m in enumerate(batch) if str(i) not in refused]
            self._sqs.delete_batch(dlq, [m.receipt_handle for m in sent])
            moved += len(sent)
            if refused:
                log.warning("redrive refused by SQS", extra={"errors": list(refused.values())})
                break
        log.info("dead letters redriven", extra={"count": moved})
        return moved


def _letter(message: Received) -> DeadLetter:
    event_type = None
    try:
        body = json.loads(message.body)
        if isinstance(body, dict) and isinstance(body.get("event_type"), str):
            event_type = body["event_type"]
    except ValueError:
        pass
    sent_at = datetime.fromtimestamp(message.sent_at_ms / 1000, tz=UTC) if message.sent_at_ms is not None else None
    # The DLQ's own receive count includes our peeks; the attempts on order-events were maxReceiveCount.
    return DeadLetter(
        message_id=message.message_id,
        receive_count=message.receive_count,
        sent_at=sent_at,
        event_type=event_type,
        body=message.body,
    )
