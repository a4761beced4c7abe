from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Tx

LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class KeyRecord:
    request_hash: str
    status_code: int | None
    response_body: Any
    created_at: datetime
    completed_at: datetime | None


def register(tx: Tx, scope: str, key: str, request_hash: str) -> None:
    """Make sure a row exists to lock (its own short transaction, so concurrent callers can see it)."""
    tx.execute(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash) VALUES (:s, :k, :h) ON CONFLICT DO NOTHING",
        s=scope,
        k=key,
        h=request_hash,
    )


def lock(tx: Tx, scope: str, key: str) -> KeyRecord | None:
    """Row-lock the key without waiting; raises a 55P03 DatabaseError while another request holds it."""
    row = tx.fetch_one(
        "SELECT request_hash, status_code, response_body, created_at, completed_at FROM idempotency_keys "
        "WHERE scope = :s AND idem_key = :k FOR UPDATE NOWAIT",
        s=scope,
        k=key,
    )
    if row is None:
        return None
    body = row["response_body"]
    if isinstance(body, str):
        body = json.loads(body)
    return KeyRecord(row["request_hash"], row["status_code"], body, row["created_at"], row["completed_at"])


def restart(tx: Tx, scope: str, key: str, request_hash: str) -> None:
    """Reuse an expired key (older than the retention window) for a new request."""
    tx.execute(
        "UPDATE idempotency_keys SET request_hash = :h, status_code = NULL, response_body = NULL, "
        "created_at = now(), completed_at = NULL WHERE scope = :s AND idem_key = :k",
        s=scope,
        k=key,
        h=request_hash,
    )


def complete(tx: Tx, scope: str, key: str, status_code: int, body: Any) -> None:
    """Store the response: the transaction's last statement, sent together with its COMMIT."""
    tx.finish(
        "UPDATE idempotency_keys SET status_code = :c, response_body = :b, completed_at = now() "
        "WHERE scope = :s AND idem_key = :k",
        s=scope,
        k=key,
        c=status_code,
        b=json.dumps(body),
    )


def purge_older_than(tx: Tx, cutoff: datetime, batch: int = 1000) -> int:
    return tx.execute(
        "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys "
        "WHERE created_at < :c LIMIT :n))",
        c=cutoff,
        n=batch,
    )
