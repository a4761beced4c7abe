"""Every boto3 client the deployed code uses is built here, with explicit timeouts and bounded retries.

Why: boto's defaults (60 s connect, 60 s read, retries on top) outlast API Gateway's 29 s, so an
unreachable AWS endpoint (no VPC endpoint, no NAT) used to turn into a gateway 504 instead of our
503. The numbers here keep the worst case of one call small: connect + read, times `max_attempts`.
The deploy check's IAM test finds each service by the `client("<service>", ...)` calls in chalicelib.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Settings


@dataclass(frozen=True)
class CallBudget:
    """Seconds to connect, seconds to wait for a response, attempts in total (first try included)."""

    connect_timeout: float
    read_timeout: float
    max_attempts: int

    @property
    def worst_case_seconds(self) -> float:
        return (self.connect_timeout + self.read_timeout) * self.max_attempts


# On an API request's path (Secrets Manager at connect, SQS publish after commit): fail fast.
ON_REQUEST = CallBudget(connect_timeout=1.0, read_timeout=3.0, max_attempts=2)
# In queue handlers and scheduled jobs, which have minutes: a little more patience.
IN_BACKGROUND = CallBudget(connect_timeout=2.0, read_timeout=10.0, max_attempts=3)


def client(service: str, settings: Settings, budget: CallBudget = ON_REQUEST) -> Any:
    """A boto3 client for `service` in the stage's region (and moto's endpoint locally)."""
    import boto3  # deferred: nothing heavy at import
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(
            connect_timeout=budget.connect_timeout,
            read_timeout=budget.read_timeout,
            retries={"max_attempts": budget.max_attempts, "mode": "standard"},
            tcp_keepalive=True,
        ),
    )
