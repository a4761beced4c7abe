"""Reservations: holds of stock and points. Every way out of HELD is a conditional UPDATE on the status,
so purchase, release and expiry can race freely and exactly one of them wins."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..orders.models import LineDraft
from ..platform.db import Tx
from .models import Reservation

_COLUMNS = "id, member_id, product_id, quantity, points, status, hold_entry_id, order_id, expires_at, created_at"


def insert(
    tx: Tx,
    reservation_id: UUID,
    member_id: UUID,
    product_id: UUID,
    quantity: int,
    points: int,
    hold_entry_id: UUID,
    hold_minutes: int,
) -> Reservation:
    """The hold's row: the transaction's last statement, sent together with its COMMIT."""
    [found] = tx.finish(
        "INSERT INTO reservations (id, member_id, product_id, quantity, points, hold_entry_id, expires_at) "
        "VALUES (:r, :m, :p, :q, :pts, :e, now() + make_interval(mins => CAST(:mins AS int))) "
        f"RETURNING {_COLUMNS}",
        r=reservation_id,
        m=member_id,
        p=product_id,
        q=quantity,
        pts=points,
        e=hold_entry_id,
        mins=hold_minutes,
    )
    return Reservation(**found)


def get(tx: Tx, reservation_id: UUID, member_id: UUID) -> Reservation | None:
    return tx.row(
        Reservation,
        f"SELECT {_COLUMNS} FROM reservations WHERE id = :r AND member_id = :m",
        r=reservation_id,
        m=member_id,
    )


def claim_for_purchase(tx: Tx, reservation_id: UUID, member_id: UUID) -> tuple[Reservation, LineDraft] | None:
    """HELD and unexpired -> PURCHASED, with the order line it becomes (the product as it is now, at the
    price held), in one statement; None when the hold is not (or no longer) purchasable."""
    row = tx.fetch_one(
        "WITH claimed AS (UPDATE reservations SET status = 'PURCHASED', updated_at = now() "
        "WHERE id = :r AND member_id = :m AND status = 'HELD' AND expires_at > now() "
        f"RETURNING {_COLUMNS}) "
        "SELECT c.*, p.name AS product_name, p.description AS product_description, p.image_url AS product_image_url "
        "FROM claimed c JOIN products p ON p.id = c.product_id",  # products are deactivated, never deleted
        r=reservation_id,
        m=member_id,
    )
    if row is None:
        return None
    held = Reservation(**{k: v for k, v in row.items() if not k.startswith("product_") or k == "product_id"})
    line = LineDraft(
        held.product_id,
        row["product_name"],
        row["product_description"],
        row["product_image_url"],
        held.quantity,
        held.points // held.quantity,
    )
    return held, line


def attach_order(tx: Tx, reservation_id: UUID, order_id: UUID) -> None:
    tx.execute("UPDATE reservations SET order_id = :o WHERE id = :r", r=reservation_id, o=order_id)


def release(tx: Tx, reservation_id: UUID, member_id: UUID) -> Reservation | None:
    """HELD -> RELEASED (by the member; also after expiry, if the job has not got there yet)."""
    return tx.row(
        Reservation,
        "UPDATE reservations SET status = 'RELEASED', updated_at = now() "
        f"WHERE id = :r AND member_id = :m AND status = 'HELD' RETURNING {_COLUMNS}",
        r=reservation_id,
        m=member_id,
    )


def lock_held_for_member(tx: Tx, member_id: UUID) -> list[Reservation]:
    """The member's HELD reservations, row-locked in id order (before their products: the lock order)."""
    return tx.rows(
        Reservation,
        f"SELECT {_COLUMNS} FROM reservations WHERE member_id = :m AND status = 'HELD' ORDER BY id FOR UPDATE",
        m=member_id,
    )


def release_held_for_member(tx: Tx, member_id: UUID) -> list[Reservation]:
    """Every HELD reservation of the member -> RELEASED (erasure)."""
    return tx.rows(
        Reservation,
        "UPDATE reservations SET status = 'RELEASED', updated_at = now() "
        f"WHERE member_id = :m AND status = 'HELD' RETURNING {_COLUMNS}",
        m=member_id,
    )


def expire_due(tx: Tx, limit: int) -> list[Reservation]:
    """Up to `limit` lapsed holds -> EXPIRED. Holds another transaction has locked are skipped: a
    concurrent purchase or release decides them, and a later run sees what it decided."""
    return tx.rows(
        Reservation,
        "UPDATE reservations SET status = 'EXPIRED', updated_at = now() "
        "WHERE status = 'HELD' AND id = ANY(ARRAY("
        "  SELECT id FROM reservations WHERE status = 'HELD' AND expires_at <= now() "
        "  ORDER BY expires_at, id LIMIT :n FOR UPDATE SKIP LOCKED)) "
        f"RETURNING {_COLUMNS}",
        n=limit,
    )


def held_past(tx: Tx, before: datetime) -> int:
    """Holds still HELD whose expiry passed before `before` (the release job is behind)."""
    return int(
        tx.fetch_value("SELECT count(*) FROM reservations WHERE status = 'HELD' AND expires_at < :b", b=before) or 0
    )
