"""Which promotions a purchase earns, and how many points each: the rule in one pure function.

- A promotion applies to a purchase recorded in [starts_at, ends_at) (the first second counts, the
  instant it ends does not) while active, if every condition it sets holds: the purchase's store
  is one of `store_ids`, the member's tier before the purchase is one of `tiers`, the amount is at
  least `min_amount_usd`, and (`first_purchase_only`) it is the member's first reported purchase.
- MULTIPLIER m pays floor(base x (m - 1)) on top of the base points, so the purchase earns m x base
  in total ("2.0" doubles it); BONUS pays its fixed `bonus_points`.
- Each offer is first cut to what is left of the member's cap and of the budget (as read before the
  purchase locks the budget: the grant re-checks it under the lock and may pay less).
- Stacking: the best EXCLUSIVE offer (most points; ties: lowest id) if it pays strictly more than all
  STACKABLE offers together, else every STACKABLE offer. Never both kinds on one purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from .models import RunningPromotion, Tier


@dataclass(frozen=True, slots=True)
class PurchaseFacts:
    amount_usd: Decimal
    store_id: str | None
    tier: Tier  # held before the purchase
    first_purchase: bool
    base_points: int


@dataclass(frozen=True, slots=True)
class Offer:
    promotion: RunningPromotion
    points: int  # wanted: after the member's cap and the budget estimate


def applies(promotion: RunningPromotion, facts: PurchaseFacts) -> bool:
    if promotion.store_ids is not None and facts.store_id not in promotion.store_ids:
        return False
    if promotion.tiers is not None and facts.tier not in promotion.tiers:
        return False
    if promotion.min_amount_usd is not None and facts.amount_usd < promotion.min_amount_usd:
        return False
    return not (promotion.first_purchase_only and not facts.first_purchase)


def full_points(promotion: RunningPromotion, base_points: int) -> int:
    """What the promotion pays on these base points, before caps and budget."""
    if promotion.kind == "BONUS":
        assert promotion.bonus_points is not None
        return promotion.bonus_points
    assert promotion.multiplier is not None
    extra = Decimal(base_points) * (promotion.multiplier - 1)
    return int(extra.to_integral_value(rounding=ROUND_FLOOR))


def offers(running: list[RunningPromotion], facts: PurchaseFacts) -> list[Offer]:
    """The offers to grant on this purchase, in promotion id order (the order their budgets are locked)."""
    candidates: list[Offer] = []
    for promotion in running:
        if not applies(promotion, facts):
            continue
        points = full_points(promotion, facts.base_points)
        if promotion.cap_left is not None:
            points = min(points, promotion.cap_left)
        if promotion.budget_left is not None:
            points = min(points, promotion.budget_left)
        if points > 0:
            candidates.append(Offer(promotion, points))
    exclusive = [o for o in candidates if o.promotion.stacking == "EXCLUSIVE"]
    stackable = sorted(
        (o for o in candidates if o.promotion.stacking == "STACKABLE"), key=lambda o: str(o.promotion.id)
    )
    if exclusive:
        best = min(exclusive, key=lambda o: (-o.points, str(o.promotion.id)))
        if best.points > sum(o.points for o in stackable):
            return [best]
    return stackable
