"""Promise 3 and the machinery around it: outbox relay -> SQS (moto, real redrive policy) -> processor.

Each test has its own queue pair (maxReceiveCount 3, like order-events) on the session's moto
server. Messages are pumped through `devtools.worker.poll_once`, the same emulation of Lambda's SQS
event source mapping that `make run` uses, with failed messages made visible again at once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.email import Notifier
from chalicelib.adapters.fulfilment import FulfilmentClient
from chalicelib.adapters.sqs import Sqs
from chalicelib.events import outbox
from chalicelib.events.relay import OutboxRelay, envelope
from chalicelib.members import repository as members
from chalicelib.members.models import Profile
from chalicelib.orders.dead_letters import DeadLetterService
from chalicelib.orders.lifecycle import Action, transition
from chalicelib.orders.models import LineDraft
from chalicelib.orders.placement import place_order
from chalicelib.orders.processor import BatchIncomplete, OrderEventProcessor
from chalicelib.points import ledger_repository as ledger
from devtools import localaws
from devtools.worker import LocalLambda, poll_once
from tests.support.events import scheduled_event
from tests.support.orders import FulfilmentStub, settings, status_of


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def sqs(aws) -> Any:
    return localaws.client("sqs", aws.endpoint)


@pytest.fixture
def queue(sqs) -> Iterator[tuple[str, str]]:
    """(url, dlq url): a private order-events look-alike whose DLQ takes a message after 3 receives."""
    name = f"oe-test-{uuid.uuid4().hex[:8]}"
    url, dlq_url = localaws.create_queue_with_dlq(sqs, name)
    yield url, dlq_url
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


class Pipeline:
    """Relay, processor and a Lambda-like pump, all pointed at one private queue pair."""

    def __init__(self, db, sqs, queue: tuple[str, str], notifier: Notifier | None = None, **overrides: Any):
        self.db, self.sqs = db, sqs
        self.url, self.dlq_url = queue
        self.settings = settings(order_events_queue_url=self.url, order_events_dlq_url=self.dlq_url, **overrides)
        self.client = Sqs(self.settings)
        self.relay = OutboxRelay(db, self.settings, self.client)
        self.processor = OrderEventProcessor(
            db, self.settings, self.client, FulfilmentClient(self.settings), notifier or Notifier(self.settings)
        )
        self.receives: Counter[str] = Counter()  # message id -> times handed to the handler
        self.bodies: dict[str, str] = {}  # message id -> body

    def saw(self, event: dict[str, Any]) -> None:
        for record in event["Records"]:
            self.receives[record["messageId"]] += 1
            self.bodies[record["messageId"]] = record["body"]

    def receives_of(self, body: str) -> list[int]:
        return [self.receives[m] for m, b in self.bodies.items() if b == body]

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        self.saw(event)
        return self.processor.handle_batch(event["Records"], context.get_remaining_time_in_millis)

    def pump(self, handler: Callable[[dict[str, Any], Any], Any] | None = None, max_polls: int = 40) -> int:
        """Poll like an event source mapping until the queue stays empty; returns the number of polls."""
        function = LocalLambda(
            "process_order_events", "xanadu-rewards-test-process_order_events", handler or self.handler
        )
        empty = polls = 0
        # While it processes, the processor's container relays what its transactions wrote right after
        # each commit (the composition root installs the app's relay the same way).
        outbox.set_publisher(self.relay.kick)
        try:
            while empty < 2 and polls < max_polls:
                result = poll_once(self.sqs, self.url, function, 10, wait_seconds=0, retry_delay=0)
                polls += 1
                empty = empty + 1 if result.received == 0 else 0
        finally:
            outbox.set_publisher(None)
        return polls

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def dead_letters(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        return sorted(m["Body"] for m in messages)


def make_member(db, email: str, points: int = 10_000) -> uuid.UUID:
    with db.transaction() as tx:
        member_id = members.insert_customer(tx, email, Profile())
        ledger.credit(tx, member_id, "BONUS", points, "seed", lot_lifetime=timedelta(days=365))
    return member_id


def new_order(db, member_id, product_ids, sku: str = "T-CARD", quantity: int = 1) -> uuid.UUID:
    with db.transaction() as tx:
        product = uuid.UUID(product_ids[sku])
        price = tx.fetch_value("SELECT points_price FROM products WHERE id = :p", p=product)
        return place_order(tx, member_id, [LineDraft(product, sku, "", None, quantity, price)], "ORDER").order_id


def event_body(db, order_id, event_type: str = "OrderCreated") -> str:
    """The exact message the relay sends for this order's event (to replay it as a duplicate)."""
    with db.reader() as tx:
        row = tx.fetch_one(
            "SELECT id, event_type, aggregate_id, payload, request_id, created_at, attempts FROM outbox_events "
            "WHERE aggregate_id = :o AND event_type = :t ORDER BY created_at LIMIT 1",
            o=order_id,
            t=event_type,
        )
    return json.dumps(envelope(outbox.PendingEvent(**row)), default=str)


def confirmations(db, order_id) -> int:
    with db.reader() as tx:
        return tx.fetch_value(
            "SELECT count(*) FROM outbox_events WHERE aggregate_id = :o AND event_type = 'OrderStatusChanged' "
            "AND payload->>'to_status' = 'CONFIRMED'",
            o=order_id,
        )


POISON_UNKNOWN_ORDER = json.dumps(
    {
        "event_id": "7d0c8f0e-8a8e-4a4c-9d83-0c1b2e5f6a70",
        "event_type": "OrderCreated",
        "aggregate_id": "00000000-0000-0000-0000-000000000000",
        "occurred_at": "2026-01-01T00:00:00Z",
        "payload": {
            "order_id": "00000000-0000-0000-0000-000000000000",
            "member_id": "00000000-0000-0000-0000-000000000000",
        },
    }
)
POISON_GARBAGE = "{this is not an order event"


# -- promise 3 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["report", "raise", "app handler"])
def test_promise_3_duplicates_out_of_order_and_poison_have_one_effect(db, sqs, queue, product_ids, mode):
    """Each message twice, some out of order, beside poison: one effect each; only the poison is dead-lettered,
    after exactly 3 receives, and its batch-mates are received once (not reprocessed)."""
    pipe = Pipeline(db, sqs, queue, sqs_batch_response="raise" if mode == "raise" else "report")
    member_id = make_member(db, f"promise3-{mode.replace(' ', '-')}@example.com")
    a, b, c, d = (new_order(db, member_id, product_ids) for _ in range(4))
    with db.transaction() as tx:  # the member cancels d before its OrderCreated is processed
        transition(tx, d, Action.CANCEL, member_id=member_id, read_back=False)
    assert pipe.relay.publish_pending().published == 5  # 4 x OrderCreated + d's OrderStatusChanged
    for order_id in (a, b):  # the relay sent these twice (crash between send and commit)
        pipe.send(event_body(db, order_id))
    pipe.send(POISON_UNKNOWN_ORDER)
    pipe.send(POISON_GARBAGE)

    if mode == "app handler":  # the handler app.py registers, via services() (SQS_BATCH_RESPONSE=raise)
        import app as app_module

        def registered(event, context):
            pipe.saw(event)
            return app_module.process_order_events(event, context)

        pipe.pump(registered)
    else:
        pipe.pump()

    for order_id in (a, b, c):
        assert status_of(db, order_id) == "CONFIRMED"
        assert confirmations(db, order_id) == 1
    assert status_of(db, d) == "CANCELLED"
    with db.reader() as tx:
        assert (
            tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE order_id = :o AND entry_type = 'REFUND'", o=d)
            == 1
        )
        # 4 OrderCreated + d's OrderStatusChanged, and the 3 confirmations' OrderStatusChanged that the
        # processor's after-commit relay put on this queue (app.py's relays to the session's queue).
        relayed_here = 0 if mode == "app handler" else 3
        assert tx.fetch_value("SELECT count(*) FROM processed_events") == 5 + relayed_here
        assert ledger.sums(tx, member_id) == {"balance": 9700, "ledger": 9700, "lots": 9700}
    assert pipe.dead_letters() == sorted([POISON_UNKNOWN_ORDER, POISON_GARBAGE])
    assert pipe.receives_of(POISON_UNKNOWN_ORDER) == pipe.receives_of(POISON_GARBAGE) == [3]
    assert pipe.receives_of(event_body(db, a)) == pipe.receives_of(event_body(db, b)) == [1, 1]
    good = [
        count
        for message, count in pipe.receives.items()
        if pipe.bodies[message] not in (POISON_UNKNOWN_ORDER, POISON_GARBAGE)
    ]
    assert good == [1] * (7 + relayed_here)  # batch-mates of the poison were never handed to the handler again


def test_late_and_redelivered_events_never_move_an_order_backwards(db, sqs, queue, product_ids):
    """Out of order: OrderCreated arriving after the order was packed (a redrive, a slow duplicate)."""
    pipe = Pipeline(db, sqs, queue)
    member_id = make_member(db, "late@example.com")
    order_id = new_order(db, member_id, product_ids)
    pipe.relay.publish_pending()
    pipe.pump()
    with db.transaction() as tx:
        transition(tx, order_id, Action.PACK, read_back=False)
    pipe.send(event_body(db, order_id))  # the same event again, after packing: the dedupe row stops it
    pipe.pump()
    assert status_of(db, order_id) == "PACKED"
    with db.transaction() as tx:  # even with its dedupe row gone (purged), the state machine stops it
        tx.execute("DELETE FROM processed_events")
    pipe.send(event_body(db, order_id))
    pipe.pump()
    assert status_of(db, order_id) == "PACKED"
    assert confirmations(db, order_id) == 1
    with db.reader() as tx:
        assert (
            tx.fetch_value("SELECT outcome FROM processed_events WHERE event_type = 'OrderCreated'") == "stale (PACKED)"
        )
    assert pipe.dead_letters() == []


def test_concurrent_duplicate_deliveries_apply_once(db, product_ids):
    member_id = make_member(db, "concurrent-dup@example.com")
    order_id = new_order(db, member_id, product_ids)
    body = event_body(db, order_id)
    processor = Pipeline(db, None, ("http://unused", "http://unused")).processor
    barrier = threading.Barrier(8)

    def deliver(i):
        barrier.wait()
        return processor.process_record({"messageId": f"m{i}", "body": body, "attributes": {}}).outcome

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(deliver, range(8)))
    assert sorted(outcomes) == ["CONFIRMED"] + ["duplicate"] * 7
    assert confirmations(db, order_id) == 1


def test_batch_outcome_contract_in_both_modes(db, sqs, queue, product_ids):
    member_id = make_member(db, "contract@example.com")
    order_id = new_order(db, member_id, product_ids)
    good = {"messageId": "good", "body": event_body(db, order_id), "attributes": {}}
    bad = {"messageId": "bad", "body": POISON_GARBAGE, "attributes": {}}
    other = {
        "messageId": "other",
        "body": json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "PointsEarned",
                "aggregate_id": str(uuid.uuid4()),
                "occurred_at": "2026-01-01T00:00:00Z",
                "payload": {},
            }
        ),
        "attributes": {},
    }
    report = Pipeline(db, sqs, queue, sqs_batch_response="report").processor
    assert report.handle_batch([good, other]) == {"batchItemFailures": []}  # unknown types are acknowledged
    assert report.handle_batch([good, bad]) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    raising = Pipeline(db, sqs, queue, sqs_batch_response="raise").processor
    with pytest.raises(BatchIncomplete, match="bad"):
        raising.handle_batch([good, bad])
    # Out of Lambda time: what was not started is handed back, nothing is half done.
    assert report.handle_batch([good, bad, other], remaining_ms=lambda: 100) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}, {"itemIdentifier": "other"}]
    }
    assert confirmations(db, order_id) == 1


# -- fulfilment partner -----------------------------------------------------------------------------
def test_fulfilment_accepts_confirms_refuses_fails_with_refund_and_restock(db, sqs, queue, product_ids):
    member_id = make_member(db, "fulfil@example.com", points=1000)
    with FulfilmentStub(decide=lambda order_id, attempt: 422 if order_id == str(refused) else 202) as stub:
        pipe = Pipeline(db, sqs, queue, fulfilment_url=stub.url, fulfilment_timeout_seconds=2)
        accepted = new_order(db, member_id, product_ids, "T-TEE", 1)
        refused = new_order(db, member_id, product_ids, "T-LAMP", 1)
        with db.reader() as tx:
            assert ledger.sums(tx, member_id)["balance"] == 0
        pipe.relay.publish_pending()
        pipe.pump()
        pipe.send(event_body(db, accepted))  # a duplicate must not call the partner again
        pipe.pump()
    assert status_of(db, accepted) == "CONFIRMED" and status_of(db, refused) == "FAILED"
    assert sorted(c["order_id"] for c in stub.calls) == sorted([str(accepted), str(refused)])
    assert all(c["idempotency_key"] == c["order_id"] for c in stub.calls)
    with db.reader() as tx:
        assert ledger.sums(tx, member_id) == {"balance": 700, "ledger": 700, "lots": 700}
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-LAMP'") == 3
        reason = tx.fetch_value(
            "SELECT reason FROM order_status_history WHERE order_id = :o AND status = 'FAILED'", o=refused
        )
    assert reason.startswith("fulfilment refused the order: HTTP 422")
    assert pipe.dead_letters() == []


def test_fulfilment_transient_failures_retry_then_give_up_on_the_last_receive(db, sqs, queue, product_ids):
    member_id = make_member(db, "flaky@example.com", points=1000)
    with FulfilmentStub(
        decide=lambda order_id, attempt: 200 if order_id == str(recovers) and attempt == 2 else 503
    ) as stub:
        pipe = Pipeline(
            db, sqs, queue, fulfilment_url=stub.url, fulfilment_max_attempts=2, fulfilment_timeout_seconds=2
        )
        recovers = new_order(db, member_id, product_ids, "T-CAP", 1)
        down = new_order(db, member_id, product_ids, "T-MUG", 2)
        pipe.relay.publish_pending()
        pipe.pump()
    assert status_of(db, recovers) == "CONFIRMED"  # 503 then 200: retried within one receive
    assert status_of(db, down) == "FAILED"  # 503 on every attempt of all 3 receives: gave up
    assert sum(1 for c in stub.calls if c["order_id"] == str(down)) == 3 * 2
    with db.reader() as tx:
        reason = tx.fetch_value(
            "SELECT reason FROM order_status_history WHERE order_id = :o AND status = 'FAILED'", o=down
        )
        assert ledger.sums(tx, member_id)["balance"] == 800
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-MUG'") == 100
    assert reason.startswith("gave up after 3 receives")
    assert pipe.dead_letters() == []  # giving up is an outcome, not a dead letter


def test_fulfilment_timeout_is_transient(db, product_ids):
    member_id = make_member(db, "slowpartner@example.com")
    order_id = new_order(db, member_id, product_ids)

    def slow(order, attempt):
        time.sleep(0.6)
        return 200

    with FulfilmentStub(decide=slow) as stub:
        pipe = Pipeline(
            db,
            None,
            ("http://unused", "http://unused"),
            fulfilment_url=stub.url,
            fulfilment_timeout_seconds=0.2,
            fulfilment_max_attempts=1,
        )
        record = {"messageId": "m", "body": event_body(db, order_id), "attributes": {"ApproximateReceiveCount": "1"}}
        assert not pipe.processor.process_record(record).ok
        assert status_of(db, order_id) == "PENDING"
        record["attributes"]["ApproximateReceiveCount"] = "3"
        assert pipe.processor.process_record(record).outcome == "FAILED"


# -- notifications ----------------------------------------------------------------------------------
def test_each_status_change_emails_the_member_once_through_ses(db, sqs, queue, product_ids, aws):
    ses = localaws.client("ses", aws.endpoint)
    sent_before = ses.get_send_quota()["SentLast24Hours"]
    pipe = Pipeline(db, sqs, queue, email_mode="ses", email_sender="rewards@xanadu.example")  # verified in moto
    member_id = make_member(db, "emailed@example.com")
    order_id = new_order(db, member_id, product_ids)
    pipe.relay.publish_pending()
    pipe.pump()  # OrderCreated -> CONFIRMED, and the processor's kick relays OrderStatusChanged
    pipe.pump()  # OrderStatusChanged -> email
    pipe.send(event_body(db, order_id, "OrderStatusChanged"))  # a duplicate: no second email
    pipe.pump()
    assert ses.get_send_quota()["SentLast24Hours"] - sent_before == 1
    with db.reader() as tx:
        assert (
            tx.fetch_value("SELECT outcome FROM processed_events WHERE event_type = 'OrderStatusChanged'") == "notified"
        )


def test_a_failing_email_never_fails_the_order_or_the_message(db, sqs, queue, product_ids):
    class Broken(Notifier):
        def send(self, *args: Any, **kwargs: Any) -> bool:
            raise RuntimeError("SES is down")

    unreachable = settings(email_mode="ses", aws_endpoint_url="http://127.0.0.1:9")  # nothing listens
    for notifier in (Notifier(unreachable), Broken(unreachable)):
        pipe = Pipeline(db, sqs, queue, notifier=notifier, sqs_batch_response="report")
        member_id = make_member(db, f"no-email-{uuid.uuid4().hex[:6]}@example.com")
        order_id = new_order(db, member_id, product_ids)
        with db.transaction() as tx:
            transition(tx, order_id, Action.CANCEL, read_back=False)
        record = {"messageId": "m", "body": event_body(db, order_id, "OrderStatusChanged"), "attributes": {}}
        assert pipe.processor.handle_batch([record]) == {"batchItemFailures": []}
        assert status_of(db, order_id) == "CANCELLED"


# -- the relay --------------------------------------------------------------------------------------
def test_relay_publishes_in_batches_and_a_crash_before_marking_only_duplicates(
    db, sqs, queue, product_ids, monkeypatch
):
    pipe = Pipeline(db, sqs, queue)
    member_id = make_member(db, "relay@example.com", points=100_000)
    created = [new_order(db, member_id, product_ids) for _ in range(12)]
    real_mark = outbox.mark_published
    calls = {"n": 0}

    def crash_once(tx, ids):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemError("the relay died after SendMessageBatch, before its commit")
        return real_mark(tx, ids)

    monkeypatch.setattr(outbox, "mark_published", crash_once)
    with pytest.raises(SystemError):
        pipe.relay.publish_pending()
    with db.reader() as tx:
        assert outbox.backlog(tx) == 12  # nothing marked: the 10 sent will be sent again
    report = pipe.relay.publish_pending()
    assert report.as_dict() == {"published": 12, "failed": 0, "batches": 2}
    pipe.pump()
    assert [status_of(db, o) for o in created] == ["CONFIRMED"] * 12
    assert all(confirmations(db, o) == 1 for o in created)
    # 12 + the 10 re-sent + the 12 OrderStatusChanged the processor relayed and the pump consumed.
    assert sum(pipe.receives.values()) == 34
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM processed_events") == 24


def test_events_committed_but_never_sent_are_published_by_the_schedule(db, sqs, queue, product_ids):
    """The crash between commit and send: the row waits in the outbox for the scheduled relay."""
    import app as app_module

    member_id = make_member(db, "crashed@example.com")
    order_id = new_order(db, member_id, product_ids)  # committed; no kick happened
    with db.reader() as tx:
        assert outbox.backlog(tx) == 1
    result = app_module.relay_outbox(
        scheduled_event(time="2026-01-01T00:00:00Z"),
        None,
    )
    assert result["published"] >= 1
    with db.reader() as tx:
        assert outbox.backlog(tx) == 0
        assert tx.fetch_value("SELECT published_at IS NOT NULL FROM outbox_events WHERE aggregate_id = :o", o=order_id)


def test_concurrent_relays_send_each_event_once(db, sqs, queue, product_ids):
    pipe = Pipeline(db, sqs, queue)
    member_id = make_member(db, "relays@example.com", points=100_000)
    for _ in range(40):
        new_order(db, member_id, product_ids)
    relays = [OutboxRelay(db, pipe.settings, Sqs(pipe.settings)) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda r: r.publish_pending(), relays))
    assert sum(r.published for r in reports) == 40
    bodies = []
    while True:
        batch = sqs.receive_message(QueueUrl=pipe.url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not batch:
            break
        bodies += [json.loads(m["Body"])["event_id"] for m in batch]
    assert len(bodies) == len(set(bodies)) == 40


def test_an_sqs_outage_never_fails_the_caller_and_pauses_after_commit_attempts(db, product_ids, aws):
    broken = settings(order_events_queue_url=f"{aws.endpoint}/123456789012/no-such-queue")
    relay = OutboxRelay(db, broken, Sqs(broken))
    member_id = make_member(db, "outage@example.com")
    new_order(db, member_id, product_ids)
    relay.kick()  # must not raise
    relay.kick()  # paused: does not even try
    with db.reader() as tx:
        row = tx.fetch_one("SELECT published_at, attempts, last_error FROM outbox_events")
    assert row["published_at"] is None and row["attempts"] == 1 and row["last_error"]


# -- dead letters ---------------------------------------------------------------------------------
def test_dead_letters_are_listed_and_redriven_and_a_redriven_duplicate_is_a_no_op(db, sqs, queue, product_ids):
    pipe = Pipeline(db, sqs, queue)
    member_id = make_member(db, "redrive@example.com")
    order_id = new_order(db, member_id, product_ids)
    pipe.relay.publish_pending()
    pipe.pump()
    sqs.send_message(
        QueueUrl=pipe.dlq_url,
        MessageBody=event_body(db, order_id),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "OrderCreated"}},
    )
    sqs.send_message(QueueUrl=pipe.dlq_url, MessageBody=POISON_GARBAGE)
    letters = DeadLetterService(pipe.settings, pipe.client)
    listed = letters.peek()
    assert sorted((letter.event_type or "-") for letter in listed) == ["-", "OrderCreated"]
    assert len(letters.peek()) == 2  # peeking consumes nothing
    assert letters.redrive() == 2
    assert pipe.dead_letters() == []
    pipe.pump()
    assert confirmations(db, order_id) == 1
    assert pipe.dead_letters() == [POISON_GARBAGE]  # still poison: back after 3 more receives


def test_admin_dead_letter_routes(api, aws, sqs):
    for url in (aws.dlq_url,):
        while sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages"):
            sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=POISON_UNKNOWN_ORDER)
    admin = {"as_user": "dlq-admin@example.com", "admin": True}
    listed = api.get("/admin/dead-letters", **admin)
    assert listed.status_code == 200
    [letter] = listed.json_body["dead_letters"]
    assert letter["event_type"] == "OrderCreated" and letter["body"] == POISON_UNKNOWN_ORDER
    assert letter["sent_at"].endswith("Z")
    bad = api.post("/admin/dead-letters/redrive", json_body={"limit": 0}, **admin)
    assert bad.status_code == 400 and bad.json_body["code"] == "VALIDATION_ERROR"
    assert api.post("/admin/dead-letters/redrive", **admin).json_body == {"redriven": 1}
    assert api.get("/admin/dead-letters", **admin).json_body == {"dead_letters": []}


def test_publishing_after_commit_can_be_switched_off(db, sqs, queue, product_ids):
    pipe = Pipeline(db, sqs, queue, outbox_publish_after_commit=False)
    new_order(db, make_member(db, "scheduled-only@example.com"), product_ids)
    pipe.relay.kick()
    with db.reader() as tx:
        assert outbox.backlog(tx) == 1  # left for the relay_outbox schedule
    assert pipe.relay.publish_pending().published == 1
