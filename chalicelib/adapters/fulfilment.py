"""The fulfilment partner's HTTP endpoint, called by the order processor to confirm an order.

Outcomes:
- 2xx: accepted -> the order is CONFIRMED.
- 4xx other than 408/425/429: the partner refused this order; retrying cannot help -> permanent,
  the order becomes FAILED (points refunded, stock restored).
- timeout, connection error, 408/425/429, 5xx: transient. Retried here a bounded number of times
  with exponential backoff and jitter; if it still fails, `FulfilmentUnavailable` is raised and
  the message is retried by SQS (and on its last allowed receive the processor gives up -> FAILED).

Every call carries `Idempotency-Key: <order id>`: a retry (ours or a redelivered message) must not
make the partner ship twice. With no FULFILMENT_URL configured, orders confirm without a call.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..platform.config import Settings
from ..platform.logs import get_logger

log = get_logger(__name__)

_TRANSIENT_STATUSES = {408, 425, 429}
BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 2.0


@dataclass(frozen=True)
class FulfilmentDecision:
    accepted: bool
    reason: str | None = None


class FulfilmentUnavailable(Exception):
    """Transient: the partner could not be reached (or kept failing) within the retry budget."""


class FulfilmentClient:
    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep):
        self._url = settings.fulfilment_url
        self._timeout = settings.fulfilment_timeout_seconds
        self._attempts = settings.fulfilment_max_attempts
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        return bool(self._url)

    def worst_case_seconds(self) -> float:
        """How long `submit` can take: the processor keeps this much Lambda time in reserve."""
        backoff = sum(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**i) for i in range(self._attempts - 1))
        return self._attempts * self._timeout + backoff if self.enabled else 0.0

    def submit(self, order_id: UUID, request: dict[str, Any]) -> FulfilmentDecision:
        if not self._url:
            return FulfilmentDecision(True)
        body = json.dumps(request, default=str).encode()
        last_error = "no attempt made"
        for attempt in range(self._attempts):
            if attempt:
                delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
                self._sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrecy
            try:
                status, text = self._post(body, str(order_id))
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                log.warning(
                    "fulfilment call failed",
                    extra={"order_id": str(order_id), "attempt": attempt + 1, "error": last_error},
                )
                continue
            if 200 <= status < 300:
                return FulfilmentDecision(True)
            if status in _TRANSIENT_STATUSES or status >= 500:
                last_error = f"HTTP {status}"
                log.warning(
                    "fulfilment call failed",
                    extra={"order_id": str(order_id), "attempt": attempt + 1, "status": status},
                )
                continue
            return FulfilmentDecision(False, f"fulfilment refused the order: HTTP {status} {text[:200]}".strip())
        raise FulfilmentUnavailable(f"fulfilment unavailable after {self._attempts} attempt(s): {last_error}")

    def _post(self, body: bytes, idempotency_key: str) -> tuple[int, str]:
        assert self._url is not None
        request = urllib.request.Request(  # noqa: S310 - configured URL, not input
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - configured URL, not input
                return response.status, response.read(2000).decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read(2000).decode(errors="replace")
