"""Catalog rows: rewards priced in points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
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


class ListedProduct(NamedTuple):
    """A product in the catalog list (GET /prod/products). The hot read builds one per active product per
    request, so it is a named tuple: immutable and typed like the frozen dataclasses, at about a third of
    their construction cost (docs/performance.md, section 7). `id` is the UUID's canonical text, as the
    list sends it."""

    id: str
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
