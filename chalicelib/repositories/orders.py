from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from ..db import Tx
from ..models import Order, OrderLine, OrderStatus, StatusChange
from . import paging


@dataclass(frozen=True)
class NewLine:
    product_id: UUID
    name: str
    description: str
    image_url: str | None
    quantity: int
    unit_points_price: int


def create(tx: Tx, member_id: UUID, lines: Iterable[NewLine], source: str = "CHECKOUT") -> UUID:
    lines = list(lines)
    total = sum(l.quantity * l.unit_points_price for l in lines)
    order_id = tx.fetch_value(
        "INSERT INTO orders (member_id, status, source, total_points) VALUES (:m, 'PENDING', :s, :t) RETURNING id",
        m=member_id, s=source, t=total,
    )
    # One statement for all lines (pg8000 sends lists as arrays).
    tx.execute(
        "INSERT INTO order_lines (order_id, product_id, product_name, description, image_url, quantity, unit_points_price) "
        "SELECT :o, * FROM unnest(CAST(:pid AS uuid[]), CAST(:name AS text[]), CAST(:descr AS text[]), "
        "CAST(:img AS text[]), CAST(:qty AS int[]), CAST(:price AS int[]))",
        o=order_id,
        pid=[str(l.product_id) for l in lines],
        name=[l.name for l in lines],
        descr=[l.description for l in lines],
        img=[l.image_url for l in lines],
        qty=[l.quantity for l in lines],
        price=[l.unit_points_price for l in lines],
    )
    tx.execute("INSERT INTO order_status_history (order_id, status) VALUES (:o, 'PENDING')", o=order_id)
    return order_id


def get(tx: Tx, order_id: UUID, member_id: UUID | None = None) -> Order | None:
    """The order with its lines and history; with `member_id`, only if it belongs to that member."""
    row = tx.fetch_one(
        "SELECT id, member_id, status, total_points, created_at, updated_at FROM orders "
        "WHERE id = :o AND (CAST(:m AS uuid) IS NULL OR member_id = :m)",
        o=order_id, m=member_id,
    )
    if row is None:
        return None
    lines = tx.fetch(
        "SELECT product_id AS item_id, product_name AS name, quantity, unit_points_price FROM order_lines "
        "WHERE order_id = :o ORDER BY product_name, product_id",
        o=order_id,
    )
    history = tx.fetch("SELECT status, at FROM order_status_history WHERE order_id = :o ORDER BY at, status", o=order_id)
    return Order(
        **row,
        items=[OrderLine.model_validate(l) for l in lines],
        history=[StatusChange.model_validate(h) for h in history],
    )


def list_for_member(tx: Tx, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    after = paging.decode(cursor)
    rows = tx.fetch(
        "SELECT id, created_at FROM orders WHERE member_id = :m "
        "AND (CAST(:at AS timestamptz) IS NULL OR (created_at, id) < (:at, :id)) "
        "ORDER BY created_at DESC, id DESC LIMIT :n",
        m=member_id, at=after[0] if after else None, id=after[1] if after else None, n=limit + 1,
    )
    rows, next_cursor = paging.page(rows, limit, lambda r: (r["created_at"], r["id"]))
    orders = [o for o in (get(tx, r["id"]) for r in rows) if o is not None]
    return orders, next_cursor


def set_status(tx: Tx, order_id: UUID, status: OrderStatus) -> None:
    tx.execute("UPDATE orders SET status = :s, updated_at = now() WHERE id = :o", o=order_id, s=status)
    tx.execute(
        "INSERT INTO order_status_history (order_id, status) VALUES (:o, :s) ON CONFLICT DO NOTHING", o=order_id, s=status
    )
