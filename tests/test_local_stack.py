"""The local stack behind `make run`: the Lambda-like worker, schedules, dead letters, and the whole thing.

The worker tests use a throwaway Chalice app and their own queues (with a redrive policy) on the
session's moto server, so they neither depend on nor disturb app.py's handlers and queues.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from chalice import Chalice, Rate

from devtools import jobs, localaws, worker
from devtools.worker import CronSchedule, LocalLambda, RateSchedule, parse_schedule, poll_once

ROOT = Path(__file__).resolve().parents[1]
UTC = timezone.utc


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


@pytest.fixture()
def sqs(aws: localaws.LocalAws) -> Any:
    return localaws.client("sqs", aws.endpoint)


@pytest.fixture()
def queues(sqs: Any) -> Iterator[tuple[str, str, str]]:
    """(name, url, dlq url) of a fresh queue whose DLQ takes messages after 3 receives, as order-events'."""
    name = f"worker-test-{uuid.uuid4().hex[:8]}"
    url, dlq_url = localaws.create_queue_with_dlq(sqs, name)
    yield name, url, dlq_url
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def sources(recorder: Recorder, queues: tuple[str, str, str]) -> worker.EventSources:
    return worker.discover(throwaway_app(recorder, queues[0]), stage="local")


def consumer(sources: worker.EventSources) -> LocalLambda:
    return sources.sqs[0].function


def poll(sqs: Any, url: str, function: LocalLambda) -> worker.PollResult:
    """One poll without waiting, with failed messages visible again at once (no retry delay)."""
    return poll_once(sqs, url, function, 10, wait_seconds=0, retry_delay=0)


def send(sqs: Any, url: str, *bodies: str) -> list[str]:
    return [sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
        "trace": {"DataType": "String", "StringValue": f"trace-{body}"}})["MessageId"] for body in bodies]


def remaining(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                   VisibilityTimeout=0).get("Messages", [])
    return sorted(m["Body"] for m in messages)


# -- discovery ------------------------------------------------------------------------------------
def test_discovers_sqs_and_schedule_handlers_and_names_the_rest(sources: worker.EventSources,
                                                                 queues: tuple[str, str, str]) -> None:
    [sqs_source] = sources.sqs
    assert (sqs_source.queue_name, sqs_source.batch_size) == (queues[0], 10)
    assert sqs_source.function.function_name == "worker-test-local-consume"
    assert {(s.function.name, s.expression) for s in sources.schedules} == {
        ("tick", "rate(5 minutes)"), ("nightly", "cron(0 3 * * ? *)")}
    assert sources.not_emulated == ["on_topic (SNSEventConfig)"]
    assert worker.describe(sources).splitlines() == [
        f"sqs       {queues[0]:<24} consume (batch 10)",
        "schedule  rate(5 minutes)          tick",
        "schedule  cron(0 3 * * ? *)        nightly",
        "other     on_topic (SNSEventConfig)",
    ]


# -- SQS: Lambda's event and outcome rules ---------------------------------------------------------
def test_success_deletes_the_batch_and_the_event_is_shaped_like_lambdas(
        sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder) -> None:
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
    assert record["messageAttributes"] == {"trace": {
        "stringValue": "trace-a", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
    assert record["receiptHandle"]


def test_a_raising_handler_deletes_nothing_and_the_batch_comes_back(
        sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder) -> None:
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
        sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder) -> None:
    _, url, _ = queues
    send(sqs, url, "ok-1", "bad", "ok-2")
    recorder.behaviour = lambda records: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]}
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
        sqs: Any, queues: tuple[str, str, str], sources: worker.EventSources, recorder: Recorder) -> None:
    _, url, dlq_url = queues
    [poison_id, _] = send(sqs, url, "poison", "fine")
    recorder.behaviour = lambda records: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in records if r["body"] == "poison"]}
    for _ in range(4):  # three receives, then SQS's redrive moves it on the fourth attempt
        poll(sqs, url, consumer(sources))
    bodies = [r["body"] for batch in recorder.batches for r in batch]
    assert bodies.count("poison") == 3 and bodies.count("fine") == 1
    assert remaining(sqs, url) == []

    letters = jobs.dead_letters(sqs, dlq_url)
    assert [(d.message_id, d.body) for d in letters] == [(poison_id, "poison")]
    assert [d.message_id for d in jobs.dead_letters(sqs, dlq_url)] == [poison_id], "listing must not consume"
    assert jobs.redrive(sqs, dlq_url, url) == 1
    assert jobs.dead_letters(sqs, dlq_url) == []
    assert remaining(sqs, url) == ["poison"]


def test_worker_threads_feed_the_handler_and_stop_promptly(
        sqs: Any, queues: tuple[str, str, str], recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
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


# -- schedules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("expression, interval", [
    ("rate(1 minute)", timedelta(minutes=1)),
    ("rate(5 minutes)", timedelta(minutes=5)),
    ("rate(2 hours)", timedelta(hours=2)),
    ("rate(1 day)", timedelta(days=1)),
])
def test_rate_expressions(expression: str, interval: timedelta) -> None:
    schedule = parse_schedule(expression)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert schedule == RateSchedule(interval)
    assert schedule.next_after(start) == start + interval


@pytest.mark.parametrize("expression, after, expected", [
    ("cron(0 3 * * ? *)", "2024-01-01T02:59:30", "2024-01-01T03:00"),
    ("cron(0 3 * * ? *)", "2024-01-01T03:00:00", "2024-01-02T03:00"),
    ("cron(0/15 * * * ? *)", "2024-01-01T10:07:00", "2024-01-01T10:15"),
    ("cron(5,35 8-9 * * ? *)", "2024-01-01T09:40:00", "2024-01-02T08:05"),
    ("cron(0 9 ? * MON-FRI *)", "2024-06-01T10:00:00", "2024-06-03T09:00"),  # Saturday -> Monday
    ("cron(0 12 ? * 1 *)", "2024-06-03T00:00:00", "2024-06-09T12:00"),  # 1 = Sunday, as in AWS
    ("cron(30 12 1 JAN,JUL ? 2025)", "2024-03-03T00:00:00", "2025-01-01T12:30"),
    ("cron(0 0 29 FEB ? *)", "2025-01-01T00:00:00", "2028-02-29T00:00"),
])
def test_cron_next_fire(expression: str, after: str, expected: str) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, CronSchedule)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert schedule.next_after(moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_cron_that_never_fires_again() -> None:
    assert parse_schedule("cron(0 0 1 1 ? 2020)").next_after(datetime(2024, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(5 seconds)", "every 5 minutes",
    "cron(0 3 * * *)", "cron(0 3 * * * *)", "cron(0 3 ? * ? *)", "cron(0 3 L * ? *)", "cron(0 3 ? * 6#3 *)",
    "cron(61 3 * * ? *)", "cron(0 3 * 13 ? *)", "cron(? 3 * * * *)",
])
def test_invalid_or_unsupported_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(expression)


def test_jobs_run_a_schedule_handler_once_with_eventbridges_event(recorder: Recorder,
                                                                   sources: worker.EventSources) -> None:
    assert jobs.run_job(sources, "tick") == {"detail_type": "Scheduled Event"}
    [event] = recorder.schedule_events
    raw = event.to_dict()
    assert raw["source"] == "aws.events" and raw["detail"] == {}
    assert raw["resources"] == [f"arn:aws:events:{localaws.REGION}:{localaws.ACCOUNT}:rule/worker-test-local-tick"]
    assert datetime.strptime(raw["time"], "%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SystemExit, match="known: tick, nightly"):
        jobs.run_job(sources, "nope")


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


# -- the whole system, as `make run` starts it ----------------------------------------------------
def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    from conftest import http_call

    status, _, parsed = http_call(base, method, path, token=token, body=body, timeout=30)
    return status, parsed


class RunningStack:
    """`python -m devtools.run` in a subprocess, on free ports and a private data dir."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        from devtools.localdb import free_port

        self.data_dir = data_dir
        self.ports = {name: free_port() for name in ("API", "AWS", "STATIC", "DB")}
        self.api = f"http://127.0.0.1:{self.ports['API']}"
        self._log = log
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the suite's own database
        env.update({f"XANADU_{name}_PORT": str(port) for name, port in self.ports.items()})
        env.update(XANADU_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "devtools.run"], cwd=ROOT, env=env,
                                            stdout=out, stderr=subprocess.STDOUT)

    def output(self, tail: int = 4000) -> str:
        return self._log.read_text(errors="replace")[-tail:]

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the banner: devtools.run prints it once everything is up and /health answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"devtools.run exited early:\n{self.output()}"
            if "Xanadu Rewards is running" in self.output(tail=1_000_000):
                assert _call(self.api, "GET", "/health")[0] == 200
                return
            time.sleep(0.2)
        pytest.fail(f"the local stack did not become ready:\n{self.output()}")

    def interrupt(self) -> float:
        """Ctrl-C; returns how long the whole stack took to stop."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"devtools.run did not stop within 20 s of SIGINT:\n{self.output()}")
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture()
def launch(tmp_path: Path) -> Iterator[Callable[[Path], RunningStack]]:
    """Start `devtools.run` on a data dir; afterwards nothing is left running, and the logs are shown on failure."""
    from devtools.localdb import LocalPostgres

    stacks: list[RunningStack] = []

    def start(data_dir: Path) -> RunningStack:
        stacks.append(RunningStack(data_dir, tmp_path / f"run-{len(stacks) + 1}.log"))
        return stacks[-1]

    yield start
    for number, stack in enumerate(stacks, 1):
        stack.kill()
        LocalPostgres(stack.data_dir / "postgres", stack.ports["DB"]).stop()
        print(f"--- devtools.run #{number} output ---\n{stack.output()}")


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.mark.slow
def test_make_run_serves_the_frontend_journey_and_stops_cleanly_on_ctrl_c(
        tmp_path: Path, launch: Callable[[Path], RunningStack], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from devtools import token as token_cli
    from devtools.localdb import LocalPostgres
    from devtools.run import StackInfo

    data_dir = tmp_path / "local"
    stack = launch(data_dir)
    stack.wait_ready()
    monkeypatch.setenv("XANADU_DATA_DIR", str(data_dir))
    assert token_cli.main([]) == 0
    token = capsys.readouterr().out.strip()
    info = StackInfo.load(data_dir)
    api = stack.api

    status, body = _call(api, "GET", "/prod/products")
    products = body["products"]
    assert status == 200 and len(products) >= 24
    assert len({p["category"] for p in products}) >= 4
    assert products[0]["image_url"].startswith(info.images_url)
    with urllib.request.urlopen(products[0]["image_url"], timeout=5) as image:
        assert image.status == 200 and image.headers["Content-Type"] == "image/svg+xml"
    status, body = _call(api, "GET", "/prod/products/categories")
    assert status == 200 and len(body["categories"]) >= 4 and body["categories"] == sorted(body["categories"])

    status, body = _call(api, "GET", "/customer", token)
    assert status == 200 and body["email"] == localaws.DEMO_MEMBER[0]
    status, body = _call(api, "GET", "/prod/points", token)
    assert status == 200 and body["points"] == 1000

    # A cart worth more than the signup bonus fails and is emptied (frontend contract)...
    priciest = max(products, key=lambda p: p["points_price"])
    assert _call(api, "POST", "/prod/cart/item", token, {"id": priciest["id"], "quantity": 1})[0] == 201
    assert _call(api, "POST", "/prod/cart/checkout", token) == (
        200, {"success": False, "error": f"Insufficient points. Required: {priciest['points_price']}"})
    assert _call(api, "GET", "/prod/cart", token)[1] == {"items": []}

    # ...and the re-posted cart of the two cheapest rewards succeeds.
    cheapest = sorted(products, key=lambda p: p["points_price"])[:2]
    for product in cheapest:
        assert _call(api, "POST", "/prod/cart/item", token, {"id": product["id"], "quantity": 1})[0] == 201
    status, placed = _call(api, "POST", "/prod/cart/checkout", token)
    assert status == 200 and placed["success"] is True and placed["previousBalance"] == 1000
    spent = sum(p["points_price"] for p in cheapest)
    assert placed["totalPoints"] == spent
    balance = 1000 - spent
    assert _call(api, "GET", "/prod/points", token)[1]["points"] == balance

    history = _call(api, "GET", "/prod/points/tx", token)[1]["transactions"]
    assert [t["tx_type"] for t in history] == ["SPEND", "BONUS"]
    assert history[0]["id"] == placed["txId"] and history[0]["points"] == -spent
    status, body = _call(api, "GET", f"/prod/points/tx/{placed['txId']}", token)
    assert status == 200
    assert sorted((i["cat_item_id"], i["unit_cnt"]) for i in body["transaction"]["items"]) == sorted(
        (p["id"], 1) for p in cheapest)
    # The order is confirmed asynchronously: order-events -> the worker -> app.py's SQS handler.
    deadline = time.monotonic() + 20
    while _call(api, "GET", f"/prod/orders/{placed['orderId']}", token)[1]["order"]["status"] == "PENDING":
        assert time.monotonic() < deadline, "the worker did not deliver the order event"
        time.sleep(0.3)
    assert _call(api, "GET", f"/prod/orders/{placed['orderId']}", token)[1]["order"]["status"] == "CONFIRMED"

    assert jobs.main(["dead-letters"]) == 0
    assert "0 dead letter(s)" in capsys.readouterr().err

    assert stack.interrupt() < 20
    assert stack.process.returncode == 0
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()
    assert not LocalPostgres(data_dir / "postgres", stack.ports["DB"]).is_running()
    assert all(_refuses_connections(port) for port in stack.ports.values())

    again = launch(data_dir)
    again.wait_ready()
    token = token_cli.token_for(StackInfo.load(data_dir), localaws.DEMO_MEMBER[0])
    assert _call(again.api, "GET", "/prod/points", token)[1]["points"] == balance, "the balance must persist"
    assert again.interrupt() < 20
