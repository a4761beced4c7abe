"""Transactional outbox: an event row written in the same transaction as the change it announces,
claimed and marked by the relay (events/relay.py).

Whoever writes an event row registers the relay with the transaction's after-commit hook
(`written(tx)`; `add` does it), so events leave right after the commit that made them true, whatever
service wrote them; the every-minute relay schedule publishes whatever that missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ..platform.db import Tx
from ..platform.logs import request_id_var
from .publishing import set_publisher, written

__all__ = ["PendingEvent", "add", "claim", "mark_failed", "mark_published", "set_publisher", "written"]


@dataclass(frozen=True)
class PendingEvent:
    id: UUID
    event_type: str
    aggregate_id: UUID
    payload: dict[str, Any]
    request_id: str | None
    created_at: datetime
    attempts: int


def add(tx: Tx, event_type: str, aggregate_id: UUID, payload: dict[str, Any]) -> UUID:
    event_id: UUID = tx.fetch_value(
        "INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id) "
        "VALUES (:t, :a, CAST(:p AS jsonb), :r) RETURNING id",
        t=event_type,
        a=aggregate_id,
        p=json.dumps(payload, default=str),
        r=request_id_var.get(),
    )
    written(tx)
    return event_id


def claim(tx: Tx, limit: int) -> list[PendingEvent]:
    """The oldest unpublished events, row-locked; rows another relay holds are skipped, not waited for."""
    rows = tx.fetch(
        "SELECT id, event_type, aggregate_id, payload, request_id, created_at, attempts FROM outbox_events "
        "WHERE published_at IS NULL ORDER BY created_at, id LIMIT :n FOR UPDATE SKIP LOCKED",
        n=limit,
    )
    return [PendingEvent(**{**r, "payload": _json(r["payload"])}) for r in rows]


def mark_published(tx: Tx, event_ids: list[UUID]) -> None:
    if event_ids:
        tx.execute(
            "UPDATE outbox_events SET published_at = now(), attempts = attempts + 1, last_error = NULL "
            "WHERE id = ANY(CAST(:ids AS uuid[]))",
            ids=[str(i) for i in event_ids],
        )


def mark_failed(tx: Tx, event_ids: list[UUID], error: str) -> None:
    if event_ids:
        tx.execute(
            "UPDATE outbox_events SET attempts = attempts + 1, last_error = :e WHERE id = ANY(CAST(:ids AS uuid[]))",
            ids=[str(i) for i in event_ids],
            e=error[:1000],
        )


def backlog(tx: Tx) -> int:
    return int(tx.fetch_value("SELECT count(*) FROM outbox_events WHERE published_at IS NULL") or 0)


def unpublished_before(tx: Tx, before: datetime) -> tuple[int, datetime | None]:
    """How many events written before `before` are still unpublished, and when the oldest was written."""
    row = tx.fetch_one(
        "SELECT count(*) AS n, min(created_at) AS oldest FROM outbox_events "
        "WHERE published_at IS NULL AND created_at < :before",
        before=before,
    )
    assert row is not None
    return int(row["n"]), row["oldest"]


def _json(value: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return decoded
