"""Earning: partners report purchases (POST /partner/purchases), members earn points.

One transaction per report, in as few statements as the invariants allow:
  1. find the member (customer_id or email; unknown: 404 MEMBER_NOT_FOUND, never created here);
  2. lock the member row (the ledger's lock order starts here);
  3. one statement reads the purchase's instant, a previous report of the same (partner,
     external_id) (a repeat replays the stored answer, 200; another member or amount is 409
     PURCHASE_CONFLICT), the qualifying points, whether this is the member's first purchase and the
     promotions running (with what is left of the member's cap and of their budgets);
  4. base points = floor(amount_usd x points_per_usd x multiplier of the tier held before), then
     the promotions it earns (promotion_policy: best exclusive or every stackable one, cut to caps);
  5. only if a budgeted promotion applies: one statement locks those promotion rows (id order) and
     takes the points from their budgets (never more than is left);
  6. points pending (POINTS_PENDING_DAYS > 0): nothing moves in the ledger yet; else one statement
     posts every part (a ledger row and a lot each: EARN for the base, PROMOTION per promotion) and
     updates balance, lifetime_earned and tier;
  7. one statement writes the purchase row, its credits (PENDING or POSTED) and its outbox event.
Statements per new purchase: START, lock, context, [budgets], [credit], purchase, COMMIT: 5 pending
or 6 credited at once, plus 1 when a budgeted promotion applies (plus 1 when the member is given by
email). Concurrent repeats serialise on the member row lock, so exactly one credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from ..members import repository as members
from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.errors import Conflict, NotFound, ValidationFailed
from . import ledger_repository as ledger
from . import promotion_policy, tier_repository
from . import promotion_repository as promotions
from . import purchase_repository as purchases
from .models import CreditPart, LedgerEntry, PromotionAward, Purchase, RecordedPurchase
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
            locked, ctx = purchases.lock_member_with_context(  # one round trip
                tx, partner_id, request.external_id, member_id, now, self._policy.window_days
            )
            if locked is None:
                raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
            if ctx.existing is not None:
                return self._replay(tx, ctx.existing, member_id, request)

            tier = self._policy.tier_for(ctx.qualifying)
            base = self._policy.points_for(request.amount_usd, tier)
            facts = promotion_policy.PurchaseFacts(request.amount_usd, request.store_id, tier, ctx.first_purchase, base)
            offers = promotion_policy.offers(ctx.promotions, facts)
            granted = promotions.grant_budgets(tx, {o.promotion.id: o.points for o in offers if o.promotion.budgeted})
            awards = [
                PromotionAward(o.promotion.id, o.promotion.name, granted.get(o.promotion.id, o.points)) for o in offers
            ]
            awards = [a for a in awards if a.points > 0]
            parts = self._parts(partner_id, request, base, awards)
            points = base + sum(a.points for a in awards)

            pending_days = self._settings.points_pending_days
            lifetime = timedelta(days=self._settings.lot_lifetime_days)
            vests_at = ctx.at + timedelta(days=pending_days) if pending_days and points else None
            entries: list[LedgerEntry] = []
            # The tier after the purchase is the one its qualifying points give, not the member row's: points
            # may have left the window since the tier job last ran (then the purchase was priced at the lower
            # tier, and its answer and the member row must say so too).
            balance, tier_after = locked.balance, tier
            if points and vests_at is None:
                tier_after = self._policy.tier_for(ctx.qualifying + points)
                # A unique violation here (the same external_id for another member, credited by a transaction that
                # committed while this one waited on the ledger's natural key) is PURCHASE_NATURAL_KEYS' 409.
                entries, balance = ledger.credit_parts(
                    tx,
                    member_id,
                    parts,
                    at=ctx.at,
                    lot_lifetime=lifetime,
                    created_by=f"partner:{partner_id}",
                    tier=tier_after if tier_after != locked.tier else None,
                )
            elif tier_after != locked.tier:
                tier_repository.refresh_tier(tx, member_id, ctx.at, self._policy)
            base_entry = self._base_entry(parts, entries, member_id, ctx.at, vests_at)
            event_type = "PointsPending" if vests_at else "PointsEarned"
            row = purchases.insert(
                tx,
                purchases.NewPurchase(
                    id=uuid4(),
                    partner_id=partner_id,
                    external_id=request.external_id,
                    member_id=member_id,
                    amount_usd=request.amount_usd,
                    tier=tier,
                    multiplier=self._policy.multiplier(tier),
                    points=points,
                    base_points=base,
                    ledger_entry_id=base_entry.id if base_entry and vests_at is None else None,
                    balance_after=balance,
                    tier_after=tier_after,
                    store_id=request.store_id,
                    occurred_at=request.occurred_at,
                    vests_at=vests_at,
                ),
                parts,
                status="PENDING" if vests_at else "POSTED",
                credited_at=ctx.at,
                lot_expires_at=vests_at + lifetime if vests_at else None,
                event=(
                    event_type,
                    {
                        "member_id": str(member_id),
                        "points": points,
                        "base_points": base,
                        "promotion_points": [
                            {"promotion_id": str(a.promotion_id), "name": a.name, "points": a.points} for a in awards
                        ],
                        "balance": balance,
                        "tier": tier_after,
                        "previous_tier": locked.tier,
                        "partner_id": str(partner_id),
                        "external_id": request.external_id,
                        "amount_usd": str(request.amount_usd),
                        "ledger_entry_id": str(base_entry.id) if base_entry and vests_at is None else None,
                        "vests_at": vests_at.isoformat() if vests_at else None,
                    },
                )
                if points
                else None,
            )
            if row is None:  # the same external_id for another member committed meanwhile
                raise _purchase_conflict()
            return RecordedPurchase(True, row, base_entry, awards)

    @staticmethod
    def _parts(partner_id: UUID, request: PurchaseReport, base: int, awards: list[PromotionAward]) -> list[CreditPart]:
        """The purchase's credits: the base points (EARN) and each promotion's points (PROMOTION), each
        with the natural key its ledger row will carry."""
        parts = []
        if base > 0:
            parts.append(
                CreditPart(
                    uuid4(),
                    "EARN",
                    base,
                    EarningService._description(request),
                    f"purchase:{partner_id}:{request.external_id}",
                )
            )
        for award in awards:
            parts.append(
                CreditPart(
                    uuid4(),
                    "PROMOTION",
                    award.points,
                    f"Promotion: {award.name} ({request.external_id})",
                    f"promotion:{award.promotion_id}:{partner_id}:{request.external_id}",
                    award.promotion_id,
                )
            )
        return parts

    @staticmethod
    def _base_entry(
        parts: list[CreditPart],
        entries: list[LedgerEntry],
        member_id: UUID,
        at: datetime,
        vests_at: datetime | None,
    ) -> LedgerEntry | None:
        """The base credit as the answer shows it: its ledger row, or the pending credit."""
        base = next((p for p in parts if p.entry_type == "EARN"), None)
        if base is None:
            return None
        if vests_at is None:
            return next(e for e in entries if e.id == base.id)
        return LedgerEntry(base.id, member_id, "EARN", base.points, base.description, None, at, "PENDING", vests_at)

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
        """The first answer again, rebuilt from what never changes: the purchase row, its base credit
        as first written (ledger row, or pending credit as it was then) and its promotion awards."""
        if row.member_id != member_id or row.amount_usd != request.amount_usd:
            raise Conflict(
                "This external_id was already reported for a different purchase (another member or amount).",
                code="PURCHASE_CONFLICT",
            )
        entry: LedgerEntry | None = None
        if row.ledger_entry_id is not None:
            entry = ledger.get_for_member(tx, row.member_id, row.ledger_entry_id)
        elif row.vests_at is not None and row.base_points > 0:
            entry = purchases.pending_base_credit(tx, row.id)
        awards = purchases.awards(tx, row.id) if row.points > row.base_points else []
        return RecordedPurchase(False, row, entry, awards)
