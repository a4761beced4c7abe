"""Earning: partners report purchases (POST /partner/purchases), members earn points.

One transaction per report:
  1. find the member (customer_id or email; unknown: 404 MEMBER_NOT_FOUND, never created here);
  2. lock the member row (ledger lock order), then look for (partner, external_id): a repeat of the
     same purchase replays the stored result (200, same body); the same external_id with another
     member or amount is 409 PURCHASE_CONFLICT;
  3. qualifying points before this purchase -> tier -> multiplier;
     points = floor(amount_usd * points_per_usd * multiplier) in Decimal;
  4. points > 0: ledger.credit EARN (a lot expiring after lot_lifetime_days), external_ref
     'purchase:<partner id>:<external_id>' (unique: the last line of defence); a purchase that rounds
     to 0 points is recorded with no ledger row (ledger points are never 0) and answered 201;
  5. new tier from qualifying + points; the purchase row; a PointsEarned outbox event.
Concurrent repeats serialise on the member row lock, so exactly one credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ..events import outbox
from ..members import repository as members
from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.errors import Conflict, NotFound, ValidationFailed
from . import ledger_repository as ledger
from . import purchase_repository as purchases
from . import tier_repository
from .models import LedgerEntry, Purchase, RecordedPurchase
from .tier_policy import TierPolicy

# A partner's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)


def _purchase_conflict() -> Conflict:
    return Conflict("This external_id was already reported for a different purchase.", code="PURCHASE_CONFLICT")


# A report of one (partner, external_id) for two members at once: the members' row locks do not
# serialise them, so the loser waits on one of these unique keys and then fails on it. Either way it is
# the same answer as when the winner had committed before: 409 PURCHASE_CONFLICT.
PURCHASE_NATURAL_KEYS = {
    "ledger_external_ref": _purchase_conflict,  # the EARN row's 'purchase:<partner>:<external_id>'
    "partner_purchases_natural_key": _purchase_conflict,
}


@dataclass(frozen=True, slots=True)
class PurchaseReport:
    """What a store partner reports: the member by id or email, the partner's own id of the purchase."""

    external_id: str
    amount_usd: Decimal
    customer_id: UUID | None = None
    email: str | None = None
    store_id: str | None = None
    occurred_at: datetime | None = None


class EarningService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._policy = TierPolicy.of(settings)

    def record(self, partner_id: UUID, request: PurchaseReport, *, now: datetime | None = None) -> RecordedPurchase:
        self._validate(request, now)
        with self._db.transaction(natural_keys=PURCHASE_NATURAL_KEYS) as tx:
            member_id = self._member(tx, request)
            locked = members.lock(tx, member_id)
            if locked is None:
                raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
            existing = purchases.get(tx, partner_id, request.external_id)
            if existing is not None:
                return self._replay(tx, existing, member_id, request)

            qualifying = tier_repository.qualifying_points(tx, member_id, now, self._policy.window_days)
            tier = self._policy.tier_for(qualifying)
            multiplier = self._policy.multiplier(tier)
            points = self._policy.points_for(request.amount_usd, tier)
            entry = None
            balance = locked.balance
            if points > 0:
                posting = ledger.credit(
                    tx,
                    member_id,
                    "EARN",
                    points,
                    self._description(request),
                    lot_lifetime=timedelta(days=self._settings.lot_lifetime_days),
                    external_ref=f"purchase:{partner_id}:{request.external_id}",
                    created_by=f"partner:{partner_id}",
                    now=now,
                )
                entry, balance = posting.entry, posting.balance
            tier_after = self._policy.tier_for(qualifying + points)
            if tier_after != locked.tier:
                members.set_tier(tx, member_id, tier_after)
            row = purchases.insert(
                tx,
                partner_id=partner_id,
                external_id=request.external_id,
                member_id=member_id,
                amount_usd=request.amount_usd,
                tier=tier,
                multiplier=multiplier,
                points=points,
                ledger_entry_id=entry.id if entry else None,
                balance_after=balance,
                tier_after=tier_after,
                store_id=request.store_id,
                occurred_at=request.occurred_at,
            )
            if row is None:  # the same external_id for another member committed meanwhile
                raise _purchase_conflict()
            if points > 0:
                outbox.add(
                    tx,
                    "PointsEarned",
                    member_id,
                    {
                        "member_id": str(member_id),
                        "points": points,
                        "balance": balance,
                        "tier": tier_after,
                        "previous_tier": locked.tier,
                        "partner_id": str(partner_id),
                        "external_id": request.external_id,
                        "amount_usd": str(request.amount_usd),
                        "ledger_entry_id": str(entry.id) if entry else None,
                    },
                )
            return RecordedPurchase(True, row, entry)

    # -- helpers -----------------------------------------------------------------------------
    def _validate(self, request: PurchaseReport, now: datetime | None) -> None:
        maximum = self._settings.max_purchase_usd
        if request.amount_usd > maximum:
            raise ValidationFailed(
                f"amount_usd must be at most {maximum}.",
                details=[{"field": "amount_usd", "message": f"must be at most {maximum}"}],
            )
        if request.occurred_at is not None:
            reference = now or datetime.now(UTC)
            if request.occurred_at > reference + CLOCK_SKEW:
                raise ValidationFailed(
                    "occurred_at is in the future.",
                    details=[{"field": "occurred_at", "message": "must not be in the future"}],
                )

    @staticmethod
    def _member(tx: Tx, request: PurchaseReport) -> UUID:
        if request.customer_id is not None:
            return request.customer_id
        assert request.email is not None
        found = members.find_id_by_email(tx, request.email)
        if found is None:
            raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
        return found

    @staticmethod
    def _description(request: PurchaseReport) -> str:
        where = f" at store {request.store_id}" if request.store_id else ""
        return f"Purchase ${request.amount_usd}{where} ({request.external_id})"

    @staticmethod
    def _replay(tx: Tx, row: Purchase, member_id: UUID, request: PurchaseReport) -> RecordedPurchase:
        if row.member_id != member_id or row.amount_usd != request.amount_usd:
            raise Conflict(
                "This external_id was already reported for a different purchase (another member or amount).",
                code="PURCHASE_CONFLICT",
            )
        entry: LedgerEntry | None = None
        if row.ledger_entry_id is not None:
            entry = ledger.get_for_member(tx, row.member_id, row.ledger_entry_id)
        return RecordedPurchase(False, row, entry)
