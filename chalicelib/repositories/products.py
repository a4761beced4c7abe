from __future__ import annotations

from uuid import UUID

from ..db import Tx
from ..models import Product, ProductAdmin

_COLUMNS = "id, name, description, category, points_price, usd_price::float8 AS usd_price, sku, rating::float8 AS rating, image_url"


def list_active(tx: Tx, category: str | None = None) -> list[Product]:
    if category is None:
        rows = tx.fetch(f"SELECT {_COLUMNS} FROM products WHERE active ORDER BY name, id")
    else:
        rows = tx.fetch(
            f"SELECT {_COLUMNS} FROM products WHERE active AND category = :category ORDER BY name, id",
            category=category,
        )
    return [Product.model_validate(r) for r in rows]


def get_active(tx: Tx, product_id: UUID) -> Product | None:
    row = tx.fetch_one(f"SELECT {_COLUMNS} FROM products WHERE id = :id AND active", id=product_id)
    return Product.model_validate(row) if row else None


def get_any(tx: Tx, product_id: UUID) -> ProductAdmin | None:
    row = tx.fetch_one(f"SELECT {_COLUMNS}, stock, active FROM products WHERE id = :id", id=product_id)
    return ProductAdmin.model_validate(row) if row else None


def categories(tx: Tx) -> list[str]:
    return [r["category"] for r in tx.fetch("SELECT DISTINCT category FROM products WHERE active ORDER BY category")]


def take_stock(tx: Tx, product_id: UUID, quantity: int) -> bool:
    """Conditional decrement: False when the product is inactive or has fewer than `quantity` left."""
    return tx.execute(
        "UPDATE products SET stock = stock - :q, updated_at = now() WHERE id = :id AND active AND stock >= :q",
        id=product_id, q=quantity,
    ) == 1


def restock(tx: Tx, product_id: UUID, quantity: int) -> None:
    tx.execute("UPDATE products SET stock = stock + :q, updated_at = now() WHERE id = :id", id=product_id, q=quantity)


def insert_if_absent(
    tx: Tx,
    *,
    sku: str,
    name: str,
    description: str,
    category: str,
    points_price: int,
    usd_price: float | None,
    rating: float | None,
    image_url: str | None,
    stock: int,
) -> bool:
    """Seed/import helper keyed on SKU: True when inserted, False when that SKU already exists."""
    return tx.execute(
        "INSERT INTO products (sku, name, description, category, points_price, usd_price, rating, image_url, stock) "
        "VALUES (:sku, :name, :description, :category, :points_price, :usd_price, :rating, :image_url, :stock) "
        "ON CONFLICT (sku) DO NOTHING",
        sku=sku, name=name, description=description, category=category, points_price=points_price,
        usd_price=usd_price, rating=rating, image_url=image_url, stock=stock,
    ) == 1


# -- admin -----------------------------------------------------------------------------------------
_ADMIN_COLUMNS = f"{_COLUMNS}, stock, active, created_at"
# Columns an admin may change (PUT /admin/products/{id}); names are fixed here, never taken from input.
UPDATABLE = ("sku", "name", "description", "category", "points_price", "usd_price", "rating", "image_url", "active")


def insert(
    tx: Tx, *, sku: str, name: str, description: str, category: str, points_price: int,
    usd_price: float | None, rating: float | None, image_url: str | None, stock: int, active: bool,
) -> ProductAdmin | None:
    """The new product, or None when the SKU is taken."""
    row = tx.fetch_one(
        "INSERT INTO products (sku, name, description, category, points_price, usd_price, rating, image_url, stock, active) "
        "VALUES (:sku, :name, :description, :category, :points_price, :usd_price, :rating, :image_url, :stock, :active) "
        f"ON CONFLICT (sku) DO NOTHING RETURNING {_COLUMNS}, stock, active",
        sku=sku, name=name, description=description, category=category, points_price=points_price,
        usd_price=usd_price, rating=rating, image_url=image_url, stock=stock, active=active,
    )
    return ProductAdmin.model_validate(row) if row else None


def update(tx: Tx, product_id: UUID, changes: dict) -> ProductAdmin | None:
    """Set the given UPDATABLE columns; None when the product does not exist."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    row = tx.fetch_one(
        f"UPDATE products SET {assignments}, updated_at = now() WHERE id = :id RETURNING {_COLUMNS}, stock, active",
        id=product_id, **changes,
    )
    return ProductAdmin.model_validate(row) if row else None


def set_stock(tx: Tx, product_id: UUID, stock: int) -> ProductAdmin | None:
    row = tx.fetch_one(
        f"UPDATE products SET stock = :s, updated_at = now() WHERE id = :id RETURNING {_COLUMNS}, stock, active",
        id=product_id, s=stock,
    )
    return ProductAdmin.model_validate(row) if row else None


def add_stock(tx: Tx, product_id: UUID, delta: int) -> ProductAdmin | None:
    """Relative change, safe beside concurrent checkouts; None if unknown or it would go below zero."""
    row = tx.fetch_one(
        "UPDATE products SET stock = stock + :d, updated_at = now() WHERE id = :id AND stock + :d >= 0 "
        f"RETURNING {_COLUMNS}, stock, active",
        id=product_id, d=delta,
    )
    return ProductAdmin.model_validate(row) if row else None


def list_all(tx: Tx, limit: int, cursor: str | None) -> tuple[list[ProductAdmin], str | None]:
    """Every product, inactive ones too, newest first (keyset paged)."""
    from . import paging

    after = paging.decode(cursor)
    rows = tx.fetch(
        f"SELECT {_ADMIN_COLUMNS} FROM products "
        "WHERE CAST(:at AS timestamptz) IS NULL OR (created_at, id) < (CAST(:at AS timestamptz), CAST(:id AS uuid)) "
        "ORDER BY created_at DESC, id DESC LIMIT :n",
        at=after[0] if after else None, id=after[1] if after else None, n=limit + 1,
    )
    page, next_cursor = paging.page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return [ProductAdmin.model_validate(r) for r in page], next_cursor
