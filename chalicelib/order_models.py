"""Models of orders in motion: order/reservation bodies, the queue's event envelope, dead letters.

Kept apart from chalicelib/models.py (which holds the shared catalog/ledger/order shapes) so the two
can change independently; `Order`, `OrderLine` and `StatusChange` come from there.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from .models import Body, Order, OrderStatus, Out, UtcTimestamp

ReservationStatus = Literal["HELD", "PURCHASED", "RELEASED", "EXPIRED"]
MAX_ORDER_LINES = 50
MAX_LINE_QUANTITY = 100


# -- orders ----------------------------------------------------------------------------------
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


# -- reservations ----------------------------------------------------------------------------
class ReservationCreate(Body):
    item_id: UUID
    quantity: StrictInt = Field(default=1, ge=1, le=MAX_LINE_QUANTITY)


class Reservation(Out):
    id: UUID
    item_id: UUID
    quantity: int
    points: int
    status: ReservationStatus
    expires_at: UtcTimestamp
    created_at: UtcTimestamp
    order_id: UUID | None = None


class ReservationEnvelope(Out):
    reservation: Reservation


# -- events on the order-events queue -------------------------------------------------------
class OrderEvent(BaseModel):
    """The body of every message the outbox relay sends: one outbox row."""

    model_config = ConfigDict(extra="ignore")

    event_id: UUID
    event_type: str = Field(..., min_length=1)
    aggregate_id: UUID
    occurred_at: datetime
    request_id: str | None = None
    payload: dict[str, Any]


class OrderCreatedPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: UUID
    member_id: UUID


class StatusChangedPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: UUID
    member_id: UUID
    from_status: OrderStatus
    to_status: OrderStatus
    at: datetime


# -- dead letters (admin) --------------------------------------------------------------------
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
