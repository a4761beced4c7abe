"""Where a member stands: balance, tier progress, what expires soon (GET /prod/points, admin customer)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ..platform.db import Tx
from ..platform.errors import NotFound
from . import ledger_repository as ledger
from . import lot_repository as lots
from . import purchase_repository as purchases
from . import tier_repository
from .models import PendingPoints, Standing
from .tier_policy import TierPolicy

# GET /prod/points lists what expires within this many days.
EXPIRING_WINDOW_DAYS = 90


def read_standing(tx: Tx, policy: TierPolicy, member_id: UUID, now: datetime | None) -> Standing:
    balance = ledger.balance_of(tx, member_id)
    if balance is None:
        raise NotFound("Unknown member.", code="MEMBER_NOT_FOUND")
    qualifying = tier_repository.qualifying_points(tx, member_id, now, policy.window_days)
    next_tier, missing = policy.next_tier(qualifying)
    pending = [PendingPoints(at, points) for at, points in purchases.pending_by_vest(tx, member_id)]
    return Standing(
        member_id=member_id,
        balance=int(balance["balance"]),
        lifetime_earned=int(balance["lifetime_earned"]),
        tier=balance["tier"],
        qualifying_points=qualifying,
        next_tier=next_tier,
        points_to_next_tier=missing,
        earn_multiplier=policy.multiplier(balance["tier"]),
        expiring=lots.expiring_by_day(tx, member_id, now, EXPIRING_WINDOW_DAYS),
        pending=sum(p.points for p in pending),
        pending_lots=pending,
    )
