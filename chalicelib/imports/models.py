"""Bulk imports: the job row that carries an import from one invocation to the next, and what each
CSV row turned out to be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

ImportStatus = Literal["RUNNING", "PAUSED", "DONE", "FAILED"]


@dataclass(frozen=True, slots=True)
class ImportJob:
    """One upload being imported. (next_offset, next_line) is where the next batch starts; it moves in
    the transaction that commits the batch before it."""

    id: UUID
    bucket: str
    object_key: str
    etag: str
    sequencer: str
    size_bytes: int
    dry_run: bool
    status: ImportStatus
    header: list[str] | None
    next_offset: int
    next_line: int
    rows_read: int
    imported: int
    skipped: int
    rejected: int
    points: int
    batches: int
    invocations: int
    owner: str | None
    heartbeat_at: datetime
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("DONE", "FAILED")


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A valid CSV row: a member to create with an opening balance (points may be 0)."""

    line: int
    external_member_id: str
    email: str
    first_name: str
    last_name: str
    phone: str
    points: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not imported, by line number; never the row's personal data."""

    line: int
    external_member_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class KnownMember:
    """An external member id some import already created (possibly this one, on an earlier line)."""

    external_member_id: str
    member_id: UUID
    import_id: UUID
    line: int


@dataclass(frozen=True, slots=True)
class BatchCounts:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    points: int = 0
