"""A thin, lazily built SQS client with tight timeouts (the API calls it on the request path)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..platform import aws
from ..platform.aws import ON_REQUEST, CallBudget
from ..platform.config import Settings

# SendMessageBatch / DeleteMessageBatch / ReceiveMessage take at most 10 entries.
SQS_BATCH = 10


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    sent_at_ms: int | None
    message_attributes: dict[str, Any]


class Sqs:
    def __init__(self, settings: Settings, *, budget: CallBudget = ON_REQUEST):
        self._settings = settings
        self._budget = budget
        self._client: Any = None
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = aws.client("sqs", self._settings, self._budget)
        return self._client

    def send_batch(self, queue_url: str, entries: list[dict[str, Any]]) -> dict[str, str]:
        """Send up to 10 entries ({"Id", "MessageBody", ...}); returns {Id: error} for those SQS refused."""
        response = self.client().send_message_batch(QueueUrl=queue_url, Entries=entries)
        return {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", [])}

    def delete_batch(self, queue_url: str, receipt_handles: list[str]) -> None:
        for start in range(0, len(receipt_handles), SQS_BATCH):
            chunk = receipt_handles[start : start + SQS_BATCH]
            self.client().delete_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            )

    def receive(
        self, queue_url: str, *, max_messages: int = SQS_BATCH, visibility_timeout: int = 30, wait_seconds: int = 0
    ) -> list[Received]:
        response = self.client().receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max(1, min(max_messages, SQS_BATCH)),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [
            Received(
                m["MessageId"],
                m["ReceiptHandle"],
                m["Body"],
                int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                int(m["Attributes"]["SentTimestamp"]) if "SentTimestamp" in m.get("Attributes", {}) else None,
                m.get("MessageAttributes", {}),
            )
            for m in response.get("Messages", [])
        ]

    def change_visibility(self, queue_url: str, receipt_handles: list[str], seconds: int) -> None:
        for start in range(0, len(receipt_handles), SQS_BATCH):
            chunk = receipt_handles[start : start + SQS_BATCH]
            self.client().change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(chunk)],
            )

    def url_of_arn(self, queue_arn: str) -> str:
        """arn:aws:sqs:<region>:<account>:<name> -> its queue URL (looked up once)."""
        if queue_arn not in self._urls:
            parts = queue_arn.split(":")
            if len(parts) != 6 or parts[2] != "sqs":
                raise ValueError(f"not an SQS queue ARN: {queue_arn!r}")
            url = self.client().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            self._urls[queue_arn] = url
        return self._urls[queue_arn]
