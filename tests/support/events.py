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
