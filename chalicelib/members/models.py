"""Member rows. A member is who the identity provider says (issuer + subject); email is profile data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ..points.models import Standing, Tier


@dataclass(frozen=True, slots=True)
class Profile:
    """What a member can see and change about themselves (besides the email, which sign-in owns)."""

    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""


@dataclass(frozen=True, slots=True)
class Member:
    id: UUID
    email: str
    first_name: str
    last_name: str
    phone: str
    street: str
    city: str
    state: str
    zip_code: str
    balance: int
    lifetime_earned: int
    tier: Tier
    created_at: datetime
    # True once a sign-in owns this member (False: created in store, not signed in yet).
    signed_in: bool
    # Erased on request (docs/operator-tools.md): every personal field above is blank.
    erased: bool = False


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """The member an identity (issuer, subject) is linked to, and the email on file."""

    id: UUID
    email: str


@dataclass(frozen=True, slots=True)
class ErasureSubject:
    """What erasing a member starts from: its sign-in (if any), its email, and whether it is erased already."""

    id: UUID
    email: str
    identity_issuer: str | None
    identity_subject: str | None
    erased_at: datetime | None


@dataclass(frozen=True, slots=True)
class Customer:
    """A member as admins see them: profile and points standing."""

    member: Member
    standing: Standing


def identity_hash(issuer: str, subject: str) -> str:
    """How an erased member's sign-in is remembered (erased_identities): never the subject itself."""
    return hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()
