"""Import jobs and their rejections; which external member ids were imported already (imported_members,
written with the members by the ledger's open_imported_accounts, is the natural key: the old program's id).

Moving an import forward is a compare-and-set on the job row: a batch commits only if the job is
still this invocation's and still at the offset the batch started from, so two invocations of one
job (a redelivered S3 event, the resume schedule) can never import a batch twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from ..platform.db import Tx
from .models import ImportJob, ImportStatus, KnownMember, Rejection

_JOB = (
    "id, bucket, object_key, etag, sequencer, size_bytes, dry_run, status, header, next_offset, next_line, "
    "rows_read, imported, skipped, rejected, points, batches, invocations, owner, heartbeat_at, error, "
    "created_at, finished_at"
)


def create_job(
    tx: Tx, *, bucket: str, key: str, etag: str, sequencer: str, size: int, dry_run: bool
) -> tuple[ImportJob, bool]:
    """The job of this upload event, and whether this call created it (a redelivered event finds it)."""
    created = tx.row(
        ImportJob,
        "INSERT INTO import_jobs (bucket, object_key, etag, sequencer, size_bytes, dry_run, owner) "
        "VALUES (:b, :k, :e, :s, :n, :d, NULL) ON CONFLICT ON CONSTRAINT import_jobs_event DO NOTHING "
        f"RETURNING {_JOB}",
        b=bucket,
        k=key,
        e=etag,
        s=sequencer,
        n=size,
        d=dry_run,
    )
    if created is not None:
        return created, True
    found = tx.row(
        ImportJob,
        f"SELECT {_JOB} FROM import_jobs WHERE bucket = :b AND object_key = :k AND etag = :e AND sequencer = :s",
        b=bucket,
        k=key,
        e=etag,
        s=sequencer,
    )
    assert found is not None
    return found, False


def get(tx: Tx, job_id: UUID) -> ImportJob | None:
    return tx.row(ImportJob, f"SELECT {_JOB} FROM import_jobs WHERE id = :id", id=job_id)


def claim(tx: Tx, job_id: UUID, owner: str, stale_before: datetime) -> ImportJob | None:
    """Take the job for this invocation: a new or paused job, or one whose owner stopped beating."""
    return tx.row(
        ImportJob,
        "UPDATE import_jobs SET owner = :o, status = 'RUNNING', heartbeat_at = now(), invocations = invocations + 1 "
        "WHERE id = :id AND (status = 'PAUSED' OR (status = 'RUNNING' AND (owner IS NULL OR heartbeat_at < :stale))) "
        f"RETURNING {_JOB}",
        id=job_id,
        o=owner,
        stale=stale_before,
    )


def resumable(tx: Tx, stale_before: datetime, limit: int) -> list[UUID]:
    """Jobs to continue: paused before a time limit, or abandoned (no heartbeat since `stale_before`)."""
    return [
        r["id"]
        for r in tx.fetch(
            "SELECT id FROM import_jobs WHERE status = 'PAUSED' OR (status = 'RUNNING' AND heartbeat_at < :stale) "
            "ORDER BY heartbeat_at LIMIT :n",
            stale=stale_before,
            n=limit,
        )
    ]


def hold(tx: Tx, job_id: UUID, owner: str, offset: int) -> bool:
    """Lock the job row for a batch, if it is still ours and still at `offset` (else someone else moved it)."""
    return (
        tx.fetch_value(
            "SELECT 1 FROM import_jobs WHERE id = :id AND owner = :o AND next_offset = :off AND status = 'RUNNING' "
            "FOR UPDATE",
            id=job_id,
            o=owner,
            off=offset,
        )
        is not None
    )


def advance(
    tx: Tx,
    job_id: UUID,
    *,
    offset: int,
    line: int,
    rows: int,
    imported: int,
    skipped: int,
    rejected: int,
    points: int,
    header: list[str] | None = None,
) -> ImportJob:
    job = tx.row(
        ImportJob,
        "UPDATE import_jobs SET next_offset = :off, next_line = :line, rows_read = rows_read + :rows, "
        "imported = imported + :imp, skipped = skipped + :skip, rejected = rejected + :rej, points = points + :pts, "
        "batches = batches + 1, header = COALESCE(CAST(:header AS text[]), header), heartbeat_at = now() "
        f"WHERE id = :id RETURNING {_JOB}",
        id=job_id,
        off=offset,
        line=line,
        rows=rows,
        imp=imported,
        skip=skipped,
        rej=rejected,
        pts=points,
        header=header,
    )
    assert job is not None
    return job


def settle(tx: Tx, job_id: UUID, owner: str, status: ImportStatus, error: str | None = None) -> ImportJob | None:
    """PAUSED (to be resumed), DONE or FAILED; only by the job's owner."""
    return tx.row(
        ImportJob,
        "UPDATE import_jobs SET status = :s, error = :e, owner = NULL, heartbeat_at = now(), "
        "finished_at = CASE WHEN :s IN ('DONE', 'FAILED') THEN now() END "
        f"WHERE id = :id AND owner = :o AND status = 'RUNNING' RETURNING {_JOB}",
        id=job_id,
        o=owner,
        s=status,
        e=error,
    )


def add_rejections(tx: Tx, job_id: UUID, rejections: list[Rejection]) -> None:
    if rejections:
        tx.execute(
            "INSERT INTO import_rejections (import_id, line, external_member_id, reason) "
            "SELECT :j, * FROM unnest(CAST(:lines AS bigint[]), CAST(:ids AS text[]), CAST(:reasons AS text[])) "
            "ON CONFLICT DO NOTHING",
            j=job_id,
            lines=[r.line for r in rejections],
            ids=[r.external_member_id for r in rejections],
            reasons=[r.reason for r in rejections],
        )


def rejections_after(tx: Tx, job_id: UUID, after_line: int, limit: int) -> list[Rejection]:
    return tx.rows(
        Rejection,
        "SELECT line, external_member_id, reason FROM import_rejections WHERE import_id = :j AND line > :l "
        "ORDER BY line LIMIT :n",
        j=job_id,
        l=after_line,
        n=limit,
    )


def known(
    tx: Tx, external_ids: list[str], hashed_ids: list[str], emails: list[str]
) -> tuple[list[KnownMember], set[str]]:
    """External ids already imported (in clear, or hashed after an erasure) and emails already members'.
    The lists travel as JSON text (cheaper to send than typed arrays); usually nothing matches."""
    rows = tx.fetch(
        "WITH ids AS (SELECT json_array_elements_text(CAST(:ids AS json)) AS id), "
        "emails AS (SELECT json_array_elements_text(CAST(:emails AS json)) AS email) "
        "SELECT 'id' AS kind, k.external_member_id AS value, k.member_id, k.import_id, k.line "
        "FROM ids JOIN imported_members k ON k.external_member_id = ids.id "
        "UNION ALL SELECT 'email', m.email, m.id, NULL, NULL FROM emails JOIN members m ON m.email = emails.email",
        ids=json.dumps(external_ids + hashed_ids),
        emails=json.dumps(emails),
    )
    members = [
        KnownMember(r["value"], r["member_id"], r["import_id"], int(r["line"])) for r in rows if r["kind"] == "id"
    ]
    return members, {r["value"] for r in rows if r["kind"] == "email"}


def pseudonymize_member(tx: Tx, member_id: UUID) -> None:
    """An erased member keeps no old-program id in clear, only its hash (rows.hashed): a re-import skips it."""
    tx.execute(
        "UPDATE imported_members SET external_member_id = 'sha256:' || "
        "encode(sha256(convert_to(external_member_id, 'UTF8')), 'hex') "
        "WHERE member_id = :m AND external_member_id NOT LIKE 'sha256:%'",
        m=member_id,
    )
