"""Catalog rows: rewards priced in points."""

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
