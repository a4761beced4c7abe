from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from ..db import Tx


class PartnerRow(BaseModel):
    id: UUID
    name: str
    kind: str
    key_prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


_COLUMNS = "id, name, kind, key_prefix, key_hash, created_at, revoked_at"


def insert(tx: Tx, name: str, kind: str, key_prefix: str, key_hash: str, created_by: str) -> PartnerRow:
    row = tx.fetch_one(
        f"INSERT INTO partners (name, kind, key_prefix, key_hash, created_by) VALUES (:n, :k, :p, :h, :by) RETURNING {_COLUMNS}",
        n=name, k=kind, p=key_prefix, h=key_hash, by=created_by,
    )
    return PartnerRow.model_validate(row)


def by_prefix(tx: Tx, key_prefix: str) -> PartnerRow | None:
    row = tx.fetch_one(f"SELECT {_COLUMNS} FROM partners WHERE key_prefix = :p", p=key_prefix)
    return PartnerRow.model_validate(row) if row else None


def revoke(tx: Tx, partner_id: UUID) -> PartnerRow | None:
    row = tx.fetch_one(
        f"UPDATE partners SET revoked_at = COALESCE(revoked_at, now()) WHERE id = :id RETURNING {_COLUMNS}", id=partner_id
    )
    return PartnerRow.model_validate(row) if row else None


def list_all(tx: Tx) -> list[PartnerRow]:
    return [PartnerRow.model_validate(r) for r in tx.fetch(f"SELECT {_COLUMNS} FROM partners ORDER BY created_at, id")]
