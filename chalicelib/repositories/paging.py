"""Opaque keyset cursors: (created_at, id) of the last row served, newest-first lists."""
from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

from ..errors import ValidationFailed

Cursor = tuple[datetime, UUID]


def encode(at: datetime, row_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not valid; pass the next_cursor of a previous page.",
                               details=[{"field": "cursor", "message": "invalid"}]) from None


def page(rows: list, limit: int, key) -> tuple[list, str | None]:
    """Rows were fetched with limit+1; trim and produce next_cursor when there is more."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    at, row_id = key(rows[-1])
    return rows, encode(at, row_id)
