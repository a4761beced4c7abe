"""HTTP bodies of partner administration."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from ..platform.schemas import Body, Out, Text, UtcTimestamp
from .models import PartnerKind


class PartnerCreate(Body):
    name: Text = Field(..., min_length=1, max_length=200)
    kind: PartnerKind


class PartnerOut(Out):
    id: UUID
    name: str
    kind: str
    key_prefix: str
    created_at: UtcTimestamp
    revoked_at: UtcTimestamp | None = None


class PartnerEnvelope(Out):
    partner: PartnerOut


class PartnerIssued(Out):
    partner: PartnerOut
    api_key: str


class PartnerList(Out):
    partners: list[PartnerOut]
