"""HTTP bodies of the event archive (GET /admin/events)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..platform.schemas import Out, UtcTimestamp
from .models import ArchivedEvent


class EventOut(Out):
    id: UUID
    type: str
    aggregate_id: UUID
    member_id: UUID | None
    order_id: UUID | None
    occurred_at: UtcTimestamp
    request_id: str | None
    published_at: UtcTimestamp | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: ArchivedEvent) -> EventOut:
        return cls(
            id=event.id,
            type=event.event_type,
            aggregate_id=event.aggregate_id,
            member_id=event.member_id,
            order_id=event.order_id,
            occurred_at=event.created_at,
            request_id=event.request_id,
            published_at=event.published_at,
            payload=event.payload,
        )


class EventList(Out):
    events: list[EventOut]
    next_cursor: str | None = None
