"""The event archive in the database: outbox rows queried by member, order, type and time (keyset
pages, newest first), read a UTC day at a time for the daily export, and purged a day at a time once
that day is exported (the table's trigger refuses anything else)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ..platform import paging
from ..platform.db import Tx
from .models import ArchivedEvent, DayExport, EventFilter

_COLUMNS = "id, event_type, aggregate_id, member_id, order_id, payload, request_id, created_at, published_at"
_DAY = "created_at >= CAST(:start AS timestamptz) AND created_at < CAST(:start AS timestamptz) + interval '1 day'"


def _event(row: dict[str, Any]) -> ArchivedEvent:
    payload = row["payload"]
    return ArchivedEvent(**{**row, "payload": json.loads(payload) if isinstance(payload, str) else payload})


def search(tx: Tx, wanted: EventFilter, limit: int, cursor: str | None) -> tuple[list[ArchivedEvent], str | None]:
    rows = tx.fetch(
        f"SELECT {_COLUMNS} FROM outbox_events "
        "WHERE (CAST(:t AS text) IS NULL OR event_type = :t) "
        "AND (CAST(:m AS uuid) IS NULL OR member_id = :m) "
        "AND (CAST(:o AS uuid) IS NULL OR order_id = :o) "
        "AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since) "
        "AND (CAST(:until AS timestamptz) IS NULL OR created_at < :until) "
        f"AND {paging.AFTER_CURSOR} {paging.NEWEST_FIRST}",
        t=wanted.event_type,
        m=wanted.member_id,
        o=wanted.order_id,
        since=wanted.since,
        until=wanted.until,
        **paging.params(cursor, limit),
    )
    return paging.page([_event(r) for r in rows], limit, lambda e: (e.created_at, e.id))


def day_page(tx: Tx, start: datetime, after: tuple[datetime, UUID] | None, limit: int) -> list[ArchivedEvent]:
    """A UTC day's events in (created_at, id) order, `limit` at a time after `after`."""
    rows = tx.fetch(
        f"SELECT {_COLUMNS} FROM outbox_events WHERE {_DAY} "
        "AND (CAST(:a_at AS timestamptz) IS NULL "
        "OR (created_at, id) > (CAST(:a_at AS timestamptz), CAST(:a_id AS uuid))) "
        "ORDER BY created_at, id LIMIT :n",
        start=start,
        a_at=after[0] if after else None,
        a_id=after[1] if after else None,
        n=limit,
    )
    return [_event(r) for r in rows]


def count_day(tx: Tx, start: datetime) -> int:
    return int(tx.fetch_value(f"SELECT count(*) FROM outbox_events WHERE {_DAY}", start=start) or 0)


def oldest_event_at(tx: Tx) -> datetime | None:
    found: datetime | None = tx.fetch_value("SELECT min(created_at) FROM outbox_events")
    return found


_EXPORT_COLUMNS = "day, events, objects, bytes, bucket, prefix, exported_at, purged_at"


def export_of(tx: Tx, day: date) -> DayExport | None:
    return tx.row(DayExport, f"SELECT {_EXPORT_COLUMNS} FROM event_exports WHERE day = :d", d=day)


def last_exported_day(tx: Tx) -> date | None:
    found: date | None = tx.fetch_value("SELECT max(day) FROM event_exports")
    return found


def record_export(tx: Tx, day: date, *, events: int, objects: int, size: int, bucket: str, prefix: str) -> DayExport:
    """Record (or, on a re-run, replace) a day's export; a purged day is never re-recorded."""
    row = tx.row(
        DayExport,
        "INSERT INTO event_exports (day, events, objects, bytes, bucket, prefix) VALUES (:d, :e, :o, :b, :bucket, :p) "
        "ON CONFLICT (day) DO UPDATE SET events = EXCLUDED.events, objects = EXCLUDED.objects, bytes = EXCLUDED.bytes, "
        "bucket = EXCLUDED.bucket, prefix = EXCLUDED.prefix, exported_at = now() WHERE event_exports.purged_at IS NULL "
        f"RETURNING {_EXPORT_COLUMNS}",
        d=day,
        e=events,
        o=objects,
        b=size,
        bucket=bucket,
        p=prefix,
    )
    assert row is not None
    return row


def purgeable_days(tx: Tx, before: date) -> list[date]:
    """Exported days older than `before` whose rows have not all left the database yet."""
    return [
        r["day"]
        for r in tx.fetch("SELECT day FROM event_exports WHERE day < :b AND purged_at IS NULL ORDER BY day", b=before)
    ]


def mark_purged(tx: Tx, day: date) -> None:
    tx.execute("UPDATE event_exports SET purged_at = now() WHERE day = :d AND purged_at IS NULL", d=day)


def purge_day(tx: Tx, start: datetime, batch: int) -> int:
    """Delete up to `batch` published events of the day (an unpublished one stays for the relay)."""
    return tx.execute(
        "DELETE FROM outbox_events WHERE id = ANY(ARRAY("
        f"SELECT id FROM outbox_events WHERE {_DAY} AND published_at IS NOT NULL LIMIT :n))",
        start=start,
        n=batch,
    )
