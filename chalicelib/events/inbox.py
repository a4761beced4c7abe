"""The consumer's record of handled events: an event id here means its effect has committed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Tx


def claim(tx: Tx, event_id: UUID, event_type: str, outcome: str) -> bool:
    """True for the first claim of `event_id`; call it in the transaction that applies the effect,
    and roll that transaction back on False.

    A concurrent duplicate blocks on the primary key until the first commits (then gets False) or
    rolls back (then gets True, and its own effect stands).
    """
    return (
        tx.execute(
            "INSERT INTO processed_events (event_id, event_type, outcome) VALUES (:e, :t, :o) ON CONFLICT DO NOTHING",
            e=event_id,
            t=event_type,
            o=outcome,
        )
        == 1
    )


def seen(tx: Tx, event_id: UUID) -> bool:
    return bool(tx.fetch_value("SELECT 1 FROM processed_events WHERE event_id = :e", e=event_id))


def purge_before(tx: Tx, cutoff: datetime, batch: int) -> int:
    return tx.execute(
        "DELETE FROM processed_events WHERE event_id = ANY(ARRAY(SELECT event_id FROM processed_events "
        "WHERE processed_at < :c LIMIT :n))",
        c=cutoff,
        n=batch,
    )
