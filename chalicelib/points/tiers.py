"""The nightly tier job: every member's tier from their trailing qualifying points (downgrades too).

The tier is also kept current in the earning transaction; this job catches members whose
qualifying EARN rows aged out of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ..platform.config import Settings
from ..platform.db import Database
from ..platform.jobs import Progress, ShouldStop, db_now
from ..platform.logs import get_logger
from . import tier_repository
from .models import Tier
from .tier_policy import TierPolicy

log = get_logger(__name__)


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

    def recompute_all(
        self,
        *,
        now: datetime | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> TierReport:
        """Every member's tier from their qualifying points as of `now`, in member-id batches.

        Each batch reads without locks, then locks only the members whose tier is stale and
        recomputes them under the lock (its own short transaction), so a purchase credited
        meanwhile is never overwritten by a stale tier. Safe to run twice or concurrently.
        """
        now = now or db_now(self._db)
        size = batch_size or self._settings.points_job_batch_size
        report = TierReport()
        after = UUID(int=0)
        while not (should_stop and should_stop()):
            with self._db.reader() as tx:
                stale, last, looked_at = tier_repository.stale_in_batch(tx, after, size, now, self.policy)
            if not looked_at:
                break
            changes: list[tuple[UUID, Tier, Tier]] = []
            if stale:
                with self._db.transaction() as tx:
                    changes = tier_repository.apply_tiers(tx, stale, now, self.policy)
            report.batches += 1
            report.checked += looked_at
            report.changed += len(changes)
            for member_id, old, new in changes:
                if TierPolicy.rank(new) > TierPolicy.rank(old):
                    report.upgrades += 1
                else:
                    report.downgrades += 1
                log.info(
                    "tier changed",
                    extra={"job": "recompute_tiers", "member_id": str(member_id), "old_tier": old, "new_tier": new},
                )
            if progress:
                progress(report)
            assert last is not None
            after = last
            if looked_at < size:
                break
        return report
