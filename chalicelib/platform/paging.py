"""Keyset paging of newest-first lists: cursors over (created_at, id), and the one SQL predicate.

A cursor is `<microseconds since 1970-01-01 UTC>-<row id as 32 hex digits>`. Every string matching
CURSOR_PATTERN (the OpenAPI document's pattern for `cursor`) names a position, and nothing else is one:
the API accepts exactly the cursors its document allows (an empty `cursor=` means the first page).

rows = tx.fetch(f"SELECT ... FROM orders WHERE member_id = :m AND {paging.AFTER_CURSOR} "
                f"{paging.NEWEST_FIRST}", m=member_id, **paging.params(cursor, limit))
rows, next_cursor = paging.page(rows, limit, lambda r: (r.created_at, r.id))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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


CURSOR_PATTERN = r"^([0-9]{1,16}-[0-9a-f]{32})?$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode(at: datetime, row_id: UUID) -> str:
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row_id.hex}"


def decode(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise ValidationFailed(
            "cursor is not valid; pass the next_cursor of a previous page.",
            details=[{"field": "cursor", "message": "invalid"}],
        )
    micros, row_hex = cursor.split("-")
    return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=row_hex)


def page(rows: list[T], limit: int, key: Callable[[T], Cursor]) -> tuple[list[T], str | None]:
    """Rows were fetched with limit+1; trim and produce next_cursor when there is more."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    at, row_id = key(rows[-1])
    return rows, encode(at, row_id)
