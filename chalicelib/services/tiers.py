"""Tiers and the earning rule.

Qualifying points are the EARN points credited in the trailing `tier_window_days` (default 365);
BONUS (signup), REFUND and ADJUST never qualify. BRONZE below `silver_threshold`, SILVER from it,
GOLD from `gold_threshold`. A purchase earns floor(amount_usd * points_per_usd * multiplier) with
the multiplier of the tier the member holds *before* that purchase, computed in Decimal.
The tier is kept current in the earning transaction and by the nightly job (which also downgrades
members whose qualifying EARN rows have aged out of the window).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from uuid import UUID

from ..config import Settings
from ..db import Database
from ..logs import get_logger
from ..repositories import tiers as tier_repo
from .job_runner import Progress, ShouldStop, db_now

log = get_logger(__name__)

TIERS = ("BRONZE", "SILVER", "GOLD")


@dataclass(frozen=True)
class TierPolicy:
    silver: int
    gold: int
    window_days: int
    points_per_usd: int
    multipliers: dict[str, Decimal]

    @classmethod
    def of(cls, settings: Settings) -> "TierPolicy":
        return cls(
            silver=settings.silver_threshold,
            gold=settings.gold_threshold,
            window_days=settings.tier_window_days,
            points_per_usd=settings.points_per_usd,
            multipliers={"BRONZE": settings.bronze_multiplier, "SILVER": settings.silver_multiplier,
                         "GOLD": settings.gold_multiplier},
        )

    @property
    def thresholds(self) -> tier_repo.Thresholds:
        return tier_repo.Thresholds(self.silver, self.gold, self.window_days)

    def tier_for(self, qualifying: int) -> str:
        if qualifying >= self.gold:
            return "GOLD"
        if qualifying >= self.silver:
            return "SILVER"
        return "BRONZE"

    def next_tier(self, qualifying: int) -> tuple[str | None, int | None]:
        """The next tier up and the qualifying points still missing (None, None at GOLD)."""
        if qualifying < self.silver:
            return "SILVER", self.silver - qualifying
        if qualifying < self.gold:
            return "GOLD", self.gold - qualifying
        return None, None

    def multiplier(self, tier: str) -> Decimal:
        return self.multipliers[tier]

    def points_for(self, amount_usd: Decimal, tier: str) -> int:
        """floor(amount * points_per_usd * multiplier), exact decimal arithmetic (never float)."""
        exact = amount_usd * Decimal(self.points_per_usd) * self.multiplier(tier)
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class TierReport:
    checked: int = 0
    changed: int = 0
    upgrades: int = 0
    downgrades: int = 0
    batches: int = 0


class TierService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self.policy = TierPolicy.of(settings)

    def recompute_all(self, *, now: datetime | None = None, batch_size: int | None = None,
                      progress: Progress | None = None, should_stop: ShouldStop | None = None) -> TierReport:
        """Every member's tier from their qualifying points as of `now`, in member-id batches.

        Each batch reads without locks, then locks only the members whose tier is stale and
        recomputes them under the lock (its own short transaction), so a purchase credited
        meanwhile is never overwritten by a stale tier. Safe to run twice or concurrently.
        """
        now = now or db_now(self._db)
        size = batch_size or self._settings.points_job_batch_size
        ranks = {t: i for i, t in enumerate(TIERS)}
        report = TierReport()
        after = UUID(int=0)
        while not (should_stop and should_stop()):
            with self._db.reader() as tx:
                stale, last, looked_at = tier_repo.stale_in_batch(tx, after, size, now, self.policy.thresholds)
            if not looked_at:
                break
            changes: list[tuple[UUID, str, str]] = []
            if stale:
                with self._db.transaction() as tx:
                    changes = tier_repo.apply_tiers(tx, stale, now, self.policy.thresholds)
            report.batches += 1
            report.checked += looked_at
            report.changed += len(changes)
            for member_id, old, new in changes:
                if ranks[new] > ranks[old]:
                    report.upgrades += 1
                else:
                    report.downgrades += 1
                log.info("tier changed", extra={"job": "recompute_tiers", "member_id": str(member_id),
                                                "old_tier": old, "new_tier": new})
            if progress:
                progress(report)
            assert last is not None
            after = last
            if looked_at < size:
                break
        return report
