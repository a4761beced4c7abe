"""Promise 9 / issue 10 finding 7: every order reaches CONFIRMED or a final state within the documented bound
(ORDER_FAIL_AFTER_SECONDS + the recover_stalled_orders period), even when its message is lost: the event was
marked published, then the queue lost it, and nothing else would ever look at the order again."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from chalicelib.container import services
from chalicelib.events.relay import envelope
from chalicelib.platform.config import get_settings
from chalicelib.platform.jobs import db_now
from tests.support.orders import place, status_of, stock, sums

USER = "liveness@example.com"


def created_event(db, order_id: str):
    from chalicelib.events.outbox import PendingEvent

    with db.reader() as tx:
        row = tx.fetch_one(
            "SELECT id, event_type, aggregate_id, payload, request_id, created_at, attempts, published_at "
            "FROM outbox_events WHERE aggregate_id = :o AND event_type = 'OrderCreated'",
            o=order_id,
        )
    published = row.pop("published_at")
    payload = row["payload"]
    row["payload"] = json.loads(payload) if isinstance(payload, str) else payload
    return PendingEvent(**row), published


def deliver(event) -> str:
    """What SQS + the handler do with one message carrying `event`."""
    record = {"messageId": f"m-{event.id}", "body": json.dumps(envelope(event), default=str), "attributes": {}}
    return services().order_events.process_record(record).outcome


@pytest.fixture
def lost_order(api, db, product_ids):
    """An order whose OrderCreated was published (the relay marked it) and then lost by the queue."""
    placed = place(api, USER, [(product_ids["T-MUG"], 2)])
    assert placed.status_code == 201, placed.json_body
    order_id = placed.json_body["order"]["id"]
    _, published_at = created_event(db, order_id)
    assert published_at is not None  # the after-commit relay sent it: from here on, only recovery can help
    return order_id


def test_an_order_whose_message_was_lost_gets_its_event_resent_and_is_confirmed(db, lost_order, caplog):
    settings = get_settings()
    now = db_now(db)
    early = services().order_recovery.run(now=now + timedelta(seconds=settings.order_resend_after_seconds - 5))
    assert early.resent == 0  # not stalled yet
    with caplog.at_level(logging.INFO):
        report = services().order_recovery.run(now=now + timedelta(seconds=settings.order_resend_after_seconds + 5))
    assert report.resent == 1 and report.failed == 0
    event, published_at = created_event(db, lost_order)
    assert published_at is not None  # re-published right after the recovery committed (after-commit relay)
    lines = [r for r in caplog.records if getattr(r, "order_id", None) == lost_order]
    assert lines and lines[0].getMessage().startswith("order still pending")
    assert any(getattr(r, "_emf", {}).get("OrdersResent") == 1 for r in caplog.records)  # the metric line
    # The re-sent message is the same event: it confirms the order once, and a late original is a no-op.
    assert deliver(event) == "CONFIRMED"
    assert deliver(event) == "duplicate"
    assert status_of(db, lost_order) == "CONFIRMED"
    # Nothing left to recover: a confirmed order is never re-sent or failed.
    later = services().order_recovery.run(now=now + timedelta(seconds=settings.order_fail_after_seconds + 60))
    assert (later.resent, later.failed) == (0, 0)


def test_an_order_still_pending_past_the_bound_is_failed_with_refund_and_restock(db, lost_order, caplog):
    settings = get_settings()
    before_stock = stock(db, "T-MUG")
    with caplog.at_level(logging.INFO):
        report = services().order_recovery.run(
            now=db_now(db) + timedelta(seconds=settings.order_fail_after_seconds + 1)
        )
    assert report.failed == 1
    assert status_of(db, lost_order) == "FAILED"
    assert stock(db, "T-MUG") == before_stock + 2
    assert sums(db, USER) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    with db.reader() as tx:
        reason = tx.fetch_value(
            "SELECT reason FROM order_status_history WHERE order_id = :o AND status = 'FAILED'", o=lost_order
        )
    assert "recover_stalled_orders" in reason
    assert any(getattr(r, "order_id", None) == lost_order and r.levelno == logging.ERROR for r in caplog.records)
    # The lost message turning up after all changes nothing: the order has moved on.
    event, _ = created_event(db, lost_order)
    assert deliver(event).startswith("stale")
    assert sums(db, USER) == {"balance": 1000, "ledger": 1000, "lots": 1000}


def test_the_job_is_registered_and_runs_as_a_schedule(db, lost_order):
    import app as app_module

    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2030-01-01T00:15:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/recover_stalled_orders"],
        "detail": {},
    }
    result = app_module.recover_stalled_orders(event, None)  # as Lambda calls it
    assert result == {
        "resent": 0,
        "failed": 0,
        "outbox_stuck": 0,
        "outbox_oldest_seconds": 0.0,
        "reservations_released": 0,
    }


def test_events_the_queue_keeps_refusing_are_counted(db, lost_order):
    with db.transaction() as tx:
        tx.execute("UPDATE outbox_events SET published_at = NULL WHERE aggregate_id = :o", o=lost_order)
    settings = get_settings()
    report = services().order_recovery.run(now=db_now(db) + timedelta(seconds=settings.order_resend_after_seconds + 1))
    assert report.outbox_stuck >= 1 and report.outbox_oldest_seconds > settings.order_resend_after_seconds
