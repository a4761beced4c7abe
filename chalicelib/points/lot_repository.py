"""Point lots as the jobs and reports see them: which lots lapsed, which expire soon, who to tell.

Moving points stays in `ledger` (expire_lapsed is there); this module selects and locks work for the
expiry job, and reads schedules (GET /prod/points, the liability report, the dry run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ..platform.db import Tx
from .ledger_repository import LotKey
from .models import ExpiringPoints


@dataclass(frozen=True)
class ExpiryBatch:
    """One batch of the expiry job: the candidate range and the members whose rows we now hold."""

    candidates: int
    through: LotKey | None  # last candidate key: the next batch starts after it
    locked: list[UUID]  # member rows locked by this transaction (SKIP LOCKED: never waited for)
    skipped: list[UUID]  # members of the batch another transaction holds: swept at the end of the run


_BATCH_SQL = """
WITH candidates AS MATERIALIZED (
    SELECT member_id, expires_at, id FROM point_lots
    WHERE points_remaining > 0 AND expires_at <= CAST(:now AS timestamptz)
      AND (member_id, expires_at, id) > (CAST(:a_m AS uuid), CAST(:a_at AS timestamptz), CAST(:a_id AS uuid))
    ORDER BY member_id, expires_at, id
    LIMIT :n
), wanted AS MATERIALIZED (
    SELECT array_agg(DISTINCT member_id) AS ids FROM candidates
), locked AS MATERIALIZED (
    -- = ANY(array): index probes, never a scan of all members
    SELECT m.id FROM members m WHERE m.id = ANY(ARRAY(SELECT unnest(ids) FROM wanted))
    ORDER BY m.id FOR NO KEY UPDATE OF m SKIP LOCKED
)
SELECT c.n, last.member_id, last.expires_at, last.id,
       (SELECT array_agg(id ORDER BY id) FROM locked) AS locked,
       (SELECT ids FROM wanted) AS wanted
FROM (SELECT count(*)::int AS n FROM candidates) c
LEFT JOIN LATERAL (
    SELECT member_id, expires_at, id FROM candidates ORDER BY member_id DESC, expires_at DESC, id DESC LIMIT 1
) last ON true
"""


def lock_expiry_batch(tx: Tx, now: datetime, after: LotKey, limit: int) -> ExpiryBatch:
    """The next `limit` lapsed lots after `after` in (member_id, expires_at, id) order, and a lock
    on each of their members that nobody else holds right now.

    Batching by member keeps the ledger's lock order (member rows, then their lots) and expires a
    member's lapsed lots together: one balance update and one PointsExpired event per member.
    """
    row = tx.fetch_one(_BATCH_SQL, now=now, a_m=after[0], a_at=after[1], a_id=after[2], n=limit)
    assert row is not None
    locked = list(row["locked"] or [])
    held = set(locked)
    skipped = sorted((m for m in (row["wanted"] or []) if m not in held), key=str)
    through = (row["member_id"], row["expires_at"], row["id"]) if row["n"] else None
    return ExpiryBatch(candidates=int(row["n"]), through=through, locked=locked, skipped=skipped)


def lock_members(tx: Tx, member_ids: list[UUID]) -> list[UUID]:
    """Wait for and lock these member rows, in id order (the one multi-member lock order)."""
    rows = tx.fetch(
        "SELECT id FROM members WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR NO KEY UPDATE",
        ids=[str(m) for m in member_ids],
    )
    return [r["id"] for r in rows]


@dataclass(frozen=True)
class LapsedLot:
    lot_id: UUID
    member_id: UUID
    email: str
    points: int
    earned_at: datetime
    expires_at: datetime


def lapsed(tx: Tx, now: datetime, after: LotKey, limit: int) -> list[tuple[LotKey, LapsedLot]]:
    """Read-only: what the expiry job would expire, in its order (the dry run)."""
    rows = tx.fetch(
        "SELECT l.id, l.member_id, m.email, l.points_remaining, l.earned_at, l.expires_at "
        "FROM point_lots l JOIN members m ON m.id = l.member_id "
        "WHERE l.points_remaining > 0 AND l.expires_at <= CAST(:now AS timestamptz) "
        "AND (l.member_id, l.expires_at, l.id) > (CAST(:a_m AS uuid), CAST(:a_at AS timestamptz), CAST(:a_id AS uuid)) "
        "ORDER BY l.member_id, l.expires_at, l.id LIMIT :n",
        now=now,
        a_m=after[0],
        a_at=after[1],
        a_id=after[2],
        n=limit,
    )
    return [
        (
            (r["member_id"], r["expires_at"], r["id"]),
            LapsedLot(r["id"], r["member_id"], r["email"], int(r["points_remaining"]), r["earned_at"], r["expires_at"]),
        )
        for r in rows
    ]


def expiring_by_day(tx: Tx, member_id: UUID, now: datetime | None, days: int) -> list[ExpiringPoints]:
    """Points that will expire in (now, now + days], summed per UTC calendar day."""
    rows = tx.fetch(
        "SELECT (expires_at AT TIME ZONE 'UTC')::date AS day, SUM(points_remaining)::bigint AS points "
        "FROM point_lots WHERE member_id = :m AND points_remaining > 0 "
        "AND expires_at > COALESCE(CAST(:now AS timestamptz), now()) "
        "AND expires_at <= COALESCE(CAST(:now AS timestamptz), now()) + make_interval(days => CAST(:d AS int)) "
        "GROUP BY 1 ORDER BY 1",
        m=member_id,
        now=now,
        d=days,
    )
    return [ExpiringPoints(r["day"], int(r["points"])) for r in rows]


# -- "expiring soon" notices -----------------------------------------------------------------------
def members_with_unannounced(tx: Tx, now: datetime, until: datetime, after: UUID, limit: int) -> list[UUID]:
    """Members (id order, after `after`) owning lots that expire in (now, until] and were never announced."""
    rows = tx.fetch(
        "SELECT DISTINCT l.member_id FROM point_lots l "
        "WHERE l.points_remaining > 0 AND l.expires_at > :now AND l.expires_at <= :until AND l.member_id > :after "
        "AND NOT EXISTS (SELECT 1 FROM expiry_notices n WHERE n.lot_id = l.id) "
        "ORDER BY l.member_id LIMIT :n",
        now=now,
        until=until,
        after=after,
        n=limit,
    )
    return [r["member_id"] for r in rows]


def claim_notices(tx: Tx, member_id: UUID, now: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """Record the member's unannounced soon-expiring lots as announced; (expires_at, points) of those
    this transaction claimed. A concurrent run waits on the unique lot_id, then claims nothing."""
    rows = tx.fetch(
        "WITH due AS (SELECT id, points_remaining, expires_at FROM point_lots WHERE member_id = :m "
        "  AND points_remaining > 0 AND expires_at > :now AND expires_at <= :until), "
        "claimed AS (INSERT INTO expiry_notices (lot_id, member_id) SELECT id, :m FROM due "
        "  ON CONFLICT (lot_id) DO NOTHING RETURNING lot_id) "
        "SELECT d.expires_at, d.points_remaining FROM due d JOIN claimed c ON c.lot_id = d.id ORDER BY d.expires_at",
        m=member_id,
        now=now,
        until=until,
    )
    return [(r["expires_at"], int(r["points_remaining"])) for r in rows]


# -- liability ------------------------------------------------------------------------------------
def liability_by_tier(tx: Tx, now: datetime, windows: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per tier: members (erased ones are not), members holding points, outstanding points,
    lapsed-not-yet-expired points, points expiring within each window (cumulative: within 30 days
    includes within 0-30), pending points (not vested yet) and points returns could not take back
    (uncollected)."""
    window_columns = ", ".join(
        "COALESCE(SUM(l.points_remaining) FILTER (WHERE l.expires_at > CAST(:now AS timestamptz) "
        f"AND l.expires_at <= CAST(:now AS timestamptz) + make_interval(days => {int(d)})), 0)::bigint "
        f"AS within_{int(d)}"
        for d in windows
    )
    rows = tx.fetch(
        "WITH tiers AS (SELECT tier, count(*)::bigint AS members, "
        "  count(*) FILTER (WHERE balance > 0)::bigint AS holders, "
        "  COALESCE(SUM(balance), 0)::bigint AS outstanding FROM members WHERE erased_at IS NULL GROUP BY tier), "
        "lots AS (SELECT m.tier, COALESCE(SUM(l.points_remaining) "
        "  FILTER (WHERE l.expires_at <= CAST(:now AS timestamptz)), 0)::bigint AS lapsed, "
        f"  {window_columns} "
        "  FROM point_lots l JOIN members m ON m.id = l.member_id WHERE l.points_remaining > 0 GROUP BY m.tier), "
        "pending AS (SELECT m.tier, SUM(c.points - c.points_cancelled)::bigint AS points FROM purchase_credits c "
        "  JOIN members m ON m.id = c.member_id WHERE c.status = 'PENDING' GROUP BY m.tier), "
        "uncollected AS (SELECT m.tier, SUM(r.points_uncollected)::bigint AS points FROM purchase_returns r "
        "  JOIN members m ON m.id = r.member_id WHERE r.points_uncollected > 0 GROUP BY m.tier) "
        "SELECT t.tier, t.members, t.holders, t.outstanding, COALESCE(lots.lapsed, 0)::bigint AS lapsed, "
        "COALESCE(pending.points, 0)::bigint AS pending, COALESCE(uncollected.points, 0)::bigint AS uncollected, "
        + ", ".join(f"COALESCE(lots.within_{int(d)}, 0)::bigint AS within_{int(d)}" for d in windows)
        + " FROM tiers t LEFT JOIN lots ON lots.tier = t.tier LEFT JOIN pending ON pending.tier = t.tier "
        "LEFT JOIN uncollected ON uncollected.tier = t.tier",
        now=now,
    )
    return rows
