"""The local worker behind `make run`: SQS handlers fed with Lambda's event and outcome rules, schedules
run once, dead letters, and the placeholder image server.

The worker tests use a throwaway Chalice app and their own queues (with a redrive policy) on the
session's moto server, so they neither depend on nor disturb app.py's handlers and queues.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice import Chalice, Rate

from devtools import localaws, ops, worker
from devtools.worker import LocalLambda, RateSchedule, poll_once

UTC = UTC


# -- fixtures: a throwaway app and private queues -------------------------------------------------
class Recorder:
    """What the throwaway handlers saw, and what the SQS handler should do with each batch."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.schedule_events: list[Any] = []
        self.behaviour: Callable[[list[dict[str, Any]]], Any] = lambda records: None
        self.seen = threading.Event()


def throwaway_app(recorder: Recorder, queue: str) -> Chalice:
    app = Chalice(app_name="worker-test")

    @app.on_sqs_message(queue=queue, batch_size=10)
    def consume(event: Any) -> Any:
        records = [record.to_dict() for record in event]
        recorder.batches.append(records)
        recorder.seen.set()
        return recorder.behaviour(records)

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def tick(event: Any) -> dict[str, str]:
        recorder.schedule_events.append(event)
        return {"detail_type": event.detail_type}

    @app.schedule("cron(0 3 * * ? *)")
    def nightly(event: Any) -> None:
        recorder.schedule_events.append(event)

    @app.on_sns_message(topic="not-emulated")
    def on_topic(event: Any) -> None:
        raise AssertionError("SNS is not emulated locally")

    return app


@pytest.fixture
def sqs(aws: localaws.LocalAws) -> Any:
    return localaws.client("sqs", aws.endpoint)


@pytest.fixture
def queues(sqs: Any) -> Iterator[tuple[str, str, str]]:
    """(name, url, dlq url) of a fresh queue whose DLQ takes messages after 3 receives, as order-events'."""
    name = f"worker-test-{uuid.uuid4().hex[:8]}"
    url, dlq_url = localaws.create_queue_with_dlq(sqs, name)
    yield name, url, dlq_url
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sources(recorder: Recorder, queues: tuple[str, str, str]) -> worker.EventSources:
    return worker.discover(throwaway_app(recorder, queues[0]), stage="local")


def consumer(sources: worker.EventSources) -> LocalLambda:
    return sources.sqs[0].function


def poll(sqs: Any, url: str, function: LocalLambda) -> worker.PollResult:
    """One poll without waiting, with failed messages visible again at once (no retry delay)."""
    return poll_once(sqs, url, function, 10, wait_seconds=0, retry_delay=0)


def send(sqs: Any, url: str, *bodies: str) -> list[str]:
    return [
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"trace": {"DataType": "String", "StringValue": f"trace-{body}"}},
        )["MessageId"]
        for body in bodies
    ]


def remaining(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0).get(
        "Messages", []
    )
    return sorted(m["Body"] for m in messages)


# -- discovery ------------------------------------------------------------------------------------
def test_discovers_sqs_and_schedule_handlers_and_names_the_rest(
    sources: worker.EventSources, queues: tuple[str, str, str]
) -> None:
    [sqs_source] = sources.sqs
    assert (sqs_source.queue_name, sqs_source.batch_size) == (queues[0], 10)
    assert sqs_source.function.function_name == "worker-test-local-consume"
    assert {(s.function.name, s.expression) for s in sources.schedules} == {
        ("tick", "rate(5 minutes)"),
        ("nightly", "cron(0 3 * * ? *)"),
    }
    assert sources.not_emulated == ["on_topic (SNSEventConfig)"]
    assert worker.describe(sources).splitlines() == [
        f"sqs       {queues[0]:<24} consume (batch 10)",
        "schedule  rate(5 minutes)          tick",
        "schedule  cron(0 3 * * ? *)        nightly",
        "other     on_topic (SNSEventConfig)",
    ]


# -- SQS: Lambda's event and outcome rules ---------------------------------------------------------
def test_success_deletes_the_batch_and_the_event_is_shaped_like_lambdas(
    sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder
) -> None:
    _, url, _ = queues
    ids = send(sqs, url, "a", "b")
    result = poll(sqs, url, consumer(sources))
    assert result == worker.PollResult(received=2, deleted=2, retried=0, handler_error=False)
    assert remaining(sqs, url) == []

    [records] = recorder.batches
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    record = next(r for r in records if r["body"] == "a")
    assert record["messageId"] == ids[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == localaws.REGION
    assert record["md5OfBody"] == hashlib.md5(b"a").hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "trace": {"stringValue": "trace-a", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["receiptHandle"]


def test_a_raising_handler_deletes_nothing_and_the_batch_comes_back(
    sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder
) -> None:
    _, url, _ = queues
    send(sqs, url, "x", "y")

    def explode(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("database down")

    recorder.behaviour = explode
    assert poll(sqs, url, consumer(sources)) == worker.PollResult(2, 0, 2, True)
    recorder.behaviour = lambda records: None
    assert poll(sqs, url, consumer(sources)).deleted == 2
    first, second = recorder.batches
    assert {r["messageId"] for r in first} == {r["messageId"] for r in second}
    assert {r["attributes"]["ApproximateReceiveCount"] for r in second} == {"2"}


def test_batch_item_failures_delete_only_the_successes(
    sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder
) -> None:
    _, url, _ = queues
    send(sqs, url, "ok-1", "bad", "ok-2")
    recorder.behaviour = lambda records: {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]
    }
    assert poll(sqs, url, consumer(sources)) == worker.PollResult(3, 2, 1, False)
    assert remaining(sqs, url) == ["bad"]


def test_batch_item_failure_rules_match_lambda() -> None:
    batch = ["m1", "m2"]
    assert worker.failed_message_ids(None, batch) == set()
    assert worker.failed_message_ids({"batchItemFailures": []}, batch) == set()
    assert worker.failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, batch) == {"m2"}
    # An identifier Lambda cannot match (unknown or empty) fails the whole batch.
    assert worker.failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, batch) == {"m1", "m2"}
    assert worker.failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) == {"m1", "m2"}


def test_a_poison_message_alone_lands_in_the_dlq_after_three_receives_and_can_be_redriven(
    sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder
) -> None:
    _, url, dlq_url = queues
    [poison_id, _] = send(sqs, url, "poison", "fine")
    recorder.behaviour = lambda records: {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"]
    }
    for _ in range(4):  # three receives, then SQS's redrive moves it on the fourth attempt
        poll(sqs, url, consumer(sources))
    bodies = [r["body"] for batch in recorder.batches for r in batch]
    assert bodies.count("poison") == 3 and bodies.count("fine") == 1
    assert remaining(sqs, url) == []

    letters = ops.dead_letters(sqs, dlq_url)
    assert [(d.message_id, d.body) for d in letters] == [(poison_id, "poison")]
    assert [d.message_id for d in ops.dead_letters(sqs, dlq_url)] == [poison_id], "listing must not consume"
    assert ops.redrive(sqs, dlq_url, url) == 1
    assert ops.dead_letters(sqs, dlq_url) == []
    assert remaining(sqs, url) == ["poison"]


def test_worker_threads_feed_the_handler_and_stop_promptly(
    sqs: Any, queues: tuple[str, str, str], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, url, _ = queues
    app = throwaway_app(recorder, name)

    @app.on_sqs_message(queue="no-such-queue-locally")
    def orphan(event: Any) -> None:
        raise AssertionError("must not be polled")

    ticks = threading.Semaphore(0)
    original_tick = app.handler_map["tick"]
    app.handler_map["tick"] = lambda event, context: (original_tick(event, context), ticks.release())
    # Every schedule fires every 50 ms, so the timer thread is observable within the test.
    monkeypatch.setattr(worker, "parse_schedule", lambda expression: RateSchedule(timedelta(milliseconds=50)))

    running = worker.Worker(worker.discover(app), sqs, wait_seconds=1, retry_delay=0)
    running.start()
    try:
        assert not any("no-such-queue" in line for line in running.running)
        send(sqs, url, "via-thread")
        assert recorder.seen.wait(10)
        assert all(ticks.acquire(timeout=5) for _ in range(2))
    finally:
        started = time.monotonic()
        running.stop()
    assert time.monotonic() - started < 5
    assert recorder.batches[0][0]["body"] == "via-thread"
    assert {e.detail_type for e in recorder.schedule_events} == {"Scheduled Event"}


def test_jobs_run_a_schedule_handler_once_with_eventbridges_event(
    recorder: Recorder, sources: worker.EventSources
) -> None:
    assert ops.run_handler(sources, "tick") == {"detail_type": "Scheduled Event"}
    [event] = recorder.schedule_events
    raw = event.to_dict()
    assert raw["source"] == "aws.events" and raw["detail"] == {}
    assert raw["resources"] == [f"arn:aws:events:{localaws.REGION}:{localaws.ACCOUNT}:rule/worker-test-local-tick"]
    assert datetime.strptime(raw["time"], "%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SystemExit, match="known: tick, nightly"):
        ops.run_handler(sources, "nope")


# -- the placeholder images -----------------------------------------------------------------------
def test_static_server_serves_an_svg_tile_per_sku() -> None:
    from devtools.static import start_static_server

    server, images = start_static_server(0)
    try:
        with urllib.request.urlopen(f"{images}/APP-TEE-001.svg", timeout=5) as response:
            assert response.headers["Content-Type"] == "image/svg+xml"
            svg = response.read().decode()
        assert svg.startswith("<svg") and "Organic Cotton" in svg
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{images}/../etc/passwd", timeout=5)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
