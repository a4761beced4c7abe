"""The local worker feeds `@app.on_s3_event` handlers as S3 does: the bucket notifies a queue (moto sends
S3's own event documents), each matching upload reaches the handler as one record with its sequencer, the
decorator's prefix and suffix filter what arrives, and a failing event is retried twice, then dropped.

A throwaway app and a bucket of its own, so app.py's handlers and the stack's bucket are not involved.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from chalice import Chalice

from devtools import localaws, worker


class Seen:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def keys(self) -> list[str]:
        with self.lock:
            return [r["s3"]["object"]["key"] for r in self.records]


def throwaway_app(seen: Seen, bucket: str) -> Chalice:
    app = Chalice(app_name="s3-worker-test")

    @app.on_s3_event(bucket=bucket, prefix="in/", suffix=".csv")
    def on_upload(event: Any) -> dict[str, str]:
        record = event.to_dict()["Records"][0]
        with seen.lock:
            seen.records.append(record)
        if "poison" in event.key:
            raise RuntimeError("cannot read this one")
        return {"key": event.key}

    return app


def until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def bucket(aws: localaws.LocalAws) -> str:
    name = f"s3-worker-{uuid.uuid4().hex[:8]}"
    localaws.ensure_bucket(aws.endpoint, name)
    return name


def test_uploads_reach_the_handler_as_s3_events_filtered_by_prefix_and_suffix(aws, bucket) -> None:
    seen = Seen()
    sources = worker.discover(throwaway_app(seen, bucket), stage="local")
    assert [(s.bucket, s.prefix, s.suffix, s.function.name) for s in sources.s3] == [
        (bucket, "in/", ".csv", "on_upload")
    ]
    assert f"s3        {bucket}/in/*.csv" in worker.describe(sources)
    sqs, s3 = localaws.client("sqs", aws.endpoint), localaws.client("s3", aws.endpoint)
    runner = worker.Worker(sources, sqs, s3=s3, wait_seconds=1, retry_delay=1)
    runner.start()
    try:
        assert runner.running == [f"s3 s3://{bucket}/in/*.csv -> on_upload"]
        for key in ("in/a.csv", "in/b.txt", "out/c.csv", "in/sub dir/d+e.csv"):
            s3.put_object(Bucket=bucket, Key=key, Body=b"x,y\n")
        until(lambda: len(seen.keys()) >= 2)
        time.sleep(1.5)
    finally:
        runner.stop()
    assert sorted(seen.keys()) == ["in/a.csv", "in/sub+dir/d%2Be.csv"]  # URL-encoded, as S3 sends it
    record = seen.records[0]
    assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated")
    assert record["s3"]["bucket"]["name"] == bucket and record["s3"]["object"]["size"] == 4
    assert record["s3"]["object"]["eTag"] and record["s3"]["object"]["sequencer"]


def test_a_failing_upload_event_is_tried_three_times_then_dropped(aws, bucket) -> None:
    seen = Seen()
    sources = worker.discover(throwaway_app(seen, bucket), stage="local")
    sqs, s3 = localaws.client("sqs", aws.endpoint), localaws.client("s3", aws.endpoint)
    queue_url = worker.subscribe(sqs, s3, sources.s3[0])
    function = sources.s3[0].function
    worker.poll_s3_once(sqs, queue_url, function, wait_seconds=0)  # S3's s3:TestEvent, if any: no records
    s3.put_object(Bucket=bucket, Key="in/poison.csv", Body=b"x\n")
    results = [worker.poll_s3_once(sqs, queue_url, function, wait_seconds=1, retry_delay=0) for _ in range(4)]
    assert [(r.received, r.retried, r.deleted) for r in results] == [(1, 1, 0), (1, 1, 0), (1, 0, 1), (0, 0, 0)]
    assert seen.keys() == ["in/poison.csv"] * 3
    # The same event each time: one sequencer, so an import would continue its own job.
    assert len({r["s3"]["object"]["sequencer"] for r in seen.records}) == 1
