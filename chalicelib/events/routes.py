"""The event archive for admins: every outbox event, newest first, filtered and keyset-paged."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from chalice.app import Response

from ..platform import http
from ..platform.errors import ValidationFailed
from ..platform.routing import Access, Routes, query
from ..platform.text import utc_instant

if TYPE_CHECKING:
    from .log import EventLog
    from .models import EventFilter

routes = Routes(__name__)
if TYPE_CHECKING:
    from . import schemas
else:
    schemas = routes.schemas  # imported when a request (or /openapi.json) first needs it
_EVENT_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# RFC 3339 date-time; a '+' in the offset arrives as a space when the client did not encode it.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+ -]\d{2}:\d{2})$")


def event_log() -> EventLog:
    from ..container import services

    return services().event_log


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name} {message}.", details=[{"field": name, "message": message}])


def _uuid(params: dict[str, str], name: str) -> UUID | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not _UUID.match(raw):
        raise _invalid(name, "must be a UUID")
    return UUID(raw)


def _time(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    message = "must be an RFC 3339 time with a zone, like 2026-11-22T00:00:00Z"
    if not _RFC3339.match(raw):
        raise _invalid(name, message)
    try:
        return utc_instant(datetime.fromisoformat(raw.upper().replace(" ", "+")))
    except ValueError:
        raise _invalid(name, message) from None


def event_filter(params: dict[str, str]) -> EventFilter:
    event_type = params.get("type")
    if event_type is not None and not _EVENT_TYPE.match(event_type):
        raise _invalid("type", "must be an event type, like OrderCreated")
    from .models import EventFilter

    return EventFilter(
        event_type=event_type,
        member_id=_uuid(params, "member_id"),
        order_id=_uuid(params, "order_id"),
        since=_time(params, "since"),
        until=_time(params, "until"),
    )


@routes.get(
    "/admin/events",
    access=Access.ADMIN,
    responses={200: "EventList"},
    query=("type", "member_id", "order_id", "since", "until", "limit", "cursor"),
)
def admin_events() -> Response:
    """The event archive, newest first: filter by type, member, order and time (since inclusive, until exclusive)."""
    params = query()
    found, next_cursor = event_log().search(event_filter(params), http.parse_limit(params), params.get("cursor"))
    return http.json_response(
        schemas.EventList(events=[schemas.EventOut.of(e) for e in found], next_cursor=next_cursor)
    )
