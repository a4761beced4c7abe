"""Order-events throughput: OrderCreated messages per second through the SQS handler, vs. the same writes done directly.

One process, one database, the same run. Setup (not timed): one member with plenty of points and
2 x N orders placed through the project's place_order (each wrote its OrderCreated outbox row);
each row becomes an SQS record exactly as the relay sends it and Lambda delivers it.

Project: `app.process_order_events(event, context)`, the registered Lambda handler, with Lambda SQS
events of 10 records: per record it parses and validates the envelope, and in one transaction
locks the order, checks the state machine, sets CONFIRMED, writes order_status_history, the
OrderStatusChanged outbox row and the processed_events dedupe row, then logs. No FULFILMENT_URL
(orders confirm without a partner call) and no ORDER_EVENTS_QUEUE_URL (the after-batch relay
attempt is off: it would time moto, not the handler); the same handler with the relay attempt to
moto SQS is reported as an extra row.

Baseline: the same database writes, executed directly: per message json.loads the body, then on a
pg8000.native connection START, UPDATE orders, INSERT history, INSERT outbox, INSERT
processed_events, COMMIT. The least any consumer doing these writes per message can do.

Both sides run in alternating blocks. Target: project >= 0.5 x baseline messages/s.

  python -m bench.sqs_processor [--messages 2000] [--blocks 8]   (env: BENCH_SQS_MESSAGES)
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from bench.common import FakeLambdaContext, Result, app_env, apply_env, env_int, local_aws, postgres

TARGET_RATIO = 0.5
BATCH = 10
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:order-events"


def _records(db_url: str, member_count: int, orders_wanted: int) -> list[dict[str, Any]]:
    """Place `orders_wanted` orders through the project and return their OrderCreated SQS records."""
    from bench.project import Database, Settings, envelope, ledger, members, orders, outbox, place_order

    db = Database(Settings(database_url=db_url))
    try:
        with db.transaction() as tx:
            product = tx.fetch_one("SELECT id, name, points_price FROM products ORDER BY points_price LIMIT 1")
            member_ids = []
            for i in range(member_count):
                member_id = members.insert_if_absent(tx, f"bench-sqs-{i}@example.com")
                ledger.credit(tx, member_id, "BONUS", 1_000_000_000, "bench", lot_lifetime=timedelta(days=365))
                member_ids.append(member_id)
        line = orders.NewLine(product["id"], product["name"], "", None, 1, product["points_price"])
        for i in range(0, orders_wanted, 50):
            with db.transaction() as tx:
                for j in range(i, min(i + 50, orders_wanted)):
                    place_order(tx, member_ids[j % member_count], [line], "ORDER")
        with db.transaction() as tx:
            pending = outbox.claim(tx, orders_wanted + 10)
            outbox.mark_published(tx, [e.id for e in pending])
    finally:
        db.close()
    sent = int(time.time() * 1000)
    return [{
        "messageId": str(uuid.uuid4()),
        "receiptHandle": f"bench-{event.id}",
        "body": json.dumps(envelope(event), default=str),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(sent),
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": str(sent)},
        "messageAttributes": {"event_type": {"stringValue": "OrderCreated", "stringListValues": [],
                                             "binaryListValues": [], "dataType": "String"}},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    } for event in pending if event.event_type == "OrderCreated"]


def run(messages: int | None = None, blocks: int = 8, relay_messages: int | None = None) -> Result:
    messages = messages or env_int("BENCH_SQS_MESSAGES", 2000)
    messages -= messages % (BATCH * blocks)
    relay_messages = relay_messages if relay_messages is not None else messages // 4
    relay_messages -= relay_messages % BATCH
    result = Result("sqs_processor", "Order events: OrderCreated messages/s through the SQS handler (batches of 10)")
    print(f"[sqs_processor] setting up ({messages} messages per side, {blocks} alternating blocks)")
    with postgres("xanadu_bench_sqs", stock=100_000_000, log=lambda m: print(f"[sqs_processor] {m}")) as db:
        apply_env(app_env(db.url))
        import app as app_module  # after the environment, as in a Lambda container

        records = _records(db.url, 8, 2 * messages + relay_messages)
        project_records, baseline_records = records[:messages], records[messages:2 * messages]
        relay_records = records[2 * messages:]
        handler = app_module.process_order_events
        raw = db.conn()

        def project(chunk: list[dict[str, Any]]) -> None:
            for start in range(0, len(chunk), BATCH):
                outcome = handler({"Records": chunk[start:start + BATCH]}, FakeLambdaContext())
                assert outcome == {"batchItemFailures": []}, outcome

        def baseline(chunk: list[dict[str, Any]]) -> None:
            for record in chunk:
                event = json.loads(record["body"])
                order_id = event["payload"]["order_id"]
                raw.run("START TRANSACTION")
                raw.run("UPDATE orders SET status = 'CONFIRMED', updated_at = now() WHERE id = :o AND status = 'PENDING'",
                        o=order_id)
                raw.run("INSERT INTO order_status_history (order_id, status) VALUES (:o, 'CONFIRMED')", o=order_id)
                raw.run("INSERT INTO outbox_events (event_type, aggregate_id, payload) VALUES "
                        "('OrderStatusChanged', :o, CAST(:p AS jsonb))", o=order_id,
                        p=json.dumps({"order_id": order_id, "member_id": event["payload"]["member_id"],
                                      "from_status": "PENDING", "to_status": "CONFIRMED"}))
                raw.run("INSERT INTO processed_events (event_id, event_type, outcome) "
                        "VALUES (:e, 'OrderCreated', 'CONFIRMED')", e=event["event_id"])
                raw.run("COMMIT")

        # Warm-up outside the measurement: first connections, imports, pydantic schema builds.
        project(project_records[:BATCH])
        baseline(baseline_records[:BATCH])
        project_records, baseline_records = project_records[BATCH:], baseline_records[BATCH:]
        per_block = len(project_records) // blocks
        elapsed = {"baseline": 0.0, "project": 0.0}
        gc.collect()
        db.checkpoint()
        for block in range(blocks):
            chunk = slice(block * per_block, (block + 1) * per_block)
            order = (("baseline", baseline, baseline_records[chunk]), ("project", project, project_records[chunk]))
            for name, fn, work in (order if block % 2 == 0 else order[::-1]):
                started = time.perf_counter()
                fn(work)
                elapsed[name] += time.perf_counter() - started
        measured = per_block * blocks

        confirmed = raw.run("SELECT count(*) FROM orders WHERE status = 'CONFIRMED'")[0][0]
        processed = raw.run("SELECT count(*) FROM processed_events")[0][0]
        assert confirmed == processed == 2 * (measured + BATCH), (confirmed, processed)

        relay_rate = None
        if relay_records:
            with local_aws() as aws:
                os.environ.update(aws.app_env())
                from bench.project import reset_settings

                reset_settings()
                app_module._singletons.clear()
                project(relay_records[:BATCH])
                started = time.perf_counter()
                project(relay_records[BATCH:])
                relay_elapsed = time.perf_counter() - started
                relay_rate = (len(relay_records) - BATCH) / relay_elapsed
                published = raw.run("SELECT count(*) FROM outbox_events WHERE event_type = 'OrderStatusChanged' "
                                    "AND published_at IS NOT NULL")[0][0]
                assert published >= len(relay_records) - BATCH, published
        raw.close()
        from bench.project import reset_database

        reset_database()

    base_rate, proj_rate = measured / elapsed["baseline"], measured / elapsed["project"]
    ratio = proj_rate / base_rate
    result.rows += [
        ("baseline", f"{base_rate:,.0f} msg/s (json.loads + 4 writes in one transaction on pg8000.native)"),
        ("project", f"{proj_rate:,.0f} msg/s (app.process_order_events, batches of {BATCH})"),
        ("messages", f"{measured} per side in {blocks} alternating blocks, after a warm-up batch"),
    ]
    if relay_rate is not None:
        result.rows.append(("project + relay", f"{relay_rate:,.0f} msg/s (same handler, after-batch relay of its "
                                               f"OrderStatusChanged events to moto SQS; not the target)"))
    result.check("throughput ratio", ratio, f">= {TARGET_RATIO}", ratio >= TARGET_RATIO)
    result.data = {"baseline_msgs_per_s": base_rate, "project_msgs_per_s": proj_rate, "ratio": ratio,
                   "project_with_relay_msgs_per_s": relay_rate, "messages": measured, "target": TARGET_RATIO}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, help="per side (default $BENCH_SQS_MESSAGES or 2000)")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--relay-messages", type=int, default=None,
                        help="extra messages through the handler with the relay to moto SQS on (default messages/4; 0: skip)")
    parser.add_argument("--json", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    from bench.common import finish

    return finish(run(args.messages, args.blocks, args.relay_messages), args.json)


if __name__ == "__main__":
    sys.exit(main())
