"""The invariants that tie pending points, purchases, returns and promotions to the ledger
(docs/points.md section 13), as read-only checks: the reconciliation job runs them nightly and the
test helpers after every step that moves points.

Per member (besides balance == SUM(ledger) == SUM(lots) >= 0, checked by ledger.sums_batch):
  credits    every purchase credit is PENDING or CANCELLED without a ledger row, or POSTED with
             exactly one ledger row of its id, member, type and points - points_cancelled;
  purchases  SUM(credits.points) = purchases.points; SUM(returns.amount) <= purchases.amount;
             SUM(reversed + uncollected) = floor(points x SUM(returned) / amount);
             SUM(returns.points_from_pending) = SUM(credits.points_cancelled - credits.points_forfeited)
             (what erasure forfeited is not a return's);
             what returns took from lots = -SUM(their RETURN ledger rows).
Per promotion: budget_used = SUM(its credits' points) <= budget_points (budgeted ones); no member
holds more of its points than per_member_cap_points.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..platform.db import Tx

_MEMBER_CHECKS = """
WITH ms AS (SELECT id FROM members WHERE id = ANY(CAST(:ids AS uuid[]))),
bad_credits AS (
    SELECT c.member_id, count(*)::int AS n
    FROM purchase_credits c LEFT JOIN ledger_entries l ON l.id = c.id
    WHERE c.member_id = ANY(CAST(:ids AS uuid[])) AND NOT (
        (c.status IN ('PENDING', 'CANCELLED') AND l.id IS NULL)
        OR (c.status = 'POSTED' AND l.id IS NOT NULL AND l.member_id = c.member_id AND l.entry_type = c.entry_type
            AND l.points = c.points - c.points_cancelled))
    GROUP BY c.member_id
),
bad_purchases AS (
    SELECT p.member_id, count(*)::int AS n
    FROM partner_purchases p
    CROSS JOIN LATERAL (
        SELECT COALESCE(SUM(points), 0) AS points,
               COALESCE(SUM(points_cancelled - points_forfeited), 0) AS cancelled
        FROM purchase_credits WHERE purchase_id = p.id) c
    CROSS JOIN LATERAL (
        SELECT COALESCE(SUM(r.amount_usd), 0) AS amount,
               COALESCE(SUM(r.points_reversed + r.points_uncollected), 0) AS settled,
               COALESCE(SUM(r.points_from_pending), 0) AS from_pending,
               COALESCE(SUM(r.points_reversed - r.points_from_pending), 0) AS from_lots,
               COALESCE(-SUM(l.points), 0) AS return_rows
        FROM purchase_returns r LEFT JOIN ledger_entries l ON l.id = r.ledger_entry_id AND l.entry_type = 'RETURN'
        WHERE r.purchase_id = p.id) r
    WHERE p.member_id = ANY(CAST(:ids AS uuid[])) AND NOT (
        c.points = p.points
        AND r.amount <= p.amount_usd
        AND r.settled = div(p.points * r.amount * 100, p.amount_usd * 100)
        AND r.from_pending = c.cancelled
        AND r.from_lots = r.return_rows)
    GROUP BY p.member_id
),
pending AS (
    SELECT member_id, SUM(points - points_cancelled)::bigint AS points FROM purchase_credits
    WHERE member_id = ANY(CAST(:ids AS uuid[])) AND status = 'PENDING' GROUP BY member_id
)
SELECT ms.id, COALESCE(bc.n, 0) AS bad_credits, COALESCE(bp.n, 0) AS bad_purchases,
       COALESCE(pe.points, 0)::bigint AS pending
FROM ms LEFT JOIN bad_credits bc ON bc.member_id = ms.id LEFT JOIN bad_purchases bp ON bp.member_id = ms.id
LEFT JOIN pending pe ON pe.member_id = ms.id
ORDER BY ms.id
"""


def member_checks(tx: Tx, member_ids: list[UUID]) -> dict[UUID, dict[str, int]]:
    """Per member: credits and purchases breaking the invariants (0 and 0 when sound), pending points."""
    if not member_ids:
        return {}
    rows = tx.fetch(_MEMBER_CHECKS, ids=[str(m) for m in member_ids])
    return {
        r["id"]: {
            "bad_credits": int(r["bad_credits"]),
            "bad_purchases": int(r["bad_purchases"]),
            "pending": int(r["pending"]),
        }
        for r in rows
    }


def promotion_problems(tx: Tx) -> list[dict[str, Any]]:
    """Promotions whose budget bookkeeping or per-member cap is broken (none when sound)."""
    return tx.fetch(
        "WITH awarded AS (SELECT promotion_id, SUM(points)::bigint AS points FROM purchase_credits "
        "  WHERE promotion_id IS NOT NULL GROUP BY promotion_id), "
        "per_member AS (SELECT promotion_id, MAX(points)::bigint AS most FROM (SELECT promotion_id, member_id, "
        "  SUM(points) AS points FROM purchase_credits WHERE promotion_id IS NOT NULL "
        "  GROUP BY promotion_id, member_id) t GROUP BY promotion_id) "
        "SELECT pr.id, pr.budget_points, pr.budget_used, COALESCE(a.points, 0)::bigint AS awarded, "
        "  pr.per_member_cap_points, COALESCE(pm.most, 0)::bigint AS most_by_one_member "
        "FROM promotions pr LEFT JOIN awarded a ON a.promotion_id = pr.id "
        "LEFT JOIN per_member pm ON pm.promotion_id = pr.id "
        "WHERE (pr.budget_points IS NOT NULL AND (pr.budget_used <> COALESCE(a.points, 0) "
        "       OR pr.budget_used > pr.budget_points)) "
        "   OR (pr.per_member_cap_points IS NOT NULL AND COALESCE(pm.most, 0) > pr.per_member_cap_points) "
        "ORDER BY pr.id"
    )
