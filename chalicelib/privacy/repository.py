"""The record of each erasure (member_erasures): claimed first, so concurrent erasures of one member
serialise on it and all but one find the work done."""

from __future__ import annotations

from uuid import UUID

from ..platform.db import Tx
from .models import Erasure

_COLUMNS = (
    "member_id, erased_at, points_forfeited, pending_forfeited, forfeit_entry_id, orders_cancelled, "
    "reservations_released, identity_deleted"
)


def get(tx: Tx, member_id: UUID) -> Erasure | None:
    return tx.row(Erasure, f"SELECT {_COLUMNS} FROM member_erasures WHERE member_id = :m", m=member_id)


def claim(tx: Tx, member_id: UUID, erased_by: str) -> bool:
    """True for the one transaction that erases this member; a concurrent claim waits for it to commit
    (then gets False) or roll back (then gets True and does the work)."""
    return (
        tx.execute(
            "INSERT INTO member_erasures (member_id, erased_by, points_forfeited, orders_cancelled, "
            "reservations_released, identity_deleted) VALUES (:m, :by, 0, 0, 0, false) ON CONFLICT DO NOTHING",
            m=member_id,
            by=erased_by,
        )
        == 1
    )


def complete(
    tx: Tx,
    member_id: UUID,
    *,
    points_forfeited: int,
    pending_forfeited: int,
    forfeit_entry_id: UUID | None,
    orders_cancelled: int,
    reservations_released: int,
    identity_deleted: bool,
) -> Erasure:
    row = tx.row(
        Erasure,
        "UPDATE member_erasures SET erased_at = now(), points_forfeited = :p, pending_forfeited = :pp, "
        "forfeit_entry_id = :e, "
        "orders_cancelled = :o, reservations_released = :r, identity_deleted = :i WHERE member_id = :m "
        f"RETURNING {_COLUMNS}",
        m=member_id,
        p=points_forfeited,
        pp=pending_forfeited,
        e=forfeit_entry_id,
        o=orders_cancelled,
        r=reservations_released,
        i=identity_deleted,
    )
    assert row is not None
    return row
