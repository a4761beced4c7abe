"""Cart lines (checkout claims them inside the SQL function `cart_checkout`, migration 0011)."""

from __future__ import annotations

from uuid import UUID

from ..platform.db import Tx
from .models import CartLine


def lines(tx: Tx, member_id: UUID) -> list[CartLine]:
    return tx.rows(
        CartLine,
        "SELECT c.product_id AS item_id, c.quantity, p.name, p.description, p.points_price, p.image_url "
        "FROM cart_items c JOIN products p ON p.id = c.product_id "
        "WHERE c.member_id = :m ORDER BY c.added_at, c.product_id",
        m=member_id,
    )


def add(tx: Tx, member_id: UUID, product_id: UUID, quantity: int, max_quantity: int) -> tuple[bool, int | None]:
    """Adds to the line if the product is active, in one statement: (product known and active, the new
    quantity or None if the line would exceed `max_quantity`)."""
    row = tx.fetch_one(
        "WITH product AS (SELECT id FROM products WHERE id = :p AND active), "
        "line AS (INSERT INTO cart_items (member_id, product_id, quantity) SELECT :m, id, :q FROM product "
        "ON CONFLICT (member_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity "
        "WHERE cart_items.quantity + EXCLUDED.quantity <= :max RETURNING quantity) "
        "SELECT EXISTS (SELECT 1 FROM product) AS known, (SELECT quantity FROM line) AS quantity",
        m=member_id,
        p=product_id,
        q=quantity,
        max=max_quantity,
    )
    assert row is not None
    return bool(row["known"]), row["quantity"]


def remove(tx: Tx, member_id: UUID, product_id: UUID) -> None:
    tx.execute("DELETE FROM cart_items WHERE member_id = :m AND product_id = :p", m=member_id, p=product_id)


def clear(tx: Tx, member_id: UUID) -> None:
    tx.execute("DELETE FROM cart_items WHERE member_id = :m", m=member_id)
