"""Customers as admins see them: search, in-store sign-up, one customer with their standing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Database
from ..platform.errors import Conflict, NotFound, ValidationFailed
from ..points.standing import read_standing
from ..points.tier_policy import TierPolicy
from . import repository as members
from .models import Customer, Member, Profile
from .service import MemberService


class CustomerService:
    def __init__(self, db: Database, policy: TierPolicy, member_service: MemberService):
        self._db = db
        self._members = member_service
        self._policy = policy

    def search(self, q: str | None, limit: int, cursor: str | None) -> tuple[list[Member], str | None]:
        if q is not None and ("\x00" in q or len(q) > 320):
            raise ValidationFailed(
                "q must be at most 320 characters, without NUL.", details=[{"field": "q", "message": "invalid"}]
            )
        with self._db.reader() as tx:
            return members.search(tx, q, limit, cursor)

    def create(self, email: str, profile: Profile) -> Customer:
        """In-store sign-up: the member exists (with the signup bonus) before their first sign-in, which
        links to it when the sign-in's email is verified. An existing email is 409 MEMBER_EXISTS."""
        with self._db.transaction() as tx:
            member_id = members.insert_customer(tx, email, profile)
            if member_id is None:
                raise Conflict("A member with this email already exists.", code="MEMBER_EXISTS")
            self._members.grant_signup_bonus(tx, member_id)
        return self.get(member_id)

    def get(self, member_id: UUID, *, now: datetime | None = None) -> Customer:
        with self._db.reader() as tx:
            member = members.get(tx, member_id)
            if member is None:
                raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
            if member.erased:
                raise NotFound("This customer was erased.", code="MEMBER_ERASED")
            standing = read_standing(tx, self._policy, member_id, now)
        return Customer(member, standing)
