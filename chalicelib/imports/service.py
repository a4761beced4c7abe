"""Bulk import of members and opening balances from the program being replaced (docs/operator-tools.md).

A CSV put under imports/ in the stage's bucket triggers `on_upload` (the S3 handler); the file is
streamed from S3 (never held in memory) and imported in batches of IMPORT_BATCH_SIZE rows, each one
transaction that also moves the job's cursor (byte offset and line of the next row). Before Lambda's
time limit the invocation stops between batches and marks the job PAUSED; the `resume_imports`
schedule (every minute) continues PAUSED jobs, and RUNNING ones whose invocation died (no heartbeat
for STALE_AFTER), from their cursor. Why a schedule rather than the handler re-invoking itself or an
S3 marker object: it needs no permission on its own function (a circular reference in the template),
it is not a Lambda -> S3 -> Lambda chain (which Lambda's recursion detection stops after 16 hops), and
it also recovers imports whose invocation crashed or timed out, which a continuation message would not.

Rows: idempotent on external_member_id (an id imported before is skipped, also after that member was
erased), members without a sign-in (linked at their first verified sign-in, like in-store customers),
opening balances as IMPORT ledger rows with lots expiring at expires_at. Bad rows are rejected by line
number and never stop good ones. A key under imports/dry-run/ is a dry run: the whole file is validated
(against the database too) and no member or point is written. Progress (<key>.progress.json), the
final report (<key>.report.json) and every rejection (<key>.rejections.jsonl) are written next to the file.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus
from uuid import UUID

from ..adapters.storage import ObjectChanged, ObjectMissing, ObjectStore
from ..platform.config import Settings
from ..platform.db import FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, Database, sqlstate
from ..platform.jobs import ShouldStop, db_now
from ..platform.logs import get_logger
from ..points import ledger_repository as ledger
from ..points.models import ImportedAccount
from . import repository as jobs
from .models import ImportJob, ImportRow, ImportStatus, Rejection
from .rows import HeaderError, Line, hashed, lines, parse_header, parse_row

log = get_logger(__name__)

PREFIX = "imports/"
DRY_RUN_PREFIX = "imports/dry-run/"
SUFFIX = ".csv"
# A RUNNING job whose heartbeat is older than this lost its invocation (crash, timeout): resume it.
STALE_AFTER = timedelta(minutes=2)
# A job that keeps dying (a bug, a file we cannot read) is given up after this many invocations.
MAX_INVOCATIONS = 50
PROGRESS_EVERY_S = 2.0
REPORT_SAMPLE = 100
REJECTIONS_PAGE = 5_000
BATCH_ATTEMPTS = 3
# Batches read and validated ahead of the one being written.
READ_AHEAD = 2

Progress = Callable[[ImportJob], None]


def is_import_file(key: str) -> bool:
    return key.startswith(PREFIX) and key.endswith(SUFFIX)


class _LostJob(Exception):
    """Another invocation took the job over (ours was presumed dead): stop without touching it."""


@dataclass
class _Prepared:
    """A batch read and validated, ready to be written: where the job's cursor goes once it commits."""

    end: int  # byte offset past its last line
    next_line: int
    header_line: bool = False
    rows: int = 0
    candidates: list[ImportRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class ImportService:
    def __init__(self, db: Database, settings: Settings, store: ObjectStore):
        self._db = db
        self._settings = settings
        self._store = store

    # -- entry points --------------------------------------------------------------------------
    def on_upload(
        self, event: dict[str, Any], should_stop: ShouldStop | None = None, *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """An S3 ObjectCreated event: import each CSV it names (a redelivered event continues its job)."""
        results = []
        for record in event.get("Records") or []:
            s3 = record.get("s3") or {}
            key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
            bucket = str((s3.get("bucket") or {}).get("name", ""))
            if not is_import_file(key):
                results.append({"key": key, "status": "ignored"})
                continue
            results.append(self.start(bucket, key, s3["object"], should_stop=should_stop, progress=progress))
        return {"imports": results}

    def start(
        self,
        bucket: str,
        key: str,
        about: dict[str, Any],
        *,
        should_stop: ShouldStop | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        etag, size = about.get("eTag"), about.get("size")
        if not etag or size is None:
            info = self._store.info(key, bucket)
            etag, size = info.etag, info.size
        with self._db.transaction() as tx:
            job, _ = jobs.create_job(
                tx,
                bucket=bucket,
                key=key,
                etag=str(etag).strip('"'),
                sequencer=str(about.get("sequencer") or ""),
                size=int(size),
                dry_run=key.startswith(DRY_RUN_PREFIX),
            )
        return self.run(job.id, should_stop=should_stop, progress=progress)

    def resume(self, *, should_stop: ShouldStop | None = None, progress: Progress | None = None) -> dict[str, Any]:
        """The resume_imports schedule: continue paused and abandoned jobs, oldest heartbeat first."""
        results: list[dict[str, Any]] = []
        tried: set[UUID] = set()
        while not (should_stop and should_stop()):
            with self._db.reader() as tx:
                found = [j for j in jobs.resumable(tx, self._stale_before(), 10) if j not in tried]
            if not found:
                break
            for job_id in found:
                tried.add(job_id)
                results.append(self.run(job_id, should_stop=should_stop, progress=progress))
                if should_stop and should_stop():
                    break
        return {"resumed": results}

    def run(
        self, job_id: UUID, *, should_stop: ShouldStop | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Take the job (unless a live invocation has it) and import until done or told to stop."""
        owner = f"import-{uuid.uuid4()}"
        with self._db.transaction() as tx:
            job = jobs.claim(tx, job_id, owner, self._stale_before())
        if job is None:
            with self._db.reader() as tx:
                current = jobs.get(tx, job_id)
            assert current is not None
            return {**self.summary(current), "note": "done already" if current.finished else "another run has it"}
        if job.invocations > MAX_INVOCATIONS:
            return self.summary(self._settle(job, owner, "FAILED", f"gave up after {MAX_INVOCATIONS} invocations"))
        try:
            job = self._import(job, owner, should_stop, progress)
        except _LostJob:
            log.warning("import taken over by another invocation", extra={"import_id": str(job_id)})
            with self._db.reader() as tx:
                current = jobs.get(tx, job_id)
            assert current is not None
            return self.summary(current)
        except HeaderError as exc:
            job = self._settle(job, owner, "FAILED", f"the file was refused: {exc}")
        except ObjectChanged:
            job = self._settle(job, owner, "FAILED", "the file was replaced during the import; upload it again")
        except ObjectMissing:
            job = self._settle(job, owner, "FAILED", "the file is no longer in the bucket")
        return self.summary(job)

    # -- the import ------------------------------------------------------------------------------
    def _import(
        self, job: ImportJob, owner: str, should_stop: ShouldStop | None, progress: Progress | None
    ) -> ImportJob:
        now = db_now(self._db)
        default_expiry = now + timedelta(days=self._settings.lot_lifetime_days)
        log.info("import running", extra={"import_id": str(job.id), "from_line": job.next_line})
        reader = lines(self._chunks(job), start_offset=job.next_offset, start_line=job.next_line)
        header = job.header
        if header is None:
            first = next(reader, None)
            if first is None:
                raise HeaderError("the file is empty")
            header = parse_header(first.text)
            job = self._commit(job, owner, header, _Prepared(first.end, first.number + 1, header_line=True))
        last_progress = time.monotonic()
        with contextlib.closing(self._read_ahead(reader, header, now, default_expiry)) as batches:
            for prepared in batches:
                job = self._commit(job, owner, header, prepared)
                if progress:
                    progress(job)
                if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                    self._write_progress(job)
                    last_progress = time.monotonic()
                if should_stop and should_stop():
                    job = self._settle(job, owner, "PAUSED")
                    log.info("import paused before the time limit", extra={"import_id": str(job.id)})
                    return job
        return self._settle(job, owner, "DONE")

    def _chunks(self, job: ImportJob) -> Iterator[bytes]:
        return self._store.chunks(job.object_key, start=job.next_offset, etag=job.etag, bucket=job.bucket)

    def _read_ahead(
        self, reader: Iterator[Line], header: list[str], now: datetime, default_expiry: datetime
    ) -> Generator[_Prepared, None, None]:
        """Batches read from S3 and validated by a thread of their own, READ_AHEAD batches ahead: the next
        batch is parsed while the database writes this one. Only the committed cursor counts: what was
        read ahead of a pause is read again by the next invocation."""
        ready: queue.Queue[_Prepared | BaseException | None] = queue.Queue(maxsize=READ_AHEAD)
        stop = threading.Event()

        def hand_over(item: _Prepared | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                batch: list[Line] = []
                for line in reader:
                    batch.append(line)
                    if len(batch) >= self._settings.import_batch_size:
                        if not hand_over(self._prepare(header, batch, now, default_expiry)):
                            return
                        batch = []
                if batch and not hand_over(self._prepare(header, batch, now, default_expiry)):
                    return
                hand_over(None)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the consumer
                hand_over(exc)

        thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
        thread.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=30)

    @staticmethod
    def _prepare(header: list[str], batch: list[Line], now: datetime, default_expiry: datetime) -> _Prepared:
        """Validate a batch's lines; rows repeating an id or an email of an earlier row of the batch are rejected."""
        prepared = _Prepared(batch[-1].end, batch[-1].number + 1)
        seen_ids: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        for line in batch:
            if line.text is not None and not line.text.strip():
                continue  # blank lines are not rows
            prepared.rows += 1
            parsed = parse_row(header, line, now=now, default_expiry=default_expiry)
            if isinstance(parsed, Rejection):
                prepared.rejected.append(parsed)
            elif parsed.external_member_id in seen_ids:
                first = seen_ids[parsed.external_member_id]
                prepared.rejected.append(
                    Rejection(parsed.line, parsed.external_member_id, f"duplicate of line {first}")
                )
            elif parsed.email in seen_emails:
                first = seen_emails[parsed.email]
                prepared.rejected.append(
                    Rejection(parsed.line, parsed.external_member_id, f"same email as line {first}")
                )
            else:
                seen_ids[parsed.external_member_id] = parsed.line
                seen_emails[parsed.email] = parsed.line
                prepared.candidates.append(parsed)
        return prepared

    def _commit(self, job: ImportJob, owner: str, header: list[str], prepared: _Prepared) -> ImportJob:
        """One batch in one transaction with the job's cursor (redone when a concurrent sign-up or import
        took an email or id between our check and our insert: the check then sees it)."""
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                return self._write_batch(job, owner, header, prepared)
            except Exception as exc:
                if attempt < BATCH_ATTEMPTS and sqlstate(exc) in (UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION):
                    continue
                raise
        raise AssertionError("unreachable")

    def _write_batch(self, job: ImportJob, owner: str, header: list[str], prepared: _Prepared) -> ImportJob:
        candidates = prepared.candidates
        rejected = list(prepared.rejected)
        imported = skipped = points = 0
        with self._db.transaction() as tx:
            if not jobs.hold(tx, job.id, owner, job.next_offset):
                raise _LostJob()
            new: list[ImportRow] = []
            if candidates:
                known, taken = jobs.known(
                    tx,
                    [r.external_member_id for r in candidates],
                    [hashed(r.external_member_id) for r in candidates],
                    [r.email for r in candidates],
                )
                by_id = {k.external_member_id: k for k in known}
                for row in candidates:
                    found = by_id.get(row.external_member_id) or by_id.get(hashed(row.external_member_id))
                    if found is not None and found.import_id == job.id and found.line != row.line:
                        rejected.append(Rejection(row.line, row.external_member_id, f"duplicate of line {found.line}"))
                    elif found is not None:
                        skipped += 1  # imported before (by an earlier file, or this one before a retry)
                    elif row.email in taken:
                        rejected.append(Rejection(row.line, row.external_member_id, "email belongs to another member"))
                    else:
                        new.append(row)
            if job.dry_run:
                imported, points = len(new), sum(r.points for r in new)
            elif new:
                accounts = [
                    ImportedAccount(
                        uuid.uuid4(),
                        r.external_member_id,
                        r.email,
                        r.first_name,
                        r.last_name,
                        r.phone,
                        r.points,
                        r.expires_at,
                        r.line,
                    )
                    for r in new
                ]
                opened = ledger.open_imported_accounts(
                    tx, job.id, accounts, description="Opening balance (imported)", created_by=f"import:{job.id}"
                )
                imported, points = opened.opened, opened.points
                skipped += len(opened.claimed_elsewhere)  # a concurrent import of the same ids won them
            jobs.add_rejections(tx, job.id, rejected)
            return jobs.advance(
                tx,
                job.id,
                offset=prepared.end,
                line=prepared.next_line,
                rows=prepared.rows,
                imported=imported,
                skipped=skipped,
                rejected=len(rejected),
                points=points,
                header=header if prepared.header_line else None,
            )

    def _settle(self, job: ImportJob, owner: str, status: ImportStatus, error: str | None = None) -> ImportJob:
        with self._db.transaction() as tx:
            settled = jobs.settle(tx, job.id, owner, status, error)
        if settled is None:
            raise _LostJob()
        if settled.finished:
            self._write_report(settled)
            log.info("import finished", extra=self.summary(settled))
        else:
            self._write_progress(settled)
        return settled

    # -- what the operator reads ------------------------------------------------------------------
    @staticmethod
    def _stale_before() -> datetime:
        return datetime.now(UTC) - STALE_AFTER

    @staticmethod
    def summary(job: ImportJob) -> dict[str, Any]:
        return {
            "import_id": str(job.id),
            "file": f"s3://{job.bucket}/{job.object_key}",
            "dry_run": job.dry_run,
            "status": job.status,
            "rows_read": job.rows_read,
            "imported": job.imported,
            "skipped": job.skipped,
            "rejected": job.rejected,
            "points": job.points,
            "error": job.error,
        }

    def _progress_document(self, job: ImportJob) -> dict[str, Any]:
        done = job.size_bytes and min(job.next_offset, job.size_bytes) / job.size_bytes
        return {
            **self.summary(job),
            "bytes_read": job.next_offset,
            "size_bytes": job.size_bytes,
            "percent": round(100.0 * (done or (1.0 if job.finished else 0.0)), 1),
            "next_line": job.next_line,
            "batches": job.batches,
            "invocations": job.invocations,
            "updated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }

    def _write_progress(self, job: ImportJob) -> None:
        try:
            self._put_json(job, ".progress.json", self._progress_document(job))
        except Exception as exc:  # noqa: BLE001 - progress is informative; the import goes on
            log.warning("import progress not written", extra={"import_id": str(job.id), "error": str(exc)})

    def _write_report(self, job: ImportJob) -> None:
        """<key>.rejections.jsonl (every rejected line, streamed from the database), then <key>.report.json
        with the counts and the first rejections; last, the progress object says it is finished."""
        sample: list[dict[str, Any]] = []
        rejections_key = None
        if job.rejected:
            rejections_key = job.object_key + ".rejections.jsonl"
            with self._store.writer(rejections_key, content_type="application/x-ndjson", bucket=job.bucket) as out:
                after = 0
                while True:
                    with self._db.reader() as tx:
                        page = jobs.rejections_after(tx, job.id, after, REJECTIONS_PAGE)
                    for rejection in page:
                        item = {
                            "line": rejection.line,
                            "external_member_id": rejection.external_member_id,
                            "reason": rejection.reason,
                        }
                        if len(sample) < REPORT_SAMPLE:
                            sample.append(item)
                        out.write((json.dumps(item) + "\n").encode())
                    if len(page) < REJECTIONS_PAGE:
                        break
                    after = page[-1].line
        seconds = (job.finished_at - job.created_at).total_seconds() if job.finished_at else None
        report = {
            **self._progress_document(job),
            "started_at": job.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "finished_at": job.finished_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if job.finished_at
            else None,
            "seconds": round(seconds, 3) if seconds is not None else None,
            "rejections_file": f"s3://{job.bucket}/{rejections_key}" if rejections_key else None,
            "rejections": sample,
        }
        self._put_json(job, ".report.json", report)
        self._write_progress(job)

    def _put_json(self, job: ImportJob, suffix: str, document: dict[str, Any]) -> None:
        self._store.put(
            job.object_key + suffix,
            json.dumps(document, indent=2).encode(),
            content_type="application/json",
            bucket=job.bucket,
        )
