"""Returns of partner purchases: the record of each (natural key: purchase + return_id) and what the
purchase has had returned so far."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from ..events import outbox
from ..platform.db import Tx
from ..platform.logs import request_id_var
from .models import PurchaseReturn

_COLUMNS = (
    "id, purchase_id, member_id, return_id, amount_usd, points_reversed, points_from_pending, points_uncollected, "
    "ledger_entry_id, balance_after, created_at"
)


@dataclass(frozen=True, slots=True)
class ReturnContext:
    existing: PurchaseReturn | None  # this return_id was reported before
    amount_returned: Decimal  # by the purchase's earlier returns
    points_settled: int  # reversed + uncollected by the earlier returns
    own_entries: list[UUID]  # the purchase's posted credits: their lots are taken first


def context(tx: Tx, purchase_id: UUID, return_id: str) -> ReturnContext:
    """Read under the member lock, so no other return of this purchase is in between."""
    prefixed = ", ".join(f"r.{c.strip()} AS r_{c.strip()}" for c in _COLUMNS.split(","))
    row = tx.fetch_one(
        "SELECT (SELECT COALESCE(SUM(amount_usd), 0) FROM purchase_returns WHERE purchase_id = :p) AS amount, "
        " (SELECT COALESCE(SUM(points_reversed + points_uncollected), 0) FROM purchase_returns "
        "  WHERE purchase_id = :p)::bigint AS settled, "
        " ARRAY(SELECT id FROM purchase_credits WHERE purchase_id = :p AND status = 'POSTED' ORDER BY id) AS own, "
        f" {prefixed} "
        "FROM (SELECT 1) one LEFT JOIN purchase_returns r ON r.purchase_id = :p AND r.return_id = :r",
        p=purchase_id,
        r=return_id,
    )
    assert row is not None
    existing = None
    if row["r_id"] is not None:
        existing = PurchaseReturn(**{k[2:]: v for k, v in row.items() if k.startswith("r_")})
    return ReturnContext(existing, Decimal(row["amount"]), int(row["settled"]), list(row["own"] or []))


def insert(tx: Tx, record: PurchaseReturn, event: dict[str, Any]) -> PurchaseReturn:
    """The return row and its PointsReturned outbox event, in one statement."""
    row = tx.row(
        PurchaseReturn,
        f"""
        WITH r AS (
            INSERT INTO purchase_returns ({_COLUMNS})
            VALUES (:id, :p, :m, :r, :amount, :reversed, :pending, :uncollected, :entry, :balance,
                    CAST(:at AS timestamptz))
            RETURNING {_COLUMNS}
        ), event AS (
            INSERT INTO outbox_events (event_type, aggregate_id, payload, request_id)
            SELECT 'PointsReturned', r.member_id, CAST(:payload AS jsonb), CAST(:rid AS text) FROM r
        )
        SELECT {_COLUMNS} FROM r
        """,
        id=record.id,
        p=record.purchase_id,
        m=record.member_id,
        r=record.return_id,
        amount=record.amount_usd,
        reversed=record.points_reversed,
        pending=record.points_from_pending,
        uncollected=record.points_uncollected,
        entry=record.ledger_entry_id,
        balance=record.balance_after,
        at=record.created_at,
        payload=json.dumps(event, default=str),
        rid=request_id_var.get(),
    )
    assert row is not None
    outbox.written(tx)
    return row
