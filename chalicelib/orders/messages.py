"""Messages on the order-events queue: the envelope every outbox row becomes, and the payloads the
order processor reads (validated, so a malformed message is a poison message, not a crash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .models import OrderStatus


class OrderEvent(BaseModel):
    """The body of every message the outbox relay sends: one outbox row."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    event_id: UUID
    event_type: str = Field(..., min_length=1)
    aggregate_id: UUID
    occurred_at: datetime
    request_id: str | None = None
    payload: dict[str, Any]


class OrderCreatedPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    order_id: UUID
    member_id: UUID


class StatusChangedPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    order_id: UUID
    member_id: UUID
    from_status: OrderStatus
    to_status: OrderStatus
    at: datetime
