"""Partner records and their hashed API keys."""

from __future__ import annotations

from uuid import UUID

from ..platform.db import Tx
from .models import PartnerKind, PartnerRecord

_COLUMNS = "id, name, kind, key_prefix, key_hash, created_at, revoked_at"


def insert(tx: Tx, name: str, kind: PartnerKind, key_prefix: str, key_hash: str, created_by: str) -> PartnerRecord:
    record = tx.row(
        PartnerRecord,
        "INSERT INTO partners (name, kind, key_prefix, key_hash, created_by) VALUES (:n, :k, :p, :h, :by) "
        f"RETURNING {_COLUMNS}",
        n=name,
        k=kind,
        p=key_prefix,
        h=key_hash,
        by=created_by,
    )
    assert record is not None
    return record


def by_prefix(tx: Tx, key_prefix: str) -> PartnerRecord | None:
    return tx.row(PartnerRecord, f"SELECT {_COLUMNS} FROM partners WHERE key_prefix = :p", p=key_prefix)


def revoke(tx: Tx, partner_id: UUID) -> PartnerRecord | None:
    return tx.row(
        PartnerRecord,
        f"UPDATE partners SET revoked_at = COALESCE(revoked_at, now()) WHERE id = :id RETURNING {_COLUMNS}",
        id=partner_id,
    )


def list_all(tx: Tx) -> list[PartnerRecord]:
    return tx.rows(PartnerRecord, f"SELECT {_COLUMNS} FROM partners ORDER BY created_at, id")
