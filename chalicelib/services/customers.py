"""Customers as admins see them: search, in-store sign-up, one customer with balance and tier."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..config import Settings
from ..db import Database
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import CustomerCreate, CustomerDetail, CustomerOut, ExpiringPoints
from ..repositories import lots, members, tiers
from .members import MemberService
from .points import EXPIRING_WINDOW_DAYS
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
        with self._db.reader() as tx:
            member = members.get(tx, member_id)
            if member is None:
                raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
            qualifying = tiers.qualifying_points(tx, member_id, now, self._policy.window_days)
            expiring = lots.expiring_by_day(tx, member_id, now, EXPIRING_WINDOW_DAYS)
        next_tier, missing = self._policy.next_tier(qualifying)
        return CustomerDetail(
            **CustomerOut.of(member).model_dump(),
            qualifying_points=qualifying, next_tier=next_tier, points_to_next_tier=missing,  # type: ignore[arg-type]
            expiring=[ExpiringPoints(date=day, points=points) for day, points in expiring],
        )
