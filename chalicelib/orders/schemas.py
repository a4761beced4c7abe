"""HTTP bodies of orders and dead letters."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, StrictInt, field_validator

from ..platform.schemas import Body, Out, UtcTimestamp
from .models import OrderStatus

MAX_ORDER_LINES = 50
MAX_LINE_QUANTITY = 100


class OrderLine(Out):
    item_id: UUID
    name: str
    quantity: int
    unit_points_price: int


class StatusChange(Out):
    status: OrderStatus
    at: UtcTimestamp


class Order(Out):
    id: UUID
    member_id: UUID
    status: OrderStatus
    items: list[OrderLine]
    total_points: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    history: list[StatusChange]


class OrderItemIn(Body):
    item_id: UUID
    quantity: StrictInt = Field(..., ge=1, le=MAX_LINE_QUANTITY)


class OrderCreate(Body):
    items: list[OrderItemIn] = Field(..., min_length=1, max_length=MAX_ORDER_LINES)

    @field_validator("items")
    @classmethod
    def _one_line_per_item(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        seen: set[UUID] = set()
        for item in items:
            if item.item_id in seen:
                raise ValueError(f"item {item.item_id} appears more than once; send one line per item")
            seen.add(item.item_id)
        return items


class OrderEnvelope(Out):
    order: Order


class OrderList(Out):
    orders: list[Order]
    next_cursor: str | None = None


class DeadLetter(Out):
    message_id: str
    receive_count: int
    sent_at: UtcTimestamp | None = None
    event_type: str | None = None
    body: str


class DeadLetterList(Out):
    dead_letters: list[DeadLetter]


class RedriveRequest(Body):
    limit: StrictInt = Field(default=100, ge=1, le=1000)


class RedriveResult(Out):
    redriven: int
