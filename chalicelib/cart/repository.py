"""Cart lines, and the claim that turns a cart into an order's lines."""

from __future__ import annotations

from uuid import UUID

from ..orders.models import LineDraft
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


def add(tx: Tx, member_id: UUID, product_id: UUID, quantity: int, max_quantity: int) -> int | None:
    """Adds to the line; the new quantity, or None if it would exceed `max_quantity`."""
    value: int | None = tx.fetch_value(
        "INSERT INTO cart_items (member_id, product_id, quantity) VALUES (:m, :p, :q) "
        "ON CONFLICT (member_id, product_id) DO UPDATE SET quantity = cart_items.quantity + EXCLUDED.quantity "
        "WHERE cart_items.quantity + EXCLUDED.quantity <= :max RETURNING quantity",
        m=member_id,
        p=product_id,
        q=quantity,
        max=max_quantity,
    )
    return value


def remove(tx: Tx, member_id: UUID, product_id: UUID) -> None:
    tx.execute("DELETE FROM cart_items WHERE member_id = :m AND product_id = :p", m=member_id, p=product_id)


def clear(tx: Tx, member_id: UUID) -> None:
    tx.execute("DELETE FROM cart_items WHERE member_id = :m", m=member_id)


def claim(tx: Tx, member_id: UUID) -> list[LineDraft]:
    """Removes and returns the whole cart in one statement, as order lines priced from the catalog now.

    Two concurrent checkouts of one cart: the second blocks on the row locks, then claims nothing.
    Lines come back in product-id order so stock rows are always locked in the same order.
    """
    return tx.rows(
        LineDraft,
        "WITH claimed AS (DELETE FROM cart_items WHERE member_id = :m RETURNING product_id, quantity) "
        "SELECT c.product_id, p.name, p.description, p.image_url, c.quantity, p.points_price AS unit_points_price "
        "FROM claimed c JOIN products p ON p.id = c.product_id ORDER BY c.product_id",
        m=member_id,
    )
