"""Customers as admins see them: search, in-store sign-up, one customer with balance and tier."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..config import Settings
from ..db import Database
from ..errors import Conflict, ValidationFailed
from ..models import CustomerCreate, CustomerDetail, CustomerOut
from ..repositories import members
from .members import MemberService
from .points import read_standing
from .tiers import TierPolicy


class CustomerService:
    def __init__(self, db: Database, settings: Settings, member_service: MemberService):
        self._db = db
        self._members = member_service
        self._policy = TierPolicy.of(settings)

    def search(self, q: str | None, limit: int, cursor: str | None) -> tuple[list[CustomerOut], str | None]:
        if q is not None and ("\x00" in q or len(q) > 320):
            raise ValidationFailed("q must be at most 320 characters, without NUL.",
                                   details=[{"field": "q", "message": "invalid"}])
        with self._db.reader() as tx:
            found, next_cursor = members.search(tx, q, limit, cursor)
        return [CustomerOut.of(m) for m in found], next_cursor

    def create(self, request: CustomerCreate) -> CustomerDetail:
        """In-store sign-up: the member exists (with the signup bonus) before their first sign-in;
        that sign-in identifies them by email and finds this row. An existing email is 409."""
        address = request.address
        with self._db.transaction() as tx:
            member_id = members.insert_customer(
                tx, email=request.email, first_name=request.first_name, last_name=request.last_name,
                phone=request.phone, street=address.street if address else "", city=address.city if address else "",
                state=address.state if address else "", zip_code=address.zip_code if address else "",
            )
            if member_id is None:
                raise Conflict("A member with this email already exists.", code="MEMBER_EXISTS")
            self._members.grant_signup_bonus(tx, member_id)
        return self.get(member_id)

    def get(self, member_id: UUID, *, now: datetime | None = None) -> CustomerDetail:
        standing = read_standing(self._db, self._policy, member_id, now, "Unknown customer.")
        return CustomerDetail(
            **CustomerOut.of(standing.member).model_dump(),
            qualifying_points=standing.qualifying_points, next_tier=standing.next_tier,  # type: ignore[arg-type]
            points_to_next_tier=standing.points_to_next_tier, expiring=standing.expiring,
        )
