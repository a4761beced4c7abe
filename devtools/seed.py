"""Demo catalog for the local stack (idempotent: keyed on SKU)."""
from __future__ import annotations

import json
from pathlib import Path

from chalicelib.db import Database
from chalicelib.repositories import products

CATALOG = Path(__file__).with_name("catalog.json")


def demo_products() -> list[dict]:
    return json.loads(CATALOG.read_text())


def seed_catalog(db: Database, image_base_url: str | None) -> int:
    inserted = 0
    with db.transaction() as tx:
        for item in demo_products():
            image = f"{image_base_url.rstrip('/')}/{item['sku']}.svg" if image_base_url else None
            inserted += products.insert_if_absent(tx, image_url=image, **item)
    return inserted
