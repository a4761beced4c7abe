"""Promotions: admin CRUD, and the budget grant a purchase makes under the promotion's row lock."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from ..platform import paging
from ..platform.db import Tx
from .models import Promotion, PromotionTerms

_TERMS = tuple(f.name for f in fields(PromotionTerms))
_COLUMNS = (
    "pr.id, pr.name, pr.kind, pr.multiplier, pr.bonus_points, pr.starts_at, pr.ends_at, pr.store_ids, pr.tiers, "
    "pr.min_amount_usd, pr.first_purchase_only, pr.per_member_cap_points, pr.budget_points, pr.budget_used, "
    "pr.stacking, pr.active, pr.created_by, pr.created_at, pr.updated_at, "
    "(SELECT COALESCE(SUM(c.points), 0) FROM purchase_credits c WHERE c.promotion_id = pr.id)::bigint "
    "  AS awarded_points, "
    "(SELECT count(DISTINCT c.member_id) FROM purchase_credits c WHERE c.promotion_id = pr.id)::int "
    "  AS members_awarded, "
    "clock_timestamp() AS as_of"
)


def insert(tx: Tx, terms: PromotionTerms, created_by: str) -> Promotion:
    values = {name: getattr(terms, name) for name in _TERMS}
    columns = ", ".join(_TERMS)
    placeholders = ", ".join(f":{name}" for name in _TERMS)
    promotion_id = tx.fetch_value(
        f"INSERT INTO promotions ({columns}, created_by) VALUES ({placeholders}, :by) RETURNING id",
        **values,
        by=created_by,
    )
    found = get(tx, promotion_id)
    assert found is not None
    return found


def get(tx: Tx, promotion_id: UUID) -> Promotion | None:
    return tx.row(Promotion, f"SELECT {_COLUMNS} FROM promotions pr WHERE pr.id = :id", id=promotion_id)


def list_page(tx: Tx, limit: int, cursor: str | None) -> tuple[list[Promotion], str | None]:
    rows = tx.rows(
        Promotion,
        f"SELECT {_COLUMNS} FROM promotions pr WHERE {paging.after_cursor('pr')} "
        "ORDER BY pr.created_at DESC, pr.id DESC LIMIT :page_size",
        **paging.params(cursor, limit),
    )
    return paging.page(rows, limit, lambda p: (p.created_at, p.id))


def lock(tx: Tx, promotion_id: UUID) -> dict[str, Any] | None:
    """The promotion row, locked, with the database clock: what a change is checked against."""
    return tx.fetch_one(
        "SELECT starts_at, ends_at, active, clock_timestamp() AS now FROM promotions WHERE id = :id FOR NO KEY UPDATE",
        id=promotion_id,
    )


def update_terms(tx: Tx, promotion_id: UUID, changes: dict[str, Any]) -> None:
    """Set the given terms (names fixed by PromotionTerms, never taken from input)."""
    unknown = set(changes) - set(_TERMS)
    if unknown:
        raise ValueError(f"not promotion terms: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    tx.execute(f"UPDATE promotions SET {assignments}, updated_at = now() WHERE id = :id", id=promotion_id, **changes)


def end_at(tx: Tx, promotion_id: UUID, ends_at: datetime) -> None:
    """End early: never later than the promotion's own end, never before now."""
    tx.execute(
        "UPDATE promotions SET ends_at = LEAST(ends_at, GREATEST(CAST(:at AS timestamptz), clock_timestamp())), "
        "updated_at = now() WHERE id = :id",
        id=promotion_id,
        at=ends_at,
    )


def deactivate(tx: Tx, promotion_id: UUID) -> bool:
    return tx.execute("UPDATE promotions SET active = false, updated_at = now() WHERE id = :id", id=promotion_id) == 1


# -- the grant a purchase makes ----------------------------------------------------------------------
_GRANT = """
WITH want AS (
    SELECT * FROM jsonb_to_recordset(CAST(:offers AS jsonb)) AS w(id uuid, points bigint)
), locked AS MATERIALIZED (
    -- FOR NO KEY UPDATE returns the newest committed version of each row once its lock is ours, so the
    -- grant is computed from the budget as it is after every purchase ahead of us committed.
    SELECT p.id, GREATEST(LEAST(w.points, p.budget_points - p.budget_used), 0) AS granted
    FROM promotions p JOIN want w ON w.id = p.id
    ORDER BY p.id
    FOR NO KEY UPDATE OF p
), spent AS (
    UPDATE promotions p SET budget_used = p.budget_used + l.granted, updated_at = now()
    FROM locked l WHERE p.id = l.id AND l.granted > 0
)
SELECT id, granted FROM locked
"""


def grant_budgets(tx: Tx, wanted: dict[UUID, int]) -> dict[UUID, int]:
    """Take up to `wanted` points from each budgeted promotion's budget: the promotion rows are locked
    in id order (after the member row, before any lot: the ledger's lock order), and each gets what
    is left of its budget at most. What each promotion granted (0 when its budget is spent)."""
    if not wanted:
        return {}
    rows = tx.fetch(
        _GRANT,
        offers=json.dumps([{"id": str(k), "points": v} for k, v in sorted(wanted.items(), key=lambda i: str(i[0]))]),
    )
    return {r["id"]: int(r["granted"]) for r in rows}
