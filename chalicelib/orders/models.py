"""Order rows: an order's lines, its head (what a status change needs), its full view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from ..catalog.models import Product

OrderStatus = Literal["PENDING", "CONFIRMED", "PACKED", "DELIVERED", "CANCELLED", "FAILED"]
OrderSource = Literal["CHECKOUT", "ORDER", "RESERVATION"]


@dataclass(frozen=True, slots=True)
class LineDraft:
    """A line about to be ordered, priced from the catalog at the moment of ordering."""

    product_id: UUID
    name: str
    description: str
    image_url: str | None
    quantity: int
    unit_points_price: int

    @classmethod
    def of(cls, product: Product, quantity: int, unit_points_price: int | None = None) -> LineDraft:
        """The one way a line is built from a product (checkout, orders and reservations alike)."""
        price = product.points_price if unit_points_price is None else unit_points_price
        return cls(product.id, product.name, product.description, product.image_url, quantity, price)


def order_total(lines: Iterable[LineDraft]) -> int:
    return sum(line.quantity * line.unit_points_price for line in lines)


@dataclass(frozen=True, slots=True)
class OrderHead:
    """The order row without lines: what a status transition needs."""

    id: UUID
    member_id: UUID
    status: OrderStatus
    total_points: int
    payment_entry_id: UUID | None


@dataclass(frozen=True, slots=True)
class StockLine:
    product_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    item_id: UUID
    name: str
    quantity: int
    unit_points_price: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: OrderStatus
    at: datetime


@dataclass(frozen=True, slots=True)
class Order:
    id: UUID
    member_id: UUID
    status: OrderStatus
    total_points: int
    created_at: datetime
    updated_at: datetime
    items: list[OrderLine]
    history: list[StatusChange]


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order_id: UUID
    ledger_entry_id: UUID
    total_points: int
    previous_balance: int
    balance: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message order-events gave up on, as it sits in the DLQ."""

    message_id: str
    receive_count: int
    sent_at: datetime | None
    event_type: str | None
    body: str


@dataclass(frozen=True)
class StalledOrder:
    """An order still PENDING, as the recovery job sees it."""

    order_id: UUID
    created_at: datetime
