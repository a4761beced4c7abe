"""The order-events consumer behind `on_sqs_message` (batches of up to 10).

Per record, in its own transaction:
- OrderCreated: call the fulfilment partner (when configured), then CONFIRM (accepted) or FAIL
  (refused, or still unreachable on the last receive the redrive policy allows: "processing gave
  up"); FAIL refunds and restocks. A transient failure before the last receive fails the record,
  and SQS delivers it again.
- OrderStatusChanged: email the member (best effort; email never fails anything).
- Any other event type: acknowledged and ignored (the outbox may carry other domains' events).

Effectively once: the effect and a `processed_events` row keyed by the event id commit together,
so a duplicate (relay retry, SQS redelivery, a redriven dead letter, a batch retried because a
batch-mate failed) finds the row and changes nothing. Out of order: effects are state-machine
transitions, so a stale event (confirming an order that was cancelled meanwhile) is a no-op.

Batch outcome (docs/orders.md): records that failed are reported as `batchItemFailures` when the
event source mapping has ReportBatchItemFailures (SQS_BATCH_RESPONSE=report, set by
infra/merge-template.yml). Without it (SQS_BATCH_RESPONSE=raise, the default) the records that
succeeded are deleted from the queue explicitly and the handler raises, so only the failed ones
come back; if that delete fails, the successes come back too and are no-ops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from ..adapters.email import Notifier
from ..adapters.fulfilment import FulfilmentClient, FulfilmentDecision, FulfilmentUnavailable
from ..adapters.sqs import Sqs
from ..events import inbox as processed_events
from ..members import repository as members
from ..platform.config import Settings
from ..platform.db import Database
from ..platform.errors import InvalidTransition, NotFound
from ..platform.logs import get_logger, request_id_var
from . import repository as orders
from .lifecycle import Action, transition
from .messages import OrderCreatedPayload, OrderEvent, StatusChangedPayload

log = get_logger(__name__)
P = TypeVar("P", bound=BaseModel)

# Seconds of Lambda time kept in reserve beyond the fulfilment call's worst case before starting a record.
_RECORD_RESERVE_S = 2.0


class PoisonMessage(Exception):
    """The message can never be processed as it is (malformed, or names an order that does not exist).

    It is failed on every receive, so the redrive policy moves it to the DLQ for a human.
    """


class BatchIncomplete(Exception):
    """Raised (SQS_BATCH_RESPONSE=raise) after deleting the successes, so the failures are retried."""


class _Duplicate(Exception):
    """Another delivery of this event committed first; roll this one back."""


@dataclass(frozen=True)
class RecordResult:
    message_id: str
    outcome: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class OrderEventProcessor:
    def __init__(self, db: Database, settings: Settings, sqs: Sqs, fulfilment: FulfilmentClient, notifier: Notifier):
        self._db = db
        self._settings = settings
        self._sqs = sqs
        self._fulfilment = fulfilment
        self._notifier = notifier

    # -- the batch -------------------------------------------------------------------------------
    def handle_batch(
        self, records: list[dict[str, Any]], remaining_ms: Callable[[], int] | None = None
    ) -> dict[str, list[dict[str, str]]]:
        """Process a Lambda SQS event's records; see the module docstring for the return contract."""
        results: list[RecordResult] = []
        reserve_ms = (self._fulfilment.worst_case_seconds() + _RECORD_RESERVE_S) * 1000
        for index, record in enumerate(records):
            if remaining_ms is not None and index and remaining_ms() < reserve_ms:
                # Not enough time left to finish one more safely: hand the rest back untouched.
                results += [
                    RecordResult(r.get("messageId", ""), "not attempted", "out of time") for r in records[index:]
                ]
                break
            results.append(self.process_record(record))
        failed = [r.message_id for r in results if not r.ok]
        if not failed:
            return {"batchItemFailures": []}
        if self._settings.sqs_batch_response == "report":
            return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
        self._delete([rec for rec, res in zip(records, results, strict=True) if res.ok])
        raise BatchIncomplete(f"{len(failed)} of {len(records)} record(s) failed: {', '.join(failed)}")

    def _delete(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        try:
            arn = records[0].get("eventSourceARN")
            queue_url = self._sqs.url_of_arn(arn) if arn else self._settings.order_events_queue_url
            if queue_url:
                self._sqs.delete_batch(queue_url, [r["receiptHandle"] for r in records])
        except Exception as exc:  # noqa: BLE001 - they come back and are deduplicated no-ops
            log.warning("could not delete the batch's successes", extra={"error": str(exc)})

    # -- one record --------------------------------------------------------------------------------
    def process_record(self, record: dict[str, Any]) -> RecordResult:
        message_id = record.get("messageId", "")
        started = time.perf_counter()
        token = request_id_var.set(request_id_var.get())
        try:
            event = self._parse(record)
            request_id_var.set(event.request_id or message_id)
            receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            if event.event_type == "OrderCreated":
                outcome = self._order_created(event, receive_count)
            elif event.event_type == "OrderStatusChanged":
                outcome = self._status_changed(event)
            else:
                outcome = "ignored"
            log.info(
                "order event",
                extra={
                    "message_id": message_id,
                    "event_id": str(event.event_id),
                    "event_type": event.event_type,
                    "outcome": outcome,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return RecordResult(message_id, outcome)
        except Exception as exc:
            permanent = isinstance(exc, PoisonMessage)
            log.log(
                logging.ERROR if permanent else logging.WARNING,
                "order event failed",
                exc_info=not isinstance(exc, (PoisonMessage, FulfilmentUnavailable)),
                extra={"message_id": message_id, "error": f"{type(exc).__name__}: {exc}", "poison": permanent},
            )
            return RecordResult(message_id, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _parse(record: dict[str, Any]) -> OrderEvent:
        try:
            return OrderEvent.model_validate_json(record["body"])
        except (ValidationError, KeyError, TypeError) as exc:
            raise PoisonMessage(f"not an order event: {exc}") from None

    def _order_created(self, event: OrderEvent, receive_count: int) -> str:
        payload = _payload(OrderCreatedPayload, event)
        decision = FulfilmentDecision(True)
        if self._fulfilment.enabled:
            # Look before calling out: a duplicate or stale event must not reach the partner again.
            with self._db.reader() as tx:
                if processed_events.seen(tx, event.event_id):
                    return "duplicate"
                head = orders.head(tx, payload.order_id)
            if head is None:
                raise PoisonMessage(f"unknown order {payload.order_id}")
            if head.status != "PENDING":
                return self._apply(event, payload.order_id, Action.CONFIRM, None)  # stale or no-op
            try:
                decision = self._fulfilment.submit(
                    payload.order_id,
                    {
                        "order_id": str(payload.order_id),
                        "member_id": str(payload.member_id),
                        "total_points": event.payload.get("total_points"),
                        "items": event.payload.get("items", []),
                    },
                )
            except FulfilmentUnavailable as exc:
                if receive_count < self._settings.order_events_max_receives:
                    raise
                decision = FulfilmentDecision(False, f"gave up after {receive_count} receives: {exc}")
        action = Action.CONFIRM if decision.accepted else Action.FAIL
        return self._apply(event, payload.order_id, action, decision.reason)

    def _apply(self, event: OrderEvent, order_id: UUID, action: Action, reason: str | None) -> str:
        try:
            with self._db.transaction() as tx:
                try:
                    result = transition(tx, order_id, action, reason=reason, read_back=False)
                    outcome = result.status if result.changed else f"already {result.status}"
                except InvalidTransition as exc:
                    outcome = f"stale ({exc.details[0]['status']})"  # the order has moved on
                except NotFound:
                    raise PoisonMessage(f"unknown order {order_id}") from None
                if not processed_events.claim(tx, event.event_id, event.event_type, outcome):
                    raise _Duplicate()
            return outcome
        except _Duplicate:
            return "duplicate"

    def _status_changed(self, event: OrderEvent) -> str:
        payload = _payload(StatusChangedPayload, event)
        try:
            with self._db.transaction() as tx:
                member = members.get(tx, payload.member_id)
                if member is None:
                    raise PoisonMessage(f"unknown member {payload.member_id}")
                if not processed_events.claim(tx, event.event_id, event.event_type, "notified"):
                    raise _Duplicate()
        except _Duplicate:
            return "duplicate"
        if member.erased:
            return "not notified (member erased)"
        # After the commit: at most one email per event (see docs/orders.md), and never an error.
        subject, text = _status_email(payload, event.payload.get("total_points"))
        try:
            sent = self._notifier.send(member.email, subject, text, kind="order_status")
        except Exception as exc:  # noqa: BLE001 - Notifier promises not to raise; belt and braces
            log.warning("order status email failed", extra={"error": str(exc)})
            sent = False
        return "notified" if sent else "notification failed"


def _payload(model: type[P], event: OrderEvent) -> P:
    try:
        return model.model_validate(event.payload)
    except ValidationError as exc:
        raise PoisonMessage(f"bad {event.event_type} payload: {exc}") from None


_STATUS_WORDS = {
    "CONFIRMED": "has been confirmed",
    "PACKED": "has been packed and is on its way to the carrier",
    "DELIVERED": "has been delivered. Enjoy!",
    "CANCELLED": "has been cancelled",
    "FAILED": "could not be fulfilled",
}


def _status_email(payload: StatusChangedPayload, total_points: Any) -> tuple[str, str]:
    short = str(payload.order_id)[:8]
    subject = f"Your Xanadu Rewards order {short} {payload.to_status.lower()}"
    text = f"Your order {payload.order_id} {_STATUS_WORDS.get(payload.to_status, 'changed')}."
    if payload.to_status in ("CANCELLED", "FAILED") and total_points:
        text += f" The {total_points} points it cost are back in your balance."
    return subject, text
