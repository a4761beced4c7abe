"""Admin reports. Liability: points members hold (what the program owes) and when they expire."""

from __future__ import annotations

from datetime import datetime

from ..platform.db import Database
from ..platform.jobs import db_now
from . import lot_repository as lots
from .models import TIERS, ExpiringWithin, Liability, TierLiability

WINDOWS = (30, 60, 90)


class ReportService:
    def __init__(self, db: Database):
        self._db = db

    def liability(self, *, now: datetime | None = None) -> Liability:
        """One consistent snapshot (a single statement). Expiry windows are cumulative and start
        after `now`; points whose lots already lapsed but that the daily job has not expired yet
        are `lapsed_pending_points` (still in the balance, no longer spendable). `pending_points` are
        earned but not vested (not in the balance yet); `uncollected_points` are what returns could
        not take back because the members had spent them (policy within_balance)."""
        now = now or db_now(self._db)
        with self._db.reader() as tx:
            rows = {r["tier"]: r for r in lots.liability_by_tier(tx, now, WINDOWS)}
        empty = {
            "members": 0,
            "holders": 0,
            "outstanding": 0,
            "lapsed": 0,
            "pending": 0,
            "uncollected": 0,
            **{f"within_{d}": 0 for d in WINDOWS},
        }
        by_tier = []
        for tier in TIERS:
            r = rows.get(tier) or empty
            by_tier.append(
                TierLiability(
                    tier=tier,
                    members=int(r["members"]),
                    members_with_points=int(r["holders"]),
                    outstanding_points=int(r["outstanding"]),
                    lapsed_pending_points=int(r["lapsed"]),
                    expiring_within=ExpiringWithin(
                        days_30=int(r["within_30"]), days_60=int(r["within_60"]), days_90=int(r["within_90"])
                    ),
                    pending_points=int(r["pending"]),
                    uncollected_points=int(r["uncollected"]),
                )
            )
        return Liability(
            as_of=now,
            outstanding_points=sum(t.outstanding_points for t in by_tier),
            members_with_points=sum(t.members_with_points for t in by_tier),
            lapsed_pending_points=sum(t.lapsed_pending_points for t in by_tier),
            expiring_within=ExpiringWithin(
                days_30=sum(t.expiring_within.days_30 for t in by_tier),
                days_60=sum(t.expiring_within.days_60 for t in by_tier),
                days_90=sum(t.expiring_within.days_90 for t in by_tier),
            ),
            by_tier=by_tier,
            pending_points=sum(t.pending_points for t in by_tier),
            uncollected_points=sum(t.uncollected_points for t in by_tier),
        )
