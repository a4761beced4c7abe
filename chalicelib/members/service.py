"""Who a signed-in person is, as a member: resolved from the token's identity, never from its email.

Resolution of a principal (issuer, subject):
  1. a member linked to that identity -> that member, whatever the token's email says now;
  2. otherwise only a token whose email is *verified* may go on (403 EMAIL_NOT_VERIFIED else):
     a. the not-yet-linked member with that email (created in store, or before identities existed)
        is linked to the identity, exactly once (a conditional UPDATE: racing identities cannot both win);
     b. no member has that email: a new member owned by the identity, with the signup bonus;
     c. the email belongs to a member linked to another identity: 409 IDENTITY_CONFLICT (support
        decides; we never merge accounts on an email match).
Concurrent first calls of one identity serialise on the unique indexes: one member, one bonus.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from ..platform.auth import Principal
from ..platform.config import Settings
from ..platform.db import UNIQUE_VIOLATION, Database, Tx, sqlstate
from ..platform.errors import Conflict, Forbidden, NotFound, Unauthenticated
from ..platform.logs import get_logger
from ..points import ledger_repository as ledger
from . import repository as members
from .models import Member, Profile, identity_hash

log = get_logger(__name__)

# How long a warm container trusts its memory of identity -> member (an erased member's link goes away).
IDENTITY_CACHE_SECONDS = 300.0


def profile_of(principal: Principal) -> Profile:
    """The standard OpenID claims the member row starts from."""
    address = principal.address
    return Profile(
        first_name=principal.given_name,
        last_name=principal.family_name,
        phone=principal.phone,
        street=address.street,
        city=address.city,
        state=address.state,
        zip_code=address.zip_code,
    )


class MemberService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        # (issuer, subject, email claim, verified) -> (member id, trusted until): a changed email claim
        # misses, so the profile follows a newly verified address on the first request that carries it.
        self._known: dict[tuple[str, str, str, bool], tuple[UUID, float]] = {}
        self._lock = threading.Lock()

    def member_id(self, principal: Principal) -> UUID:
        key = (principal.issuer, principal.subject, principal.email, principal.email_verified)
        cached = self._known.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        member_id = self._resolve(principal)
        with self._lock:
            self._known[key] = (member_id, time.monotonic() + IDENTITY_CACHE_SECONDS)
        return member_id

    def _resolve(self, principal: Principal) -> UUID:
        with self._db.transaction() as tx:
            linked = members.find_by_identity(tx, principal.issuer, principal.subject)
            if linked is None:
                return self._first_sign_in(tx, principal)
        if principal.email_verified and principal.email and principal.email != linked.email:
            self._follow_email(linked.id, principal.email)
        return linked.id

    def _first_sign_in(self, tx: Tx, principal: Principal) -> UUID:
        if not (principal.email and principal.email_verified):
            raise Forbidden(
                "Verify your email address to use Xanadu Rewards.",
                code="EMAIL_NOT_VERIFIED",
            )
        if members.identity_erased(tx, identity_hash(principal.issuer, principal.subject)):
            # A token issued before its member was erased (valid until it expires) enrols nobody.
            raise Unauthenticated("This sign-in belonged to an erased member.", code="IDENTITY_ERASED")
        profile = profile_of(principal)
        linked_id = members.link_by_email(tx, principal.issuer, principal.subject, principal.email, profile)
        if linked_id is not None:
            log.info("member linked to identity", extra={"member_id": str(linked_id)})
            return linked_id
        new_id = members.insert_signed_in(tx, principal.issuer, principal.subject, principal.email, profile)
        if new_id is not None:
            self.grant_signup_bonus(tx, new_id)
            return new_id
        # Nothing inserted: a concurrent first call of this identity committed first, or the email is
        # another identity's member.
        winner = members.find_by_identity(tx, principal.issuer, principal.subject)
        if winner is not None:
            return winner.id
        raise Conflict(
            "This email address belongs to another member's sign-in; contact support.",
            code="IDENTITY_CONFLICT",
        )

    def forget(self, member_id: UUID) -> None:
        """Drop this container's memory of the identities that resolved to `member_id` (erased)."""
        with self._lock:
            for key in [k for k, (known, _) in self._known.items() if known == member_id]:
                del self._known[key]

    def _follow_email(self, member_id: UUID, email: str) -> None:
        """The verified email of a linked sign-in changed: the profile follows when the address is free."""
        try:
            with self._db.transaction() as tx:
                changed = members.change_email(tx, member_id, email)
        except Exception as exc:
            if sqlstate(exc) != UNIQUE_VIOLATION:
                raise
            changed = False
        if not changed:
            log.warning("member email not changed: address in use", extra={"member_id": str(member_id)})

    def grant_signup_bonus(self, tx: Tx, member_id: UUID) -> None:
        """The welcome BONUS of a member just inserted by this transaction (at most once: unique ref)."""
        if self._settings.signup_bonus_points > 0:
            ledger.credit(
                tx,
                member_id,
                "BONUS",
                self._settings.signup_bonus_points,
                "Welcome bonus",
                lot_lifetime=timedelta(days=self._settings.lot_lifetime_days),
                external_ref=f"signup:{member_id}",
            )

    def profile(self, member_id: UUID) -> Member:
        with self._db.reader() as tx:
            member = members.get(tx, member_id)
        if member is None or member.erased:
            raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
        return member

    def update_profile(self, member_id: UUID, changes: dict[str, Any]) -> Member:
        with self._db.transaction() as tx:
            member = members.update_profile(tx, member_id, changes)
        if member is None:
            raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
        return member
