from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

from ..auth import Principal
from ..config import Settings
from ..db import Database, Tx
from ..errors import NotFound
from ..models import Member
from ..repositories import ledger, members


class MemberService:
    """Members are created on first authenticated use, with the signup bonus, exactly once."""

    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        # email -> member id never changes once written, so a warm container may remember it.
        self._known: dict[str, UUID] = {}
        self._lock = threading.Lock()

    def member_id(self, principal: Principal) -> UUID:
        cached = self._known.get(principal.email)
        if cached is not None:
            return cached
        with self._db.transaction() as tx:
            member_id = members.find_id_by_email(tx, principal.email) or self.enroll(
                tx, principal.email, principal.given_name, principal.family_name, principal.phone
            )
        with self._lock:
            self._known[principal.email] = member_id
        return member_id

    def enroll(self, tx: Tx, email: str, first_name: str = "", last_name: str = "", phone: str = "") -> UUID:
        """Insert the member with the bonus; if a concurrent call inserted it first, return theirs.

        The unique email index makes the loser wait for the winner's commit, then ON CONFLICT DO
        NOTHING returns no row: so the bonus is written by exactly one transaction.
        """
        new_id = members.insert_if_absent(tx, email, first_name, last_name, phone)
        if new_id is None:
            existing = members.find_id_by_email(tx, email)
            assert existing is not None
            return existing
        self.grant_signup_bonus(tx, new_id)
        return new_id

    def grant_signup_bonus(self, tx: Tx, member_id: UUID) -> None:
        """The welcome BONUS of a member just inserted by this transaction (at most once: unique ref)."""
        if self._settings.signup_bonus_points > 0:
            ledger.credit(
                tx, member_id, "BONUS", self._settings.signup_bonus_points, "Welcome bonus",
                lot_lifetime=timedelta(days=self._settings.lot_lifetime_days),
                external_ref=f"signup:{member_id}",
            )

    def profile(self, member_id: UUID) -> Member:
        with self._db.reader() as tx:
            member = members.get(tx, member_id)
        if member is None:
            raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
        return member
