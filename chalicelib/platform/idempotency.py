"""Idempotency-Key handling for money-moving POSTs.

The first request with a key does the work and stores its response in the same transaction, so
"effect happened" and "response recorded" commit together. A duplicate that arrives while the first
is still running waits for it (bounded) and then replays the stored response, so N concurrent
identical requests produce one effect and N identical bodies. A duplicate still blocked after the
wait budget gets REQUEST_IN_PROGRESS; a different body under the same key gets
IDEMPOTENCY_KEY_REUSED. If the first attempt fails, nothing is recorded and a retry does the work.
Keys are kept for 24 hours.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import idempotency_repository as keys
from .db import Database, Tx, sqlstate
from .errors import IdempotencyKeyReused, RequestInProgress, ValidationFailed

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    replayed: bool


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


# Visible ASCII, inner spaces allowed (the OpenAPI document's pattern for the header says the same).
_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


def validate_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ValidationFailed(
            "The Idempotency-Key header is required.", details=[{"field": "Idempotency-Key", "message": "required"}]
        )
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValidationFailed(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.",
            details=[{"field": "Idempotency-Key", "message": "invalid"}],
        )
    return key


class IdempotencyService:
    def __init__(self, db: Database, wait_seconds: float = 10.0, poll_seconds: float = 0.02):
        self._db = db
        self._wait = wait_seconds
        self._poll = poll_seconds

    def execute(self, scope: str, key: str, request_hash: str, operation: Callable[[Tx], tuple[int, Any]]) -> Outcome:
        """Run `operation(tx)` at most once per (scope, key); its (status, JSON body) is what replays."""
        with self._db.single() as tx:  # one statement, its own transaction: one round trip
            keys.register(tx, scope, key, request_hash)
        deadline = time.monotonic() + self._wait
        while True:
            try:
                with self._db.transaction() as tx:
                    record = keys.lock(tx, scope, key)
                    if record is None:  # purged between register and lock: register again
                        keys.register(tx, scope, key, request_hash)
                        record = keys.lock(tx, scope, key)
                        assert record is not None
                    expired = record.created_at < _now() - RETENTION
                    if expired:
                        keys.restart(tx, scope, key, request_hash)
                    elif record.request_hash != request_hash:
                        raise IdempotencyKeyReused(
                            "This Idempotency-Key was used with a different request; use a new key."
                        )
                    elif record.completed_at is not None:
                        return Outcome(int(record.status_code or 200), record.response_body, True)
                    status, body = operation(tx)
                    keys.complete(tx, scope, key, status, body)
                    return Outcome(status, body, False)
            except Exception as exc:
                if sqlstate(exc) != keys.LOCK_NOT_AVAILABLE:
                    raise
            if time.monotonic() >= deadline:
                raise RequestInProgress("A request with this Idempotency-Key is still in progress; retry shortly.")
            time.sleep(self._poll)

    def purge_expired(self, batch: int = 1000) -> int:
        """Delete keys past retention, in bounded batches that each commit."""
        total = 0
        while True:
            with self._db.transaction() as tx:
                deleted = keys.purge_older_than(tx, _now() - RETENTION, batch)
            total += deleted
            if deleted < batch:
                return total


def _now() -> datetime:
    return datetime.now(UTC)


_service: IdempotencyService | None = None


def get_idempotency() -> IdempotencyService:
    """The container's IdempotencyService, built on first use."""
    global _service
    if _service is None:
        from .db import get_database

        _service = IdempotencyService(get_database())
    return _service
