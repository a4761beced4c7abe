"""Member rows. A member is who the identity provider says (issuer + subject); email is profile data."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """The member an identity (issuer, subject) is linked to, and the email on file."""

    id: UUID
    email: str


@dataclass(frozen=True, slots=True)
class Customer:
    """A member as admins see them: profile and points standing."""

    member: Member
    standing: Standing
