"""Checkout: the whole cart becomes one order paid with points, or nothing happens (but the cart empties)."""

from __future__ import annotations

from uuid import UUID

from ..orders.models import PlacedOrder
from ..orders.placement import place_order
from ..platform.db import Database
from ..platform.errors import CartEmpty
from . import repository as cart


class CheckoutService:
    def __init__(self, db: Database):
        self._db = db

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
                return place_order(tx, member_id, claimed, "CHECKOUT")
        except CartEmpty:
            raise
        except Exception:
            # The business transaction rolled back; honour the contract that a failed checkout empties the cart.
            with self._db.transaction() as tx:
                cart.clear(tx, member_id)
            raise
