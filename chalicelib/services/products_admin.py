"""Catalog administration: create, change, deactivate products and set their stock."""
from __future__ import annotations

from uuid import UUID

from ..db import UNIQUE_VIOLATION, Database, sqlstate
from ..errors import Conflict, NotFound
from ..models import ProductAdmin, ProductCreate, ProductUpdate, StockUpdate
from ..repositories import products


class ProductAdminService:
    def __init__(self, db: Database):
        self._db = db

    def list(self, limit: int, cursor: str | None) -> tuple[list[ProductAdmin], str | None]:
        with self._db.reader() as tx:
            return products.list_all(tx, limit, cursor)

    def create(self, request: ProductCreate) -> ProductAdmin:
        with self._db.transaction() as tx:
            created = products.insert(tx, **request.model_dump())
        if created is None:
            raise Conflict("A product with this SKU already exists.", code="SKU_EXISTS")
        return created

    def update(self, product_id: UUID, request: ProductUpdate) -> ProductAdmin:
        changes = {name: getattr(request, name) for name in request.model_fields_set}
        try:
            with self._db.transaction() as tx:
                updated = products.update(tx, product_id, changes)
        except Exception as exc:
            if sqlstate(exc) == UNIQUE_VIOLATION:
                raise Conflict("A product with this SKU already exists.", code="SKU_EXISTS") from exc
            raise
        return self._found(updated)

    def deactivate(self, product_id: UUID) -> ProductAdmin:
        """Hidden from the catalog and from checkout; orders and history keep it. Repeatable."""
        with self._db.transaction() as tx:
            return self._found(products.update(tx, product_id, {"active": False}))

    def stock(self, product_id: UUID, request: StockUpdate) -> ProductAdmin:
        """{"stock": n} sets the level (an inventory count); {"delta": n} changes it relative to the
        current level, which is safe beside concurrent checkouts. Below zero: 409 STOCK_BELOW_ZERO."""
        with self._db.transaction() as tx:
            if request.stock is not None:
                return self._found(products.set_stock(tx, product_id, request.stock))
            assert request.delta is not None
            changed = products.add_stock(tx, product_id, request.delta)
            if changed is None:
                self._found(products.get_any(tx, product_id))
                raise Conflict("The stock would go below zero.", code="STOCK_BELOW_ZERO")
            return changed

    @staticmethod
    def _found(product: ProductAdmin | None) -> ProductAdmin:
        if product is None:
            raise NotFound("Unknown product.", code="PRODUCT_NOT_FOUND")
        return product
