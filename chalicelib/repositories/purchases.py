"""Partner purchases: the record of each reported purchase and the natural key that dedupes them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from ..db import Tx

_COLUMNS = ("id, partner_id, external_id, member_id, amount_usd, tier, multiplier, points, ledger_entry_id, "
            "balance_after, tier_after, store_id, occurred_at, created_at")


@dataclass(frozen=True)
class PurchaseRow:
    id: UUID
    partner_id: UUID
    external_id: str
    member_id: UUID
    amount_usd: Decimal
    tier: str
    multiplier: Decimal
    points: int
    ledger_entry_id: UUID | None
    balance_after: int
    tier_after: str
    store_id: str | None
    occurred_at: datetime | None
    created_at: datetime


def get(tx: Tx, partner_id: UUID, external_id: str) -> PurchaseRow | None:
    row = tx.fetch_one(
        f"SELECT {_COLUMNS} FROM partner_purchases WHERE partner_id = :p AND external_id = :x",
        p=partner_id, x=external_id,
    )
    return PurchaseRow(**row) if row else None


def insert(
    tx: Tx, *, partner_id: UUID, external_id: str, member_id: UUID, amount_usd: Decimal, tier: str,
    multiplier: Decimal, points: int, ledger_entry_id: UUID | None, balance_after: int, tier_after: str,
    store_id: str | None, occurred_at: datetime | None,
) -> PurchaseRow | None:
    """The new row, or None when (partner_id, external_id) exists (a concurrent report won)."""
    row = tx.fetch_one(
        "INSERT INTO partner_purchases (partner_id, external_id, member_id, amount_usd, tier, multiplier, points, "
        "ledger_entry_id, balance_after, tier_after, store_id, occurred_at) "
        "VALUES (:p, :x, :m, :amount, :tier, :mult, :points, :entry, :balance, :tier_after, :store, :occurred) "
        f"ON CONFLICT ON CONSTRAINT partner_purchases_natural_key DO NOTHING RETURNING {_COLUMNS}",
        p=partner_id, x=external_id, m=member_id, amount=amount_usd, tier=tier, mult=multiplier, points=points,
        entry=ledger_entry_id, balance=balance_after, tier_after=tier_after, store=store_id, occurred=occurred_at,
    )
    return PurchaseRow(**row) if row else None
