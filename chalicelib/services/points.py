from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from ..config import Settings
from ..db import Database, Tx
from ..errors import NotFound
from ..models import (
    AdjustmentRequest,
    AdjustmentResult,
    ExpiringPoints,
    LedgerEntry,
    Member,
    PointsSummary,
    TransactionDetail,
    TransactionItem,
    Transaction,
)
from ..repositories import ledger, lots, members, tiers
from .tiers import TierPolicy

# GET /prod/points lists what expires within this many days.
EXPIRING_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Standing:
    """A member with where they stand: qualifying points, the next tier, what expires soon."""

    member: Member
    qualifying_points: int
    next_tier: str | None
    points_to_next_tier: int | None
    expiring: list[ExpiringPoints]


def read_standing(db: Database, policy: TierPolicy, member_id: UUID, now: datetime | None,
                  not_found: str) -> Standing:
    """Shared by the member's GET /prod/points and the admin's GET /customers/{id}."""
    with db.reader() as tx:
        member = members.get(tx, member_id)
        if member is None:
            raise NotFound(not_found, code="MEMBER_NOT_FOUND")
        qualifying = tiers.qualifying_points(tx, member_id, now, policy.window_days)
        expiring = lots.expiring_by_day(tx, member_id, now, EXPIRING_WINDOW_DAYS)
    next_tier, missing = policy.next_tier(qualifying)
    return Standing(member, qualifying, next_tier, missing,
                    [ExpiringPoints(date=day, points=points) for day, points in expiring])


class PointsService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._policy = TierPolicy.of(settings)

    def summary(self, member_id: UUID, *, now: datetime | None = None) -> PointsSummary:
        """Balance (`points`), lifetime earned, tier and progress, what expires in the next 90 days."""
        standing = read_standing(self._db, self._policy, member_id, now, "Unknown member.")
        member = standing.member
        return PointsSummary(
            points=member.balance,
            lifetime_earned=member.lifetime_earned,
            tier=member.tier,
            qualifying_points=standing.qualifying_points,
            next_tier=standing.next_tier,  # type: ignore[arg-type]
            points_to_next_tier=standing.points_to_next_tier,
            earn_multiplier=float(self._policy.multiplier(member.tier)),
            expiring=standing.expiring,
        )

    def history(self, member_id: UUID, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
        with self._db.reader() as tx:
            return ledger.list_for_member(tx, member_id, limit, cursor)

    def transaction(self, member_id: UUID, entry_id: UUID) -> TransactionDetail:
        """Someone else's entry is indistinguishable from a missing one: 404 either way."""
        with self._db.reader() as tx:
            entry = ledger.get_for_member(tx, member_id, entry_id)
            if entry is None:
                raise NotFound("Unknown transaction.", code="TRANSACTION_NOT_FOUND")
            items: list[TransactionItem] = ledger.items_of_order(tx, entry.order_id) if entry.order_id else []
        return TransactionDetail(**Transaction.of(entry).model_dump(), items=items)

    def lot_lifetime(self) -> timedelta:
        return timedelta(days=self._settings.lot_lifetime_days)

    def adjust(self, tx: Tx, admin: str, request: AdjustmentRequest, *, now: datetime | None = None) -> AdjustmentResult:
        """An admin's correction, inside the caller's (idempotency) transaction.

        Positive: an ADJUST credit forming a new lot (expires like any lot). Negative: an ADJUST
        debit through the shared spend path (lapsed lots expire first, soonest-expiring lots are
        taken first); never below zero (InsufficientPoints, 409). The admin is `created_by`.
        """
        if members.lock(tx, request.customer_id) is None:
            raise NotFound("Unknown customer.", code="MEMBER_NOT_FOUND")
        description = request.description
        if request.points > 0:
            posting = ledger.credit(tx, request.customer_id, "ADJUST", request.points, description,
                                    lot_lifetime=self.lot_lifetime(), created_by=admin, now=now)
        else:
            posting = ledger.debit(tx, request.customer_id, "ADJUST", -request.points, description,
                                   created_by=admin, now=now)
        return AdjustmentResult(transaction=Transaction.of(posting.entry), balance=posting.balance)
