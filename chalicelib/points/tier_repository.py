"""Tier qualification: EARN points credited in a trailing window (BONUS, REFUND, ADJUST do not count)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Tx
from .models import Tier
from .tier_policy import TierPolicy

# The window is (now - days, now]: an EARN row exactly `days` old no longer counts.
_QUALIFYING = (
    "SELECT COALESCE(SUM(points), 0)::bigint FROM ledger_entries "
    "WHERE member_id = :m AND entry_type = 'EARN' "
    "AND created_at > COALESCE(CAST(:now AS timestamptz), now()) - make_interval(days => CAST(:days AS int)) "
    "AND created_at <= COALESCE(CAST(:now AS timestamptz), now())"
)


def qualifying_points(tx: Tx, member_id: UUID, now: datetime | None, window_days: int) -> int:
    return int(tx.fetch_value(_QUALIFYING, m=member_id, now=now, days=window_days) or 0)


def stale_in_batch(
    tx: Tx, after: UUID, limit: int, now: datetime, policy: TierPolicy
) -> tuple[list[UUID], UUID | None, int]:
    """Among the next `limit` members after `after` (id order): those whose stored tier differs from
    their qualifying points now; plus the last id looked at and how many were looked at."""
    rows = tx.fetch(
        "WITH batch AS (SELECT id, tier FROM members WHERE id > :after ORDER BY id LIMIT :n), "
        "q AS (SELECT b.id, b.tier, COALESCE(SUM(l.points), 0) AS points FROM batch b "
        "  LEFT JOIN ledger_entries l ON l.member_id = b.id AND l.entry_type = 'EARN' "
        "  AND l.created_at > CAST(:now AS timestamptz) - make_interval(days => CAST(:tier_window_days AS int)) "
        "  AND l.created_at <= CAST(:now AS timestamptz) "
        "  GROUP BY b.id, b.tier) "
        f"SELECT id, tier <> {policy.sql_tier('points')} AS stale FROM q ORDER BY id",
        after=after,
        n=limit,
        now=now,
        **policy.sql_params(),
    )
    stale = [r["id"] for r in rows if r["stale"]]
    return stale, (rows[-1]["id"] if rows else None), len(rows)


def apply_tiers(tx: Tx, member_ids: list[UUID], now: datetime, policy: TierPolicy) -> list[tuple[UUID, Tier, Tier]]:
    """Lock these members (id order) and set each one's tier from its qualifying points, computed
    after the lock so a concurrent earn cannot be overwritten with a stale tier. (id, old, new).

    The window ends at the later of `now` and this statement's clock: an earn that committed after
    the job read its batch (so after the job's `now`) still counts."""
    if not member_ids:
        return []
    tx.execute(
        "SELECT id FROM members WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR NO KEY UPDATE",
        ids=[str(m) for m in member_ids],
    )
    window_end = "GREATEST(CAST(:now AS timestamptz), statement_timestamp())"
    rows = tx.fetch(
        "WITH q AS (SELECT m.id, m.tier AS old, COALESCE(SUM(l.points), 0) AS points FROM members m "
        "  LEFT JOIN ledger_entries l ON l.member_id = m.id AND l.entry_type = 'EARN' "
        f"  AND l.created_at > {window_end} - make_interval(days => CAST(:tier_window_days AS int)) "
        f"  AND l.created_at <= {window_end} "
        "  WHERE m.id = ANY(CAST(:ids AS uuid[])) GROUP BY m.id, m.tier), "
        f"n AS (SELECT id, old, {policy.sql_tier('points')} AS new FROM q) "
        "UPDATE members m SET tier = n.new, updated_at = now() FROM n "
        "WHERE m.id = n.id AND n.new <> n.old RETURNING m.id, n.old, n.new",
        ids=[str(m) for m in member_ids],
        now=now,
        **policy.sql_params(),
    )
    return [(r["id"], r["old"], r["new"]) for r in rows]
