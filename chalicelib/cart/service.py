"""The cart: lines added and removed one by one, read priced from the catalog."""

from __future__ import annotations

from uuid import UUID

from ..platform.config import Settings
from ..platform.db import Database
from ..platform.errors import NotFound, ValidationFailed
from . import repository as cart
from .models import CartLine


class CartService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings

    def lines(self, member_id: UUID) -> list[CartLine]:
        with self._db.reader() as tx:
            return cart.lines(tx, member_id)

    def add(self, member_id: UUID, product_id: UUID, quantity: int) -> int:
        limit = self._settings.cart_line_max_quantity
        with self._db.single() as tx:  # one statement, one round trip
            known, new_quantity = cart.add(tx, member_id, product_id, quantity, limit)
        if not known:
            raise NotFound("Unknown product.", code="PRODUCT_NOT_FOUND")
        if new_quantity is None:
            raise ValidationFailed(
                f"A cart line holds at most {limit} units.",
                details=[{"field": "quantity", "message": f"line total would exceed {limit}"}],
            )
        return new_quantity

    def remove(self, member_id: UUID, product_id: UUID) -> None:
        with self._db.transaction() as tx:
            cart.remove(tx, member_id, product_id)

    def clear(self, member_id: UUID) -> None:
        with self._db.transaction() as tx:
            cart.clear(tx, member_id)
