"""Partners: stores, the warehouse and delivery companies, each with an API key issued by an admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from ..platform.errors import Forbidden

PartnerKind = Literal["STORE", "WAREHOUSE", "DELIVERY"]
PARTNER_KINDS: tuple[PartnerKind, ...] = ("STORE", "WAREHOUSE", "DELIVERY")


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    id: UUID
    name: str
    kind: PartnerKind
    key_prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Partner:
    """The partner behind a valid API key."""

    id: UUID
    name: str
    kind: PartnerKind

    def require(self, *kinds: PartnerKind) -> None:
        if self.kind not in kinds:
            raise Forbidden(f"This action is for {' or '.join(k.lower() for k in kinds)} partners.")
