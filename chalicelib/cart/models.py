"""The server-side cart: lines the member intends to check out."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CartLine:
    """A cart line priced from the catalog now."""

    item_id: UUID
    quantity: int
    name: str
    description: str
    points_price: int
    image_url: str | None
