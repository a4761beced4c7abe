"""Orders, their lines and their status history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ..platform import paging
from ..platform.db import Tx
from ..platform.logs import request_id_var
from .models import (
    LineDraft,
    Order,
    OrderHead,
    OrderLine,
    OrderSource,
    OrderStatus,
    PlacedOrder,
    StalledOrder,
    StatusChange,
    StockLine,
)

_HEAD = "id, member_id, status, total_points, payment_entry_id"


def create(
    tx: Tx, member_id: UUID, lines: Sequence[LineDraft], source: OrderSource, payment_entry_id: UUID | None = None
) -> UUID:
    """The order PENDING with its lines, history and OrderCreated event: the SQL function `order_create`."""
    order_id: UUID = tx.fetch_value(
        "SELECT order_create(:m, CAST(:lines AS jsonb), :s, :p, :r)",
        m=member_id,
        lines=_lines_json(lines),
        s=source,
        p=payment_entry_id,
        r=request_id_var.get(),
    )
    return order_id


def _lines_json(lines: Sequence[LineDraft]) -> str:
    return json.dumps(
        [
            {
                "product_id": str(line.product_id),
                "name": line.name,
                "description": line.description,
                "image_url": line.image_url,
                "quantity": line.quantity,
                "unit_points_price": line.unit_points_price,
            }
            for line in lines
        ]
    )


_PLACED = "order_id, entry_id AS ledger_entry_id, total_points, previous_balance, balance"


def place(tx: Tx, member_id: UUID, lines: Sequence[LineDraft], source: OrderSource) -> PlacedOrder:
    """The SQL function `order_place` (migration 0011): stock, order, lines, history, debit, payment,
    OrderCreated, in one statement. Raises XR001/XR002 (platform/outcomes.py) on a refusal."""
    placed = tx.row(
        PlacedOrder,
        f"SELECT {_PLACED} FROM order_place(:m, CAST(:lines AS jsonb), :s, :r)",
        m=member_id,
        lines=_lines_json(lines),
        s=source,
        r=request_id_var.get(),
    )
    assert placed is not None
    return placed


def checkout(tx: Tx, member_id: UUID) -> PlacedOrder | None:
    """The SQL function `cart_checkout` (migration 0011): the cart claimed and placed as an order in one
    statement. None: the cart was empty."""
    placed = tx.row(
        PlacedOrder,
        f"SELECT {_PLACED} FROM cart_checkout(:m, :r)",
        m=member_id,
        r=request_id_var.get(),
    )
    return placed if placed is not None and placed.order_id is not None else None


def attach_payment(tx: Tx, order_id: UUID, entry_id: UUID) -> None:
    """Record the debit that paid for the order (written after the order row, which the debit references)."""
    tx.execute("UPDATE orders SET payment_entry_id = :e WHERE id = :o", o=order_id, e=entry_id)


def lock(tx: Tx, order_id: UUID, member_id: UUID | None = None) -> OrderHead | None:
    """Row-lock the order for a status change; with `member_id`, only if it is that member's."""
    return tx.row(
        OrderHead,
        f"SELECT {_HEAD} FROM orders WHERE id = :o AND (CAST(:m AS uuid) IS NULL OR member_id = :m) FOR NO KEY UPDATE",
        o=order_id,
        m=member_id,
    )


def lock_for_member(tx: Tx, member_id: UUID, statuses: Sequence[OrderStatus]) -> list[OrderHead]:
    """The member's orders in these statuses, row-locked in id order (erasure cancels them all)."""
    return tx.rows(
        OrderHead,
        f"SELECT {_HEAD} FROM orders WHERE member_id = :m AND status = ANY(CAST(:s AS text[])) ORDER BY id FOR UPDATE",
        m=member_id,
        s=list(statuses),
    )


def head(tx: Tx, order_id: UUID) -> OrderHead | None:
    return tx.row(OrderHead, f"SELECT {_HEAD} FROM orders WHERE id = :o", o=order_id)


def stock_lines(tx: Tx, order_id: UUID) -> list[StockLine]:
    """Lines in product-id order: the global lock order for product rows (see ordering.place_order)."""
    return tx.rows(
        StockLine, "SELECT product_id, quantity FROM order_lines WHERE order_id = :o ORDER BY product_id", o=order_id
    )


def set_status(tx: Tx, order_id: UUID, status: OrderStatus, reason: str | None = None) -> datetime:
    """Status and its history row in one statement; returns when it happened (the history row's time)."""
    at: datetime = tx.fetch_value(
        "WITH moved AS (UPDATE orders SET status = :s, updated_at = now() WHERE id = :o RETURNING id) "
        "INSERT INTO order_status_history AS h (order_id, status, reason) SELECT id, :s, :r FROM moved "
        "ON CONFLICT (order_id, status) DO UPDATE SET reason = COALESCE(EXCLUDED.reason, h.reason) RETURNING at",
        o=order_id,
        s=status,
        r=reason,
    )
    return at


# -- reads -------------------------------------------------------------------------------------
_ORDER_COLUMNS = "id, member_id, status, total_points, created_at, updated_at"


def get(tx: Tx, order_id: UUID, member_id: UUID | None = None) -> Order | None:
    """The order with its lines and history; with `member_id`, only if it belongs to that member."""
    # One round trip: the order, its lines and its history (the order id is known) in one flight.
    found, lines, history = tx.fetch_many(
        (
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = :o AND (CAST(:m AS uuid) IS NULL OR member_id = :m)",
            {"o": order_id, "m": member_id},
        ),
        (_LINES_SQL, {"ids": [str(order_id)]}),
        (_HISTORY_SQL, {"ids": [str(order_id)]}),
    )
    return _assemble(found, lines, history)[0] if found else None


def list_for_member(tx: Tx, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    return _page(tx, "member_id = :m", {"m": member_id}, limit, cursor)


def list_by_status(
    tx: Tx, status: OrderStatus | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    """All members' orders, newest first, optionally of one status (admin)."""
    return _page(tx, "(CAST(:s AS text) IS NULL OR status = :s)", {"s": status}, limit, cursor)


def _page(tx: Tx, where: str, params: dict[str, Any], limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    """Newest-first keyset page of orders matching `where` (a fixed SQL fragment, never user input)."""
    rows = tx.fetch(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {where} AND {paging.AFTER_CURSOR} {paging.NEWEST_FIRST}",
        **params,
        **paging.params(cursor, limit),
    )
    rows, next_cursor = paging.page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return _with_details(tx, rows), next_cursor


_LINES_SQL = (
    "SELECT order_id, product_id AS item_id, product_name AS name, quantity, unit_points_price FROM order_lines "
    "WHERE order_id = ANY(CAST(:ids AS uuid[])) ORDER BY order_id, product_name, product_id"
)
_HISTORY_SQL = (
    "SELECT order_id, status, at FROM order_status_history WHERE order_id = ANY(CAST(:ids AS uuid[])) "
    "ORDER BY order_id, at, status"
)


def _with_details(tx: Tx, rows: list[dict[str, Any]]) -> list[Order]:
    """Lines and history of a page of orders in two queries (not two per order), sent in one flight."""
    if not rows:
        return []
    ids = [str(r["id"]) for r in rows]
    lines, history = tx.fetch_many((_LINES_SQL, {"ids": ids}), (_HISTORY_SQL, {"ids": ids}))
    return _assemble(rows, lines, history)


def _assemble(
    rows: list[dict[str, Any]], line_rows: list[dict[str, Any]], history_rows: list[dict[str, Any]]
) -> list[Order]:
    lines: dict[UUID, list[OrderLine]] = {}
    for line in line_rows:
        lines.setdefault(line.pop("order_id"), []).append(OrderLine(**line))
    history: dict[UUID, list[StatusChange]] = {}
    for change in history_rows:
        history.setdefault(change.pop("order_id"), []).append(StatusChange(**change))
    return [Order(**r, items=lines.get(r["id"], []), history=history.get(r["id"], [])) for r in rows]


# -- liveness (orders/recovery.py) -----------------------------------------------------------------
def pending_before(tx: Tx, before: datetime, limit: int) -> list[StalledOrder]:
    """The oldest orders still PENDING that were placed before `before`."""
    return tx.rows(
        StalledOrder,
        "SELECT id AS order_id, created_at FROM orders WHERE status = 'PENDING' AND created_at < :before "
        "ORDER BY created_at, id LIMIT :n",
        before=before,
        n=limit,
    )


def resend_created_events(tx: Tx, placed_before: datetime, placed_since: datetime, why: str) -> list[StalledOrder]:
    """Mark the OrderCreated outbox rows of orders PENDING since before `placed_before` (but not before
    `placed_since`) unpublished again, when they were last published before `placed_before`."""
    return tx.rows(
        StalledOrder,
        "UPDATE outbox_events e SET published_at = NULL, last_error = :why "
        "FROM orders o WHERE o.status = 'PENDING' AND o.created_at < :placed_before "
        "AND o.created_at >= :placed_since AND e.aggregate_id = o.id AND e.event_type = 'OrderCreated' "
        "AND e.published_at IS NOT NULL AND e.published_at < :placed_before "
        "RETURNING o.id AS order_id, o.created_at",
        why=why,
        placed_before=placed_before,
        placed_since=placed_since,
    )
