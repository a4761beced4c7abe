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
        are `lapsed_pending_points` (still in the balance, no longer spendable)."""
        now = now or db_now(self._db)
        with self._db.reader() as tx:
            rows = {r["tier"]: r for r in lots.liability_by_tier(tx, now, WINDOWS)}
        empty = {"members": 0, "holders": 0, "outstanding": 0, "lapsed": 0, **{f"within_{d}": 0 for d in WINDOWS}}
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
        )
