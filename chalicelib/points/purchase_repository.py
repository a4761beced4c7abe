"""Partner purchases: the record of each reported purchase, the natural key that dedupes them, and
what each purchase was credited (purchase_credits: its base points and each promotion's points)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ..events import outbox
from ..members import repository as members
from ..platform.db import Tx
from ..platform.logs import request_id_var
from .ledger_repository import CreditKey
from .models import (
    Balance,
    CreditPart,
    CreditStatus,
    LedgerEntry,
    PromotionAward,
    Purchase,
    RunningPromotion,
    Tier,
)
from .tier_repository import qualifying_sql

_COLUMNS = (
    "id, partner_id, external_id, member_id, amount_usd, tier, multiplier, points, ledger_entry_id, "
    "balance_after, tier_after, store_id, occurred_at, created_at, base_points, vests_at"
)


def get(tx: Tx, partner_id: UUID, external_id: str) -> Purchase | None:
    return tx.row(
        Purchase,
        f"SELECT {_COLUMNS} FROM partner_purchases WHERE partner_id = :p AND external_id = :x",
        p=partner_id,
        x=external_id,
    )


@dataclass(frozen=True, slots=True)
class PurchaseContext:
    """Everything a new purchase needs to know, read in one statement after the member is locked."""

    at: datetime  # the purchase's instant: promotions' windows, ledger rows, vesting count from it
    existing: Purchase | None  # the same (partner, external_id) already recorded: a repeat
    qualifying: int  # tier qualifying points before this purchase
    first_purchase: bool  # the member has no reported purchase yet
    promotions: list[RunningPromotion]


# Promotions running at :at, with what is left of this member's cap and of the budget.
_RUNNING = """
SELECT COALESCE(jsonb_agg(jsonb_build_object(
    'id', pr.id, 'name', pr.name, 'kind', pr.kind, 'multiplier', CAST(pr.multiplier AS text),
    'bonus_points', pr.bonus_points, 'store_ids', pr.store_ids, 'tiers', pr.tiers,
    'min_amount_usd', CAST(pr.min_amount_usd AS text), 'first_purchase_only', pr.first_purchase_only,
    'stacking', pr.stacking, 'budgeted', pr.budget_points IS NOT NULL,
    'budget_left', pr.budget_points - pr.budget_used,
    'cap_left', CASE WHEN pr.per_member_cap_points IS NOT NULL THEN pr.per_member_cap_points - (
        SELECT COALESCE(SUM(c.points), 0) FROM purchase_credits c WHERE c.promotion_id = pr.id AND c.member_id = :m)
    END) ORDER BY pr.id), CAST('[]' AS jsonb))
FROM promotions pr
WHERE pr.active AND pr.ends_at > ctx.at AND pr.starts_at <= ctx.at
"""


def lock_member_with_context(
    tx: Tx, partner_id: UUID, external_id: str, member_id: UUID, now: datetime | None, window_days: int
) -> tuple[Balance | None, PurchaseContext]:
    """The member row locked (members.lock), then the purchase's context, in one round trip (the
    statements run in that order, so the context is read under the lock): the purchase's instant
    (`now`, or the clock after the member lock), a repeat of the same report, the member's qualifying
    points and first-purchase status, and the running promotions. The context of a member that is not
    found is meaningless (the caller stops at None)."""
    locked, found = tx.fetch_many(
        (members.LOCK_SQL, {"id": member_id}),
        _context_statement(partner_id, external_id, member_id, now, window_days),
    )
    return (Balance(**locked[0]) if locked else None), _context_of(found[0])


def _context_statement(
    partner_id: UUID, external_id: str, member_id: UUID, now: datetime | None, window_days: int
) -> tuple[str, dict[str, Any]]:
    prefixed = ", ".join(f"p.{c.strip()} AS p_{c.strip()}" for c in _COLUMNS.split(","))
    sql = (
        "WITH ctx AS MATERIALIZED (SELECT COALESCE(CAST(:now AS timestamptz), clock_timestamp()) AS at) "
        "SELECT ctx.at, "
        f"  ({qualifying_sql('ctx.at')}) AS qualifying, "
        "  NOT EXISTS (SELECT 1 FROM partner_purchases WHERE member_id = :m) AS first_purchase, "
        f"  ({_RUNNING}) AS promotions, {prefixed} "
        "FROM ctx LEFT JOIN partner_purchases p ON p.partner_id = :partner AND p.external_id = :x"
    )
    return (
        sql,
        {"now": now, "m": member_id, "days": window_days, "partner": partner_id, "x": external_id},
    )


def _context_of(row: dict[str, Any]) -> PurchaseContext:
    existing = None
    if row["p_id"] is not None:
        existing = Purchase(**{k[2:]: v for k, v in row.items() if k.startswith("p_")})
    return PurchaseContext(
        at=row["at"],
        existing=existing,
        qualifying=int(row["qualifying"]),
        first_purchase=bool(row["first_purchase"]),
        promotions=[_running(p) for p in row["promotions"] or []],
    )


def _running(doc: dict[str, Any]) -> RunningPromotion:
    return RunningPromotion(
        id=UUID(doc["id"]),
        name=doc["name"],
        kind=doc["kind"],
        multiplier=Decimal(doc["multiplier"]) if doc["multiplier"] is not None else None,
        bonus_points=doc["bonus_points"],
        store_ids=doc["store_ids"],
        tiers=doc["tiers"],
        min_amount_usd=Decimal(doc["min_amount_usd"]) if doc["min_amount_usd"] is not None else None,
        first_purchase_only=bool(doc["first_purchase_only"]),
        stacking=doc["stacking"],
        cap_left=doc["cap_left"],
        budget_left=doc["budget_left"],
        budgeted=bool(doc["budgeted"]),
    )


@dataclass(frozen=True, slots=True)
class NewPurchase:
    id: UUID
    partner_id: UUID
    external_id: str
    member_id: UUID
    amount_usd: Decimal
    tier: Tier
    multiplier: Decimal
    points: int
    base_points: int
    ledger_entry_id: UUID | None
    balance_after: int
    tier_after: Tier
    store_id: str | None
    occurred_at: datetime | None
    vests_at: datetime | None


def insert(
    tx: Tx,
    purchase: NewPurchase,
    credits: list[CreditPart],
    *,
    status: CreditStatus,
    credited_at: datetime,
    lot_expires_at: datetime | None,
    event: tuple[str, dict[str, Any]] | None,
) -> Purchase | None:
    """The purchase row, its credits (all with `status`) and its outbox event, in one statement.
    None when (partner_id, external_id) exists (a concurrent report won): nothing is written then."""
    row = tx.row(
        Purchase,
        f"""
        WITH p AS (
            INSERT INTO partner_purchases (id, partner_id, external_id, member_id, amount_usd, tier, multiplier, points,
                base_points, ledger_entry_id, balance_after, tier_after, store_id, occurred_at, vests_at)
            VALUES (:id, :partner, :x, :m, :amount, :tier, :mult, :points, :base, :entry, :balance, :tier_after,
                    :store, :occurred, :vests)
            ON CONFLICT ON CONSTRAINT partner_purchases_natural_key DO NOTHING
            RETURNING {_COLUMNS}
        ), credits AS (
            INSERT INTO purchase_credits (id, purchase_id, member_id, entry_type, promotion_id, points, status,
                                          vests_at, lot_expires_at, description, external_ref, created_at)
            SELECT c.id, p.id, p.member_id, c.entry_type, c.promotion_id, c.points, :status, p.vests_at,
                   CAST(:lot_expires AS timestamptz), c.description, c.external_ref, CAST(:credited AS timestamptz)
            FROM p, jsonb_to_recordset(CAST(:credits AS jsonb)) AS c(id uuid, entry_type text, promotion_id uuid,
                                                                     points bigint, description text,
                                                                     external_ref text)
        ), event AS (
            INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
            SELECT CAST(:event AS text), p.member_id, CAST(:payload AS jsonb), CAST(:rid AS text)
            FROM p WHERE CAST(:event AS text) IS NOT NULL
        )
        SELECT {_COLUMNS} FROM p
        """,
        id=purchase.id,
        partner=purchase.partner_id,
        x=purchase.external_id,
        m=purchase.member_id,
        amount=purchase.amount_usd,
        tier=purchase.tier,
        mult=purchase.multiplier,
        points=purchase.points,
        base=purchase.base_points,
        entry=purchase.ledger_entry_id,
        balance=purchase.balance_after,
        tier_after=purchase.tier_after,
        store=purchase.store_id,
        occurred=purchase.occurred_at,
        vests=purchase.vests_at,
        status=status,
        lot_expires=lot_expires_at,
        credited=credited_at,
        credits=json.dumps(
            [
                {
                    "id": str(c.id),
                    "entry_type": c.entry_type,
                    "promotion_id": str(c.promotion_id) if c.promotion_id else None,
                    "points": c.points,
                    "description": c.description,
                    "external_ref": c.external_ref,
                }
                for c in credits
            ]
        ),
        event=event[0] if event else None,
        payload=json.dumps(event[1], default=str) if event else None,
        rid=request_id_var.get(),
    )
    if row is not None and event is not None:
        outbox.written(tx)
    return row


def awards(tx: Tx, purchase_id: UUID) -> list[PromotionAward]:
    """The promotions a purchase earned and the points each paid (as awarded: returns do not change it)."""
    return tx.rows(
        PromotionAward,
        "SELECT c.promotion_id, pr.name, c.points FROM purchase_credits c JOIN promotions pr ON pr.id = c.promotion_id "
        "WHERE c.purchase_id = :p ORDER BY c.promotion_id",
        p=purchase_id,
    )


def pending_base_credit(tx: Tx, purchase_id: UUID) -> LedgerEntry | None:
    """A pending purchase's base credit as its first answer showed it (PENDING, the points awarded)."""
    return tx.row(
        LedgerEntry,
        "SELECT id, member_id, entry_type, points, description, CAST(NULL AS uuid) AS order_id, created_at, "
        "'PENDING' AS status, vests_at FROM purchase_credits WHERE purchase_id = :p AND entry_type = 'EARN'",
        p=purchase_id,
    )


def cancel_pending(tx: Tx, purchase_id: UUID, points: int) -> int:
    """A return cancels up to `points` of the purchase's pending credits, spread over them in
    proportion to what is left of each (largest remainder, ties by id), so base and promotion
    points go back alike; a credit cancelled in full is CANCELLED and never vests. The caller holds
    the member lock (which every change of a member's credits takes first). Points cancelled."""
    taken = tx.fetch_value(
        """
        WITH open AS (
            SELECT id, points - points_cancelled AS left_ FROM purchase_credits
            WHERE purchase_id = :p AND status = 'PENDING'
        ), total AS (
            SELECT COALESCE(SUM(left_), 0)::bigint AS left_, CAST(:n AS bigint) AS n FROM open
        ), share AS (
            SELECT o.id,
                   CASE WHEN t.n >= t.left_ THEN o.left_ ELSE (t.n * o.left_) / t.left_ END AS base,
                   CASE WHEN t.n >= t.left_ THEN 0 ELSE (t.n * o.left_) % t.left_ END AS remainder
            FROM open o, total t
        ), ranked AS (
            SELECT id, base, row_number() OVER (ORDER BY remainder DESC, id) AS rank,
                   (SELECT LEAST(n, left_) FROM total) - SUM(base) OVER () AS extra
            FROM share
        ), take AS (
            SELECT id, base + CASE WHEN rank <= extra THEN 1 ELSE 0 END AS points FROM ranked
        ), updated AS (
            UPDATE purchase_credits c SET points_cancelled = c.points_cancelled + take.points,
                   status = CASE WHEN c.points_cancelled + take.points = c.points THEN 'CANCELLED' ELSE c.status END
            FROM take WHERE c.id = take.id AND take.points > 0
            RETURNING take.points
        )
        SELECT COALESCE(SUM(points), 0)::bigint FROM updated
        """,
        p=purchase_id,
        n=points,
    )
    return int(taken or 0)


# -- the vesting job --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VestingBatch:
    """One batch of the vesting job: the candidate range and the members whose rows we now hold."""

    candidates: int
    through: CreditKey | None  # last candidate key: the next batch starts after it
    locked: list[UUID]  # member rows locked by this transaction (SKIP LOCKED: never waited for)
    skipped: list[UUID]  # members of the batch another transaction holds: swept at the end of the run


_VESTING_BATCH = """
WITH candidates AS MATERIALIZED (
    SELECT member_id, vests_at, id FROM purchase_credits
    WHERE status = 'PENDING' AND vests_at <= CAST(:now AS timestamptz)
      AND (member_id, vests_at, id) > (CAST(:a_m AS uuid), CAST(:a_at AS timestamptz), CAST(:a_id AS uuid))
    ORDER BY member_id, vests_at, id
    LIMIT :n
), wanted AS MATERIALIZED (
    SELECT array_agg(DISTINCT member_id) AS ids FROM candidates
), locked AS MATERIALIZED (
    SELECT m.id FROM members m WHERE m.id = ANY(ARRAY(SELECT unnest(ids) FROM wanted))
    ORDER BY m.id FOR NO KEY UPDATE OF m SKIP LOCKED
)
SELECT c.n, last.member_id, last.vests_at, last.id,
       (SELECT array_agg(id ORDER BY id) FROM locked) AS locked,
       (SELECT ids FROM wanted) AS wanted
FROM (SELECT count(*)::int AS n FROM candidates) c
LEFT JOIN LATERAL (
    SELECT member_id, vests_at, id FROM candidates ORDER BY member_id DESC, vests_at DESC, id DESC LIMIT 1
) last ON true
"""


def lock_vesting_batch(tx: Tx, now: datetime, after: CreditKey, limit: int) -> VestingBatch:
    """The next `limit` due pending credits after `after` in (member_id, vests_at, id) order, and a
    lock on each of their members that nobody else holds right now (the ledger's lock order)."""
    row = tx.fetch_one(_VESTING_BATCH, now=now, a_m=after[0], a_at=after[1], a_id=after[2], n=limit)
    assert row is not None
    locked = list(row["locked"] or [])
    held = set(locked)
    skipped = sorted((m for m in (row["wanted"] or []) if m not in held), key=str)
    through = (row["member_id"], row["vests_at"], row["id"]) if row["n"] else None
    return VestingBatch(candidates=int(row["n"]), through=through, locked=locked, skipped=skipped)


def pending_by_vest(tx: Tx, member_id: UUID) -> list[tuple[datetime, int]]:
    """A member's points not vested yet, summed per vesting instant, soonest first."""
    rows = tx.fetch(
        "SELECT vests_at, SUM(points - points_cancelled)::bigint AS points FROM purchase_credits "
        "WHERE member_id = :m AND status = 'PENDING' GROUP BY vests_at ORDER BY vests_at",
        m=member_id,
    )
    return [(r["vests_at"], int(r["points"])) for r in rows]


def forfeit_pending(tx: Tx, member_id: UUID) -> int:
    """Erasure: every pending credit of the member is cancelled for good (it never vests), recorded as
    forfeited rather than returned; the points forfeited (a pending credit was never forfeited before, so
    its points_forfeited afterwards is exactly this erasure's part). The caller holds the member lock."""
    forfeited: int = tx.fetch_value(
        "WITH gone AS (UPDATE purchase_credits SET points_forfeited = points_forfeited + (points - points_cancelled), "
        "  points_cancelled = points, status = 'CANCELLED' "
        "  WHERE member_id = :m AND status = 'PENDING' RETURNING points_forfeited) "
        "SELECT COALESCE(SUM(points_forfeited), 0)::bigint FROM gone",
        m=member_id,
    )
    return int(forfeited or 0)
