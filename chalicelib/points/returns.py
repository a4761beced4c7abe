"""Returns: a partner reports that (part of) a purchase came back (POST /partner/purchases/{external_id}/returns)
and the member loses exactly the points those goods earned.

One transaction per return:
  1. the purchase by its natural key (partner, external_id); another partner's is unknown (404);
  2. lock the member row and settle it as of now (due pending credits vest, lapsed lots expire:
     `ledger.lock_and_settle`, the same step every spend takes), so a return at the vesting instant
     finds the points posted, a microsecond before it finds them pending;
  3. read this return_id (a repeat replays, another amount is 409 RETURN_CONFLICT) and what the
     purchase had returned so far; more than the purchase in total is 409 RETURN_EXCEEDS_PURCHASE;
  4. cumulative rounding: after this return the purchase has given back
     floor(points x amount_returned_so_far / amount) in total (points: everything the purchase earned,
     promotions included), so this return owes that minus what earlier returns settled;
  5. taken from the purchase's own pending credits first (cancelled: no shortfall possible), then
     its own lots, then the member's other lots soonest-expiring first (one RETURN ledger row);
     what the member already spent is the policy's: `within_balance` records it as uncollected,
     `block` refuses the return (409 RETURN_WOULD_OVERDRAW, nothing written);
  6. the return row and a PointsReturned outbox event; the tier is recomputed when lots paid.
Returns of one purchase serialise on the member row lock, so concurrent returns add up exactly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from ..platform.config import Settings
from ..platform.db import Database
from ..platform.errors import NotFound, ReturnConflict, ReturnExceedsPurchase, ReturnWouldOverdraw
from . import ledger_repository as ledger
from . import purchase_repository as purchases
from . import return_repository as returns
from . import tier_repository
from .models import LedgerEntry, PurchaseReturn, RecordedReturn
from .tier_policy import TierPolicy


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def points_owed(points: int, amount: Decimal, returned: Decimal) -> int:
    """What a purchase worth `points` for `amount` gives back in total once `returned` of it came back:
    floor(points x returned / amount), in exact integer arithmetic."""
    return points * cents(returned) // cents(amount)


class ReturnService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._policy = TierPolicy.of(settings)

    def record(
        self,
        partner_id: UUID,
        external_id: str,
        return_id: str,
        amount_usd: Decimal,
        *,
        now: datetime | None = None,
    ) -> RecordedReturn:
        # No MAX_PURCHASE_USD check: a return cannot exceed its purchase (409), which was within it.
        with self._db.transaction() as tx:
            purchase = purchases.get(tx, partner_id, external_id)
            if purchase is None:
                raise NotFound("Unknown purchase.", code="PURCHASE_NOT_FOUND")
            member_id = purchase.member_id
            at = ledger.lock_and_settle(tx, member_id, now, why="return")
            assert at is not None, "a purchase's member always exists"
            ctx = returns.context(tx, purchase.id, return_id)
            if ctx.existing is not None:
                if ctx.existing.amount_usd != amount_usd:
                    raise ReturnConflict("This return_id was already reported with another amount.")
                return RecordedReturn(False, ctx.existing, external_id)
            returned = ctx.amount_returned + amount_usd
            if returned > purchase.amount_usd:
                left = purchase.amount_usd - ctx.amount_returned
                raise ReturnExceedsPurchase(
                    f"Returns would exceed the purchase: ${left} of ${purchase.amount_usd} is left to return."
                )
            owed = points_owed(purchase.points, purchase.amount_usd, returned) - ctx.points_settled
            from_pending = purchases.cancel_pending(tx, purchase.id, owed) if owed > 0 else 0
            rest = owed - from_pending
            entry: LedgerEntry | None = None
            taken = 0
            if rest > 0:
                entry, taken, balance = ledger.take_back(
                    tx,
                    member_id,
                    rest,
                    f"Return {return_id} of purchase {external_id} (${amount_usd})",
                    own_entries=ctx.own_entries,
                    external_ref=f"return:{purchase.id}:{return_id}",
                    created_by=f"partner:{partner_id}",
                    at=at,
                )
                if taken < rest and self._settings.return_policy == "block":
                    raise ReturnWouldOverdraw(
                        f"The member has already spent {rest - taken} of the {owed} points this return takes back."
                    )
                if taken:
                    tier_repository.refresh_tier(tx, member_id, at, self._policy)
            else:
                state = ledger.balance_of(tx, member_id)
                assert state is not None
                balance = int(state["balance"])
            record = PurchaseReturn(
                id=uuid4(),
                purchase_id=purchase.id,
                member_id=member_id,
                return_id=return_id,
                amount_usd=amount_usd,
                points_reversed=from_pending + taken,
                points_from_pending=from_pending,
                points_uncollected=rest - taken,
                ledger_entry_id=entry.id if entry else None,
                balance_after=balance,
                created_at=at,
            )
            saved = returns.insert(
                tx,
                record,
                {
                    "member_id": str(member_id),
                    "partner_id": str(partner_id),
                    "external_id": external_id,
                    "return_id": return_id,
                    "amount_usd": str(amount_usd),
                    "points_reversed": record.points_reversed,
                    "points_from_pending": from_pending,
                    "points_uncollected": record.points_uncollected,
                    "balance": balance,
                    "ledger_entry_id": str(entry.id) if entry else None,
                },
            )
            return RecordedReturn(True, saved, external_id)
