"""Catalog rows: rewards priced in points.

`ListedProduct` is defined here; `Product`, `StockedProduct` and `NewProduct` live in rows.py and are
imported from this module as always (`from .models import Product`), on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .rows import NewProduct, Product, StockedProduct

__all__ = ["ListedProduct", "NewProduct", "Product", "StockedProduct"]


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


def __getattr__(name: str) -> Any:
    if name in ("Product", "StockedProduct", "NewProduct"):
        from . import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
