"""Partner purchases: the record of each reported purchase and the natural key that dedupes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from ..platform.db import Tx
from .models import Purchase, Tier

_COLUMNS = (
    "id, partner_id, external_id, member_id, amount_usd, tier, multiplier, points, ledger_entry_id, "
    "balance_after, tier_after, store_id, occurred_at, created_at"
)


def get(tx: Tx, partner_id: UUID, external_id: str) -> Purchase | None:
    return tx.row(
        Purchase,
        f"SELECT {_COLUMNS} FROM partner_purchases WHERE partner_id = :p AND external_id = :x",
        p=partner_id,
        x=external_id,
    )


def insert(
    tx: Tx,
    *,
    partner_id: UUID,
    external_id: str,
    member_id: UUID,
    amount_usd: Decimal,
    tier: Tier,
    multiplier: Decimal,
    points: int,
    ledger_entry_id: UUID | None,
    balance_after: int,
    tier_after: Tier,
    store_id: str | None,
    occurred_at: datetime | None,
) -> Purchase | None:
    """The new row, or None when (partner_id, external_id) exists (a concurrent report won)."""
    return tx.row(
        Purchase,
        "INSERT INTO partner_purchases (partner_id, external_id, member_id, amount_usd, tier, multiplier, points, "
        "ledger_entry_id, balance_after, tier_after, store_id, occurred_at) "
        "VALUES (:p, :x, :m, :amount, :tier, :mult, :points, :entry, :balance, :tier_after, :store, :occurred) "
        f"ON CONFLICT ON CONSTRAINT partner_purchases_natural_key DO NOTHING RETURNING {_COLUMNS}",
        p=partner_id,
        x=external_id,
        m=member_id,
        amount=amount_usd,
        tier=tier,
        mult=multiplier,
        points=points,
        entry=ledger_entry_id,
        balance=balance_after,
        tier_after=tier_after,
        store=store_id,
        occurred=occurred_at,
    )
