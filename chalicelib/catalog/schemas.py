"""HTTP bodies of the catalog (also the source of its part of /openapi.json)."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field, StrictBool, StrictFloat, StrictInt, model_validator

from ..platform.schemas import Body, Out, Text

_SKU = r"^[A-Za-z0-9._-]+$"


class Product(Out):
    id: UUID
    name: str
    description: str
    category: str
    points_price: int
    usd_price: float | None = None
    sku: str
    rating: float | None = None
    image_url: str | None = None


class ProductAdmin(Product):
    stock: int
    active: bool


class ProductList(Out):
    products: list[Product]


class ProductEnvelope(Out):
    product: Product


class CategoryList(Out):
    categories: list[str]


class ProductCreate(Body):
    sku: Text = Field(..., min_length=1, max_length=64, pattern=_SKU)
    name: Text = Field(..., min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
    category: Text = Field(..., min_length=1, max_length=100)
    points_price: StrictInt = Field(..., ge=1, le=10_000_000)
    usd_price: StrictFloat | None = Field(default=None, ge=0, le=1_000_000)
    rating: StrictFloat | None = Field(default=None, ge=0, le=5)
    image_url: Text | None = Field(default=None, max_length=2000)
    stock: StrictInt = Field(default=0, ge=0, le=10_000_000)
    active: StrictBool = True


class ProductUpdate(Body):
    """PUT /admin/products/{id}: the fields to change (at least one). Stock has its own route."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ("sku", "name", "category", "points_price", "active", "description")
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {"minProperties": 1}

    sku: Text | None = Field(default=None, min_length=1, max_length=64, pattern=_SKU)
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    category: Text | None = Field(default=None, min_length=1, max_length=100)
    points_price: StrictInt | None = Field(default=None, ge=1, le=10_000_000)
    usd_price: StrictFloat | None = Field(default=None, ge=0, le=1_000_000)
    rating: StrictFloat | None = Field(default=None, ge=0, le=5)
    image_url: Text | None = Field(default=None, max_length=2000)
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> ProductUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for required in ("sku", "name", "category", "points_price", "active", "description"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class StockUpdate(Body):
    """PUT /admin/products/{id}/stock: an absolute level {"stock": n} or a change {"delta": n}."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ("stock", "delta")
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {"oneOf": [{"required": ["stock"]}, {"required": ["delta"]}]}

    stock: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    delta: StrictInt | None = Field(default=None, ge=-10_000_000, le=10_000_000)

    @model_validator(mode="after")
    def _one(self) -> StockUpdate:
        if (self.stock is None) == (self.delta is None):
            raise ValueError("give exactly one of stock or delta")
        return self


class AdminProductEnvelope(Out):
    product: ProductAdmin


class AdminProductList(Out):
    products: list[ProductAdmin]
    next_cursor: str | None = None
