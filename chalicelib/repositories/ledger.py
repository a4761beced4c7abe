"""The points ledger, member balances and lots: the only code that moves points.

Invariants (checked by tests and by the reconciliation job):
  members.balance == SUM(ledger_entries.points) == SUM(point_lots.points_remaining)
Locking rule: a lot is only ever mutated while its member's row is locked, and the member row is
always locked first (the conditional balance UPDATE does it). That serialises every movement of one
member's points without advisory locks, and keeps lock order fixed (member -> lots), so no deadlocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from ..db import UNIQUE_VIOLATION, Tx, sqlstate
from ..errors import Conflict, InsufficientPoints
from ..models import LedgerEntry, LedgerType, TransactionItem
from . import paging

_ENTRY_COLUMNS = "id, member_id, entry_type, points, description, order_id, created_at"
# Credits that count as "earned" (tiers, lifetime_earned); refunds and adjustments do not.
EARNING_TYPES = ("EARN", "BONUS")


class LedgerInvariantBroken(RuntimeError):
    """Lots do not cover the balance: a bug, never a user error. Rolls the transaction back."""


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    previous_balance: int
    balance: int


def _insert_entry(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    order_id: UUID | None,
    external_ref: str | None,
    created_by: str | None,
) -> LedgerEntry:
    row = tx.fetch_one(
        "INSERT INTO ledger_entries (member_id, entry_type, points, description, order_id, external_ref, created_by) "
        f"VALUES (:m, :t, :p, :d, :o, :x, :by) RETURNING {_ENTRY_COLUMNS}",
        m=member_id, t=entry_type, p=points, d=description, o=order_id, x=external_ref, by=created_by,
    )
    return LedgerEntry.model_validate(row)


def credit(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    *,
    lot_lifetime: timedelta,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Posting:
    """Add points: one ledger row, one new lot expiring after `lot_lifetime`, the cached balance."""
    if points <= 0:
        raise ValueError("credit needs a positive amount")
    earned = points if entry_type in EARNING_TYPES else 0
    balance = tx.fetch_value(
        "UPDATE members SET balance = balance + :p, lifetime_earned = lifetime_earned + :e, updated_at = now() "
        "WHERE id = :m RETURNING balance",
        m=member_id, p=points, e=earned,
    )
    if balance is None:
        raise LookupError(f"member {member_id} does not exist")
    entry = _insert_entry(tx, member_id, entry_type, points, description, order_id, external_ref, created_by)
    tx.execute(
        "INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at) "
        "VALUES (:m, :e, :p, :p, CAST(:at AS timestamptz), CAST(:at AS timestamptz) + make_interval(secs => CAST(:life AS float8)))",
        m=member_id, e=entry.id, p=points, at=now or entry.created_at, life=lot_lifetime.total_seconds(),
    )
    return Posting(entry, balance - points, balance)


def debit(
    tx: Tx,
    member_id: UUID,
    entry_type: LedgerType,
    points: int,
    description: str,
    *,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
) -> Posting:
    """Take points, soonest-expiring lots first. Raises InsufficientPoints and writes nothing if short.

    The one shared spend path: checkout, orders, reservations, negative adjustments and expiry of
    a member's points all come through here.
    """
    if points <= 0:
        raise ValueError("debit needs a positive amount")
    balance = tx.fetch_value(
        "UPDATE members SET balance = balance - :p, updated_at = now() WHERE id = :m AND balance >= :p RETURNING balance",
        m=member_id, p=points,
    )
    if balance is None:
        available = tx.fetch_value("SELECT balance FROM members WHERE id = :m", m=member_id)
        raise InsufficientPoints(points, available)
    entry = _insert_entry(tx, member_id, entry_type, -points, description, order_id, external_ref, created_by)
    taken = consume_lots(tx, member_id, entry.id, points)
    if taken != points:
        raise LedgerInvariantBroken(f"lots of member {member_id} cover {taken} of {points} points")
    return Posting(entry, balance + points, balance)


def consume_lots(tx: Tx, member_id: UUID, entry_id: UUID, points: int) -> int:
    """FIFO by expiry in one statement; the caller holds the member row lock."""
    taken = tx.fetch_value(
        """
        WITH open_lots AS (
            SELECT id, points_remaining,
                   SUM(points_remaining) OVER (ORDER BY expires_at, id) - points_remaining AS before
            FROM point_lots
            WHERE member_id = :m AND points_remaining > 0
        ), take AS (
            SELECT id, LEAST(points_remaining, :p - before) AS points
            FROM open_lots WHERE before < :p
        ), updated AS (
            UPDATE point_lots l SET points_remaining = l.points_remaining - take.points
            FROM take WHERE l.id = take.id
            RETURNING l.id, take.points
        ), allocated AS (
            INSERT INTO lot_allocations (ledger_entry_id, lot_id, points)
            SELECT :e, id, points FROM updated
            RETURNING points
        )
        SELECT COALESCE(SUM(points), 0)::bigint FROM allocated
        """,
        m=member_id, p=points, e=entry_id,
    )
    return int(taken or 0)


def refund(
    tx: Tx,
    debit_entry_id: UUID,
    description: str,
    *,
    order_id: UUID | None = None,
    external_ref: str | None = None,
    created_by: str | None = None,
) -> Posting:
    """Give back a whole debit: the points return to the very lots they came from.

    A lot keeps its original expiry, so refunded points that lapsed in the meantime are expired by
    the next expiry run (documented in the README: refunds never extend a lot's life).
    `external_ref` makes a refund happen at most once (unique per entry type).
    """
    original = tx.fetch_one(
        "SELECT member_id, points FROM ledger_entries WHERE id = :id AND points < 0", id=debit_entry_id
    )
    if original is None:
        raise LookupError(f"no debit {debit_entry_id}")
    member_id, points = original["member_id"], -int(original["points"])
    balance = tx.fetch_value(
        "UPDATE members SET balance = balance + :p, updated_at = now() WHERE id = :m RETURNING balance",
        m=member_id, p=points,
    )
    try:
        entry = _insert_entry(tx, member_id, "REFUND", points, description, order_id,
                              external_ref or str(debit_entry_id), created_by)
    except Exception as exc:
        if sqlstate(exc) == UNIQUE_VIOLATION:
            raise Conflict("This debit was already refunded.", code="ALREADY_REFUNDED") from exc
        raise
    restored = tx.fetch_value(
        """
        WITH restored AS (
            UPDATE point_lots l SET points_remaining = l.points_remaining + a.points
            FROM lot_allocations a WHERE a.ledger_entry_id = :d AND a.lot_id = l.id
            RETURNING a.points
        ) SELECT COALESCE(SUM(points), 0)::bigint FROM restored
        """,
        d=debit_entry_id,
    )
    if int(restored or 0) != points:
        raise LedgerInvariantBroken(f"refund of {debit_entry_id} restored {restored} of {points} points")
    return Posting(entry, balance - points, balance)


# -- reads -------------------------------------------------------------------------------------
def list_for_member(tx: Tx, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    after = paging.decode(cursor)
    if after is None:
        rows = tx.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE member_id = :m "
            "ORDER BY created_at DESC, id DESC LIMIT :n",
            m=member_id, n=limit + 1,
        )
    else:
        rows = tx.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE member_id = :m AND (created_at, id) < (:at, :id) "
            "ORDER BY created_at DESC, id DESC LIMIT :n",
            m=member_id, at=after[0], id=after[1], n=limit + 1,
        )
    entries = [LedgerEntry.model_validate(r) for r in rows]
    return paging.page(entries, limit, lambda e: (e.created_at, e.id))


def get_for_member(tx: Tx, member_id: UUID, entry_id: UUID) -> LedgerEntry | None:
    row = tx.fetch_one(
        f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE id = :id AND member_id = :m", id=entry_id, m=member_id
    )
    return LedgerEntry.model_validate(row) if row else None


def items_of_order(tx: Tx, order_id: UUID) -> list[TransactionItem]:
    rows = tx.fetch(
        "SELECT product_id AS cat_item_id, product_name, description, image_url, quantity AS unit_cnt, "
        "unit_points_price FROM order_lines WHERE order_id = :o ORDER BY product_name, product_id",
        o=order_id,
    )
    return [TransactionItem.model_validate(r) for r in rows]


def sums(tx: Tx, member_id: UUID) -> dict[str, int]:
    """balance, ledger sum and lot sum of one member: equal unless something is broken."""
    row = tx.fetch_one(
        "SELECT m.balance, "
        " (SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id)::bigint AS ledger, "
        " (SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id)::bigint AS lots "
        "FROM members m WHERE m.id = :m",
        m=member_id,
    )
    return {k: int(v) for k, v in (row or {}).items()}
