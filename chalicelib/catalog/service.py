"""The catalog as members see it: active rewards, by category."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from ..platform.db import Database
from ..platform.errors import NotFound
from . import repository as products

if TYPE_CHECKING:
    from .models import ListedProduct, Product


class CatalogService:
    def __init__(self, db: Database):
        self._db = db

    def products(self, category: str | None = None) -> list[ListedProduct]:
        with self._db.reader() as tx:
            return products.list_active(tx, category)

    def product(self, product_id: UUID) -> Product:
        with self._db.reader() as tx:
            found = products.get_active(tx, product_id)
        if found is None:
            raise NotFound("Unknown product.", code="PRODUCT_NOT_FOUND")
        return found

    def categories(self) -> list[str]:
        with self._db.reader() as tx:
            return products.categories(tx)
