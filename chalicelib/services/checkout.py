from __future__ import annotations

from typing import Callable
from uuid import UUID

from ..db import Database
from ..errors import CartEmpty
from ..repositories import cart, orders
from .ordering import PlacedOrder, place_order


class CheckoutService:
    def __init__(self, db: Database, on_commit: Callable[[], None] | None = None):
        self._db = db
        # Called after a successful checkout committed: relays its OrderCreated event now (best effort).
        self._on_commit = on_commit

    def checkout(self, member_id: UUID) -> PlacedOrder:
        """All or nothing, except that the cart is emptied either way (the frontend re-posts it).

        Claiming the cart (DELETE ... RETURNING) inside the transaction is what makes two concurrent
        checkouts of one cart produce one order: the second finds the cart already claimed.
        """
        try:
            with self._db.transaction() as tx:
                claimed = cart.claim(tx, member_id)
                if not claimed:
                    raise CartEmpty()
                lines = [
                    orders.NewLine(c.product_id, c.name, c.description, c.image_url, c.quantity, c.points_price)
                    for c in claimed
                ]
                placed = place_order(tx, member_id, lines, "CHECKOUT")
        except CartEmpty:
            raise
        except Exception:
            # The business transaction rolled back; honour the contract that a failed checkout empties the cart.
            with self._db.transaction() as tx:
                cart.clear(tx, member_id)
            raise
        if self._on_commit is not None:
            self._on_commit()
        return placed
