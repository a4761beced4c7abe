"""A member's points: balance and standing, history, one transaction, and admins' adjustments."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from ..events import outbox
from ..members import repository as members
from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.errors import NotFound
from . import ledger_repository as ledger
from .models import EntryDetail, LedgerEntry, Posting, Standing
from .standing import read_standing
from .tier_policy import TierPolicy


class PointsService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._policy = TierPolicy.of(settings)

    def standing(self, member_id: UUID, *, now: datetime | None = None) -> Standing:
        """Balance (`points`), lifetime earned, tier and progress, what expires in the next 90 days."""
        with self._db.reader() as tx:
            return read_standing(tx, self._policy, member_id, now)

    def history(self, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
        with self._db.reader() as tx:
            return ledger.list_for_member(tx, member_id, limit, cursor)

    def transaction(self, member_id: UUID, entry_id: UUID) -> EntryDetail:
        """Someone else's entry is indistinguishable from a missing one: 404 either way."""
        with self._db.reader() as tx:
            entry = ledger.get_for_member(tx, member_id, entry_id)
            if entry is None:
                raise NotFound("Unknown transaction.", code="TRANSACTION_NOT_FOUND")
            items = ledger.items_of_order(tx, entry.order_id) if entry.order_id else []
        return EntryDetail(entry, items)

    def lot_lifetime(self) -> timedelta:
        return timedelta(days=self._settings.lot_lifetime_days)

    def adjust(
        self, tx: Tx, admin: str, member_id: UUID, points: int, reason: str, *, now: datetime | None = None
    ) -> Posting:
        """An admin's correction, inside the caller's (idempotency) transaction.

        Positive: an ADJUST credit forming a new lot (expires like any lot). Negative: an ADJUST
        debit through the shared spend path (lapsed lots expire first, soonest-expiring lots are
        taken first); never below zero (InsufficientPoints, 409). The admin is `created_by`; a
        PointsAdjusted event goes to the outbox (and so to the archive).
        """
        if members.lock(tx, member_id) is None:
            raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
        if points > 0:
            posting = ledger.credit(
                tx, member_id, "ADJUST", points, reason, lot_lifetime=self.lot_lifetime(), created_by=admin, now=now
            )
        else:
            posting = ledger.debit(tx, member_id, "ADJUST", -points, reason, created_by=admin, now=now)
        outbox.add(
            tx,
            "PointsAdjusted",
            member_id,
            {
                "member_id": str(member_id),
                "points": points,
                "balance": posting.balance,
                "ledger_entry_id": str(posting.entry.id),
            },
        )
        return posting
