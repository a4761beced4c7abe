"""AWS-shaped events for calling the app's handlers as Lambda does."""

from __future__ import annotations

import uuid
from typing import Any


def scheduled_event(rule: str = "job", time: str = "2030-01-01T00:00:00Z") -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def s3_put_event(bucket: str, key: str, *, etag: str, size: int, sequencer: str | None = None) -> dict[str, Any]:
    """What S3 sends a function subscribed to ObjectCreated (one record per event, key URL-encoded)."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2030-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "imports",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": quote_plus(key),
                        "size": size,
                        "eTag": etag,
                        "sequencer": sequencer or uuid.uuid4().hex[:16].upper(),
                    },
                },
            }
        ]
    }


class LambdaClock:
    """A Lambda context whose remaining time the test controls (`left_ms`), for stop-before-timeout paths."""

    def __init__(self, left_ms: int = 900_000):
        self.left_ms = left_ms
        self.function_name = "test"
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return self.left_ms
