"""Tier qualification: points earned from purchases (EARN and PROMOTION rows) minus what returns took
back (RETURN rows) in a trailing window, never below 0. BONUS, REFUND, ADJUST and EXPIRE do not count;
pending points count from the instant they vest (their ledger rows are stamped with it)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Tx
from .models import Tier
from .tier_policy import TierPolicy

# Ledger types that qualify (matches the partial index ledger_member_qualifying).
QUALIFYING_TYPES = "entry_type IN ('EARN', 'PROMOTION', 'RETURN')"


# The window is (now - days, now]: a row exactly `days` old no longer counts. A RETURN counts at
# its own time, so a return made after its purchase aged out of the window still lowers the sum
# (which is floored at 0), as a status program debits status points when the goods come back.
def qualifying_sql(now: str = "COALESCE(CAST(:now AS timestamptz), now())") -> str:
    """Member :m's qualifying points in the :days window ending at the SQL expression `now`."""
    return (
        "SELECT GREATEST(COALESCE(SUM(points), 0), 0)::bigint FROM ledger_entries "
        f"WHERE member_id = :m AND {QUALIFYING_TYPES} "
        f"AND created_at > {now} - make_interval(days => CAST(:days AS int)) AND created_at <= {now}"
    )


_QUALIFYING = qualifying_sql()


def qualifying_points(tx: Tx, member_id: UUID, now: datetime | None, window_days: int) -> int:
    return int(tx.fetch_value(_QUALIFYING, m=member_id, now=now, days=window_days) or 0)


def stale_in_batch(
    tx: Tx, after: UUID, limit: int, now: datetime, policy: TierPolicy
) -> tuple[list[UUID], UUID | None, int]:
    """Among the next `limit` members after `after` (id order): those whose stored tier differs from
    their qualifying points now; plus the last id looked at and how many were looked at."""
    rows = tx.fetch(
        "WITH batch AS (SELECT id, tier FROM members WHERE id > :after ORDER BY id LIMIT :n), "
        "q AS (SELECT b.id, b.tier, GREATEST(COALESCE(SUM(l.points), 0), 0) AS points FROM batch b "
        f"  LEFT JOIN ledger_entries l ON l.member_id = b.id AND l.{QUALIFYING_TYPES} "
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
        "WITH q AS (SELECT m.id, m.tier AS old, GREATEST(COALESCE(SUM(l.points), 0), 0) AS points FROM members m "
        f"  LEFT JOIN ledger_entries l ON l.member_id = m.id AND l.{QUALIFYING_TYPES} "
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


def refresh_tier(tx: Tx, member_id: UUID, now: datetime | None, policy: TierPolicy) -> tuple[Tier, Tier] | None:
    """Set one locked member's tier from their qualifying points now; (old, new) when it changed."""
    row = tx.fetch_one(
        f"WITH q AS (SELECT ({_QUALIFYING}) AS points), n AS (SELECT {policy.sql_tier('q.points')} AS tier FROM q) "
        "UPDATE members m SET tier = n.tier, updated_at = now() FROM n, (SELECT tier FROM members WHERE id = :m) old "
        "WHERE m.id = :m AND m.tier <> n.tier RETURNING old.tier AS old, m.tier AS new",
        m=member_id,
        now=now,
        days=policy.window_days,
        **policy.sql_params(),
    )
    return (row["old"], row["new"]) if row else None
