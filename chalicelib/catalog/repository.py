"""Products: the catalog members browse and the stock orders take."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..platform import paging
from ..platform.db import Tx
from .models import ListedProduct

if TYPE_CHECKING:
    from .rows import NewProduct, Product, StockedProduct

_COLUMNS = (
    "id, name, description, category, points_price, usd_price::float8 AS usd_price, sku, "
    "rating::float8 AS rating, image_url"
)
_STOCKED = f"{_COLUMNS}, stock, active, created_at"
# The catalog list (the hot read) takes the id as text: the list only serialises it, and turning 36 characters
# into a UUID and back for every product of every request was a tenth of the read (docs/performance.md §7).
_LISTED = "id::text AS id" + _COLUMNS.removeprefix("id")
# Columns an admin may change (PUT /admin/products/{id}); names are fixed here, never taken from input.
UPDATABLE = ("sku", "name", "description", "category", "points_price", "usd_price", "rating", "image_url", "active")


def list_active(tx: Tx, category: str | None = None) -> list[ListedProduct]:
    if category is None:  # the hot path: no parameters, so one simple-protocol round trip
        return tx.rows(ListedProduct, f"SELECT {_LISTED} FROM products WHERE active ORDER BY name, id")
    return tx.rows(
        ListedProduct,
        f"SELECT {_LISTED} FROM products WHERE active AND category = :category ORDER BY name, id",
        category=category,
    )


def get_active(tx: Tx, product_id: UUID) -> Product | None:
    from .rows import Product

    return tx.row(Product, f"SELECT {_COLUMNS} FROM products WHERE id = :id AND active", id=product_id)


def active_by_id(tx: Tx, product_ids: list[UUID]) -> dict[UUID, Product]:
    """The active products among these ids, in one statement (an order's items priced at once)."""
    from .rows import Product

    rows = tx.rows(
        Product,
        f"SELECT {_COLUMNS} FROM products WHERE id = ANY(CAST(:ids AS uuid[])) AND active",
        ids=[str(i) for i in product_ids],
    )
    return {p.id: p for p in rows}


def get_any(tx: Tx, product_id: UUID) -> StockedProduct | None:
    from .rows import StockedProduct

    return tx.row(StockedProduct, f"SELECT {_STOCKED} FROM products WHERE id = :id", id=product_id)


def categories(tx: Tx) -> list[str]:
    return [r["category"] for r in tx.fetch("SELECT DISTINCT category FROM products WHERE active ORDER BY category")]


def take_priced(tx: Tx, product_id: UUID, quantity: int) -> tuple[str, int] | None:
    """Conditional decrement that says what was taken, in one statement: (name, points_price), or None
    when the product is unknown, inactive or has fewer than `quantity` left."""
    row = tx.fetch_one(
        "UPDATE products SET stock = stock - :q, updated_at = now() WHERE id = :id AND active AND stock >= :q "
        "RETURNING name, points_price",
        id=product_id,
        q=quantity,
    )
    return (str(row["name"]), int(row["points_price"])) if row else None


def lock(tx: Tx, product_ids: list[UUID]) -> None:
    """Row-lock these products in id order (the global lock order) before work that restocks several."""
    tx.execute(
        "SELECT id FROM products WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE",
        ids=sorted({str(p) for p in product_ids}),
    )


def restock(tx: Tx, product_id: UUID, quantity: int) -> None:
    tx.execute("UPDATE products SET stock = stock + :q, updated_at = now() WHERE id = :id", id=product_id, q=quantity)


def insert(tx: Tx, product: NewProduct) -> StockedProduct | None:
    """The new product, or None when its SKU is taken (seeding relies on that to be idempotent)."""
    from .rows import StockedProduct

    return tx.row(
        StockedProduct,
        "INSERT INTO products (sku, name, description, category, points_price, usd_price, rating, image_url, "
        "stock, active) VALUES (:sku, :name, :description, :category, :points_price, :usd_price, :rating, "
        f":image_url, :stock, :active) ON CONFLICT (sku) DO NOTHING RETURNING {_STOCKED}",
        **asdict(product),
    )


def update(tx: Tx, product_id: UUID, changes: dict[str, Any]) -> StockedProduct | None:
    """Set the given UPDATABLE columns; None when the product does not exist."""
    from .rows import StockedProduct

    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    return tx.row(
        StockedProduct,
        f"UPDATE products SET {assignments}, updated_at = now() WHERE id = :id RETURNING {_STOCKED}",
        id=product_id,
        **changes,
    )


def set_stock(tx: Tx, product_id: UUID, stock: int) -> StockedProduct | None:
    from .rows import StockedProduct

    return tx.row(
        StockedProduct,
        f"UPDATE products SET stock = :s, updated_at = now() WHERE id = :id RETURNING {_STOCKED}",
        id=product_id,
        s=stock,
    )


MAX_STOCK = 10_000_000  # the largest level an admin may set (StockUpdate); far below the integer column's limit


def add_stock(tx: Tx, product_id: UUID, delta: int) -> StockedProduct | None:
    """Relative change, safe beside concurrent checkouts; None if unknown or it would leave 0..MAX_STOCK."""
    from .rows import StockedProduct

    return tx.row(
        StockedProduct,
        "UPDATE products SET stock = stock + :d, updated_at = now() "
        "WHERE id = :id AND stock + CAST(:d AS bigint) BETWEEN 0 AND :max "
        f"RETURNING {_STOCKED}",
        id=product_id,
        d=delta,
        max=MAX_STOCK,
    )


def list_all(tx: Tx, limit: int, cursor: str | None) -> tuple[list[StockedProduct], str | None]:
    """Every product, inactive ones too, newest first (keyset paged)."""
    from .rows import StockedProduct

    rows = tx.rows(
        StockedProduct,
        f"SELECT {_STOCKED} FROM products WHERE {paging.AFTER_CURSOR} {paging.NEWEST_FIRST}",
        **paging.params(cursor, limit),
    )
    return paging.page(rows, limit, lambda p: (p.created_at, p.id))
