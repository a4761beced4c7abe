"""The tier rule and the earning rule: the one place both live (Python for one member, SQL for batches).

Qualifying points are the EARN points credited in the trailing `window_days` (default 365); BONUS
(signup), REFUND and ADJUST never qualify. BRONZE below `silver`, SILVER from it, GOLD from `gold`.
A purchase earns floor(amount_usd * points_per_usd * multiplier) with the multiplier of the tier the
member holds *before* that purchase, computed in Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..platform.config import Settings
from .models import TIERS, Tier


@dataclass(frozen=True)
class TierPolicy:
    silver: int
    gold: int
    window_days: int
    points_per_usd: int
    multipliers: dict[Tier, Decimal]

    @classmethod
    def of(cls, settings: Settings) -> TierPolicy:
        return cls(
            silver=settings.silver_threshold,
            gold=settings.gold_threshold,
            window_days=settings.tier_window_days,
            points_per_usd=settings.points_per_usd,
            multipliers={
                "BRONZE": settings.bronze_multiplier,
                "SILVER": settings.silver_multiplier,
                "GOLD": settings.gold_multiplier,
            },
        )

    def tier_for(self, qualifying: int) -> Tier:
        if qualifying >= self.gold:
            return "GOLD"
        if qualifying >= self.silver:
            return "SILVER"
        return "BRONZE"

    def sql_tier(self, qualifying_expr: str) -> str:
        """`tier_for` as a SQL expression over `qualifying_expr`; bind `sql_params()` with it."""
        return (
            f"CASE WHEN {qualifying_expr} >= :tier_gold THEN 'GOLD' "
            f"WHEN {qualifying_expr} >= :tier_silver THEN 'SILVER' ELSE 'BRONZE' END"
        )

    def sql_params(self) -> dict[str, Any]:
        return {"tier_gold": self.gold, "tier_silver": self.silver, "tier_window_days": self.window_days}

    def next_tier(self, qualifying: int) -> tuple[Tier | None, int | None]:
        """The next tier up and the qualifying points still missing (None, None at the top)."""
        if qualifying < self.silver:
            return "SILVER", self.silver - qualifying
        if qualifying < self.gold:
            return "GOLD", self.gold - qualifying
        return None, None

    def multiplier(self, tier: Tier) -> Decimal:
        return self.multipliers[tier]

    def points_for(self, amount_usd: Decimal, tier: Tier) -> int:
        """floor(amount * points_per_usd * multiplier), exact decimal arithmetic (never float)."""
        exact = amount_usd * Decimal(self.points_per_usd) * self.multiplier(tier)
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    @staticmethod
    def rank(tier: Tier) -> int:
        return TIERS.index(tier)
