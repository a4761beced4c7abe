"""The event archive (docs/operator-tools.md): every outbox event, kept append-only and queryable
(GET /admin/events, log.py), exported daily to the stage's bucket by this job, and removed from the
database only once its day is exported and older than EVENT_RETENTION_DAYS.

Export layout: s3://<bucket>/events/dt=YYYY-MM-DD/part-NNNNN.jsonl.gz, gzipped JSON Lines, one event
per line in (created_at, id) order, EVENTS_PER_OBJECT per object. The bytes are a function of the
day's events only (fixed order and chunking, gzip without a timestamp), so exporting a day again
rewrites the very same objects; the Athena table over it is in docs/operator-tools.md.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ..adapters.storage import ObjectStore
from ..platform.config import Settings
from ..platform.db import Database
from ..platform.errors import Conflict
from ..platform.jobs import Progress, ShouldStop, db_now
from ..platform.logs import get_logger
from . import archive_repository as archive
from .models import ArchivedEvent, DayExport

log = get_logger(__name__)

PREFIX = "events/"
EVENTS_PER_OBJECT = 50_000
PAGE = 5_000
PURGE_BATCH = 5_000
# Days after which a day's count is checked again (an event whose transaction committed after the
# export of its day): the export of such a day is redone.
RECHECK_DAYS = 2


def day_prefix(day: date) -> str:
    return f"{PREFIX}dt={day.isoformat()}/"


def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z") if value else None


def archive_line(event: ArchivedEvent) -> bytes:
    """One JSON line. `payload` is the event's JSON as a string: its shape differs per event type, and
    Athena reads it with json_extract (docs/operator-tools.md)."""
    return (
        json.dumps(
            {
                "event_id": str(event.id),
                "event_type": event.event_type,
                "aggregate_id": str(event.aggregate_id),
                "member_id": str(event.member_id) if event.member_id else None,
                "order_id": str(event.order_id) if event.order_id else None,
                "occurred_at": _utc(event.created_at),
                "request_id": event.request_id,
                "payload": json.dumps(event.payload, sort_keys=True, separators=(",", ":"), default=str),
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


@dataclass
class ArchiveReport:
    exported_days: list[str] = field(default_factory=list)
    events_exported: int = 0
    objects_written: int = 0
    purged_days: list[str] = field(default_factory=list)
    events_purged: int = 0


class EventArchive:
    def __init__(self, db: Database, settings: Settings, store: ObjectStore):
        self._db = db
        self._settings = settings
        self._store = store

    # -- the daily job ---------------------------------------------------------------------------
    def run(
        self, *, now: datetime | None = None, should_stop: ShouldStop | None = None, progress: Progress | None = None
    ) -> ArchiveReport:
        """Export every whole UTC day not exported yet (normally yesterday; after an outage, each missed
        day), redo a recent day that gained events after its export, then purge what retention allows."""
        now = now or db_now(self._db)
        today = now.astimezone(UTC).date()
        report = ArchiveReport()
        for day in self._days_to_export(today):
            if should_stop and should_stop():
                return report
            done = self.export_day(day)
            report.exported_days.append(day.isoformat())
            report.events_exported += done.events
            report.objects_written += done.objects
            if progress:
                progress(report)
        self._purge(today, report, should_stop, progress)
        return report

    def _days_to_export(self, today: date) -> list[date]:
        with self._db.reader() as tx:
            last = archive.last_exported_day(tx)
            oldest = archive.oldest_event_at(tx)
            recheck = []
            if last is not None:
                for back in range(RECHECK_DAYS):
                    day = last - timedelta(days=back)
                    done = archive.export_of(tx, day)
                    if done and not done.purged_at and archive.count_day(tx, _start(day)) > done.events:
                        recheck.append(day)
        if last is not None:
            first = last + timedelta(days=1)
        elif oldest is not None:
            first = oldest.astimezone(UTC).date()
        else:
            first = today
        missing = [first + timedelta(days=n) for n in range((today - first).days)]
        return sorted(recheck) + missing

    def export_day(self, day: date) -> DayExport:
        """Write the day's events to events/dt=<day>/ and record it (a re-run rewrites the same objects)."""
        start = _start(day)
        with self._db.reader() as tx:
            previous = archive.export_of(tx, day)
            if previous is not None and (previous.purged_at or archive.count_day(tx, start) < previous.events):
                raise Conflict(
                    f"The events of {day} have left the database; their archive stays as exported.",
                    code="ARCHIVE_DAY_PURGED",
                )
        prefix = day_prefix(day)
        events = objects = size = 0
        part = _Part()
        after = None
        while True:
            with self._db.reader() as tx:
                page = archive.day_page(tx, start, after, PAGE)
            for event in page:
                part.add(archive_line(event))
                events += 1
                if part.events == EVENTS_PER_OBJECT:
                    size += self._upload(prefix, objects, part)
                    objects += 1
                    part = _Part()
            if len(page) < PAGE:
                break
            after = (page[-1].created_at, page[-1].id)
        if part.events:
            size += self._upload(prefix, objects, part)
            objects += 1
        with self._db.transaction() as tx:
            recorded = archive.record_export(
                tx, day, events=events, objects=objects, size=size, bucket=self._store.bucket, prefix=prefix
            )
        log.info("events exported", extra={"day": day.isoformat(), "events": events, "objects": objects})
        return recorded

    def _upload(self, prefix: str, number: int, part: _Part) -> int:
        data = part.close()
        self._store.put(f"{prefix}part-{number:05d}.jsonl.gz", data, content_type="application/gzip")
        return len(data)

    def _purge(
        self, today: date, report: ArchiveReport, should_stop: ShouldStop | None, progress: Progress | None
    ) -> None:
        """Days older than the retention period and already exported leave the database, in batches."""
        before = today - timedelta(days=self._settings.event_retention_days)
        with self._db.reader() as tx:
            days = archive.purgeable_days(tx, before)
        for day in days:
            purged = 0
            while True:
                if should_stop and should_stop():
                    return
                with self._db.transaction() as tx:
                    deleted = archive.purge_day(tx, _start(day), PURGE_BATCH)
                purged += deleted
                if deleted < PURGE_BATCH:
                    break
            with self._db.transaction() as tx:
                archive.mark_purged(tx, day)
            report.events_purged += purged
            if purged:
                report.purged_days.append(day.isoformat())
            if progress:
                progress(report)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class _Part:
    """One gzipped object being built; the same events always give the same bytes (mtime 0, no name)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._buffer, mtime=0, compresslevel=6)
        self.events = 0

    def add(self, line: bytes) -> None:
        self._gzip.write(line)
        self.events += 1

    def close(self) -> bytes:
        self._gzip.close()
        return self._buffer.getvalue()
