"""Partner API keys: issued by admins, shown once, stored as a SHA-256 hash, compared in constant time.

Key format `xp_<prefix>_<secret>`: the prefix finds the row (indexed), the hash of the whole key is
compared with hmac.compare_digest. Secrets are 256-bit random, so a fast hash is the right tool
(no password-style KDF needed: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from uuid import UUID

from ..platform.db import Database
from ..platform.errors import NotFound, Unauthenticated
from . import repository as partners
from .models import Partner, PartnerKind, PartnerRecord


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class PartnerService:
    def __init__(self, db: Database):
        self._db = db

    def issue(self, name: str, kind: PartnerKind, created_by: str) -> tuple[PartnerRecord, str]:
        prefix = secrets.token_hex(6)
        key = f"xp_{prefix}_{secrets.token_urlsafe(32)}"
        with self._db.transaction() as tx:
            row = partners.insert(tx, name, kind, prefix, _hash(key), created_by)
        return row, key

    def revoke(self, partner_id: UUID) -> PartnerRecord:
        with self._db.transaction() as tx:
            row = partners.revoke(tx, partner_id)
        if row is None:
            raise NotFound("Unknown partner.", code="PARTNER_NOT_FOUND")
        return row

    def list(self) -> list[PartnerRecord]:
        with self._db.reader() as tx:
            return partners.list_all(tx)

    def authenticate(self, api_key: str | None) -> Partner:
        if not api_key:
            raise Unauthenticated("Missing X-Api-Key header.")
        parts = api_key.strip().split("_")
        if len(parts) < 3 or parts[0] != "xp":
            raise Unauthenticated("Invalid API key.")
        with self._db.reader() as tx:
            row = partners.by_prefix(tx, parts[1])
        # Compare even when the prefix is unknown, so timing does not reveal which prefixes exist.
        expected = row.key_hash if row else _hash("xp_unknown_" + parts[1])
        if not hmac.compare_digest(expected, _hash(api_key.strip())) or row is None or row.revoked_at is not None:
            raise Unauthenticated("Invalid API key.")
        return Partner(row.id, row.name, row.kind)
