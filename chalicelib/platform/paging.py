"""Keyset paging of newest-first lists: opaque cursors over (created_at, id), and the one SQL predicate.

rows = tx.fetch(f"SELECT ... FROM orders WHERE member_id = :m AND {paging.AFTER_CURSOR} "
                f"{paging.NEWEST_FIRST}", m=member_id, **paging.params(cursor, limit))
rows, next_cursor = paging.page(rows, limit, lambda r: (r.created_at, r.id))
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from .errors import ValidationFailed

Cursor = tuple[datetime, UUID]
T = TypeVar("T")


def after_cursor(alias: str = "") -> str:
    """Rows strictly after the cursor in newest-first order; every row when there is no cursor."""
    a = f"{alias}." if alias else ""
    return (
        f"(CAST(:after_at AS timestamptz) IS NULL OR ({a}created_at, {a}id) "
        "< (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))"
    )


AFTER_CURSOR = after_cursor()
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC LIMIT :page_size"


def params(cursor: str | None, limit: int) -> dict[str, Any]:
    """Bind parameters of AFTER_CURSOR and NEWEST_FIRST: one row more than the page, to know if more follow."""
    after = decode(cursor)
    return {
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
        "page_size": limit + 1,
    }


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
        raise ValidationFailed(
            "cursor is not valid; pass the next_cursor of a previous page.",
            details=[{"field": "cursor", "message": "invalid"}],
        ) from None


def page(rows: list[T], limit: int, key: Callable[[T], Cursor]) -> tuple[list[T], str | None]:
    """Rows were fetched with limit+1; trim and produce next_cursor when there is more."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    at, row_id = key(rows[-1])
    return rows, encode(at, row_id)
