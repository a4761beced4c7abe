"""Import jobs, their rejections, and the members they create (imported_members is the natural key:
the old program's member id).

Moving an import forward is a compare-and-set on the job row: a batch commits only if the job is
still this invocation's and still at the offset the batch started from, so two invocations of one
job (a redelivered S3 event, the resume schedule) can never import a batch twice.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Tx
from .models import ImportJob, ImportRow, ImportStatus, KnownMember, Rejection

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
    """External ids already imported (in clear, or hashed after an erasure) and emails already members'."""
    rows = tx.fetch(
        "SELECT 'id' AS kind, external_member_id AS value, member_id, import_id, line FROM imported_members "
        "WHERE external_member_id = ANY(CAST(:ids AS text[])) OR external_member_id = ANY(CAST(:hashed AS text[])) "
        "UNION ALL SELECT 'email', email, id, NULL, NULL FROM members WHERE email = ANY(CAST(:emails AS text[]))",
        ids=external_ids,
        hashed=hashed_ids,
        emails=emails,
    )
    members = [
        KnownMember(r["value"], r["member_id"], r["import_id"], int(r["line"])) for r in rows if r["kind"] == "id"
    ]
    return members, {r["value"] for r in rows if r["kind"] == "email"}


_INSERT_MEMBERS = """
WITH input AS MATERIALIZED (
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ext AS text[]), CAST(:emails AS text[]), CAST(:first AS text[]),
                         CAST(:last AS text[]), CAST(:phones AS text[]), CAST(:lines AS bigint[]))
        AS i(id, external_member_id, email, first_name, last_name, phone, line)
), claimed AS (
    INSERT INTO imported_members (external_member_id, member_id, import_id, line)
    SELECT external_member_id, id, :job, line FROM input
    ON CONFLICT (external_member_id) DO NOTHING
    RETURNING member_id
), created AS (
    INSERT INTO members (id, email, first_name, last_name, phone)
    SELECT i.id, i.email, i.first_name, i.last_name, i.phone FROM input i JOIN claimed c ON c.member_id = i.id
    RETURNING id
)
SELECT COALESCE(array_agg(id), '{}') AS ids FROM created
"""


def insert_members(tx: Tx, job_id: UUID, rows: list[tuple[UUID, ImportRow]]) -> set[UUID]:
    """Members with no sign-in yet (linked at their first verified sign-in, like in-store customers),
    each claimed by its external id; returns the ids created. An id another import claimed meanwhile is
    skipped; an email taken meanwhile fails the statement (unique violation): the caller redoes the batch."""
    if not rows:
        return set()
    row = tx.fetch_one(
        _INSERT_MEMBERS,
        ids=[str(member_id) for member_id, _ in rows],
        ext=[r.external_member_id for _, r in rows],
        emails=[r.email for _, r in rows],
        first=[r.first_name for _, r in rows],
        last=[r.last_name for _, r in rows],
        phones=[r.phone for _, r in rows],
        lines=[r.line for _, r in rows],
        job=job_id,
    )
    assert row is not None
    return set(row["ids"] or [])


def pseudonymize_member(tx: Tx, member_id: UUID) -> None:
    """An erased member keeps no old-program id in clear, only its hash (rows.hashed): a re-import skips it."""
    tx.execute(
        "UPDATE imported_members SET external_member_id = 'sha256:' || "
        "encode(sha256(convert_to(external_member_id, 'UTF8')), 'hex') "
        "WHERE member_id = :m AND external_member_id NOT LIKE 'sha256:%'",
        m=member_id,
    )
