"""Demo catalog for the local stack (idempotent: keyed on SKU)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.catalog import repository as products
from chalicelib.catalog.models import NewProduct
from chalicelib.platform.db import Database

CATALOG = Path(__file__).with_name("catalog.json")


def demo_products() -> list[dict[str, Any]]:
    products_json: list[dict[str, Any]] = json.loads(CATALOG.read_text())
    return products_json


def seed_catalog(db: Database, image_base_url: str | None) -> int:
    inserted = 0
    with db.transaction() as tx:
        for item in demo_products():
            image = f"{image_base_url.rstrip('/')}/{item['sku']}.svg" if image_base_url else None
            inserted += products.insert(tx, NewProduct(image_url=image, **item)) is not None
    return inserted
