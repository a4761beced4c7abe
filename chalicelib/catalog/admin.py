"""Catalog administration: create, change, deactivate products and set their stock."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..platform.db import UNIQUE_VIOLATION, Database, sqlstate
from ..platform.errors import Conflict, NotFound
from . import repository as products
from .models import NewProduct, StockedProduct


class ProductAdminService:
    def __init__(self, db: Database):
        self._db = db

    def list(self, limit: int, cursor: str | None) -> tuple[list[StockedProduct], str | None]:
        with self._db.reader() as tx:
            return products.list_all(tx, limit, cursor)

    def create(self, product: NewProduct) -> StockedProduct:
        with self._db.transaction() as tx:
            created = products.insert(tx, product)
        if created is None:
            raise Conflict("A product with this SKU already exists.", code="SKU_EXISTS")
        return created

    def update(self, product_id: UUID, changes: dict[str, Any]) -> StockedProduct:
        try:
            with self._db.transaction() as tx:
                updated = products.update(tx, product_id, changes)
        except Exception as exc:
            if sqlstate(exc) == UNIQUE_VIOLATION:
                raise Conflict("A product with this SKU already exists.", code="SKU_EXISTS") from exc
            raise
        return _found(updated)

    def deactivate(self, product_id: UUID) -> StockedProduct:
        """Hidden from the catalog and from checkout; orders and history keep it. Repeatable."""
        with self._db.transaction() as tx:
            return _found(products.update(tx, product_id, {"active": False}))

    def set_stock(self, product_id: UUID, stock: int) -> StockedProduct:
        """An absolute level (an inventory count)."""
        with self._db.transaction() as tx:
            return _found(products.set_stock(tx, product_id, stock))

    def change_stock(self, product_id: UUID, delta: int) -> StockedProduct:
        """Relative to the current level, safe beside concurrent checkouts; below zero is STOCK_BELOW_ZERO."""
        with self._db.transaction() as tx:
            changed = products.add_stock(tx, product_id, delta)
            if changed is None:
                current = _found(products.get_any(tx, product_id))
                if delta > 0:
                    raise Conflict(
                        f"The stock would exceed {products.MAX_STOCK}.",
                        code="STOCK_ABOVE_MAXIMUM",
                        details=[{"stock": current.stock, "delta": delta}],
                    )
                raise Conflict("The stock would go below zero.", code="STOCK_BELOW_ZERO")
            return changed


def _found(product: StockedProduct | None) -> StockedProduct:
    if product is None:
        raise NotFound("Unknown product.", code="PRODUCT_NOT_FOUND")
    return product
