"""Checkout: the whole cart becomes one order paid with points, or nothing happens (but the cart empties)."""

from __future__ import annotations

from uuid import UUID

from ..events import outbox
from ..orders import repository as orders
from ..orders.models import PlacedOrder
from ..platform.db import Database
from ..platform.errors import CartEmpty
from ..platform.outcomes import money_outcomes
from . import repository as cart


class CheckoutService:
    def __init__(self, db: Database):
        self._db = db

    def checkout(self, member_id: UUID) -> PlacedOrder:
        """All or nothing, except that the cart is emptied either way (the frontend re-posts it).

        One round trip: the SQL function `cart_checkout` (migration 0011) claims the cart and places the
        order (the same `order_place` as POST /prod/orders) as one statement that is its own transaction.
        Claiming the cart (DELETE ... RETURNING) inside it is what makes two concurrent checkouts of one
        cart produce one order: the second finds the cart already claimed.
        """
        try:
            with self._db.single() as tx, money_outcomes():
                placed = orders.checkout(tx, member_id)
                if placed is not None:
                    outbox.written(tx)
        except Exception:
            # The business transaction rolled back; honour the contract that a failed checkout empties the cart.
            with self._db.transaction() as tx:
                cart.clear(tx, member_id)
            raise
        if placed is None:
            raise CartEmpty()
        return placed
