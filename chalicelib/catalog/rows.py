"""Catalog rows as frozen dataclasses: a product, a product with its stock (admins, order placement), a new
product. Imported through `catalog.models` on first use: the catalog list builds none of them, and a cold
start that serves it should not pay for generating three dataclasses (docs/performance.md, section 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Product:
    id: UUID
    name: str
    description: str
    category: str
    points_price: int
    usd_price: float | None
    sku: str
    rating: float | None
    image_url: str | None


@dataclass(frozen=True, slots=True)
class StockedProduct(Product):
    """A product with what only admins and order placement see: stock and whether it is for sale."""

    stock: int
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewProduct:
    sku: str
    name: str
    description: str
    category: str
    points_price: int
    usd_price: float | None
    rating: float | None
    image_url: str | None
    stock: int
    active: bool = True
