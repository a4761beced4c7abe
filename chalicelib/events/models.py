"""The event archive's rows: every outbox event as it was written, and the record of each exported day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    id: UUID
    event_type: str
    aggregate_id: UUID
    member_id: UUID | None
    order_id: UUID | None
    payload: dict[str, Any]
    request_id: str | None
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """GET /admin/events: every field optional; `since` inclusive, `until` exclusive."""

    event_type: str | None = None
    member_id: UUID | None = None
    order_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DayExport:
    day: date
    events: int
    objects: int
    bytes: int
    bucket: str
    prefix: str
    exported_at: datetime
    purged_at: datetime | None
