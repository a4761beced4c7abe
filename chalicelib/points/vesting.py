"""Vesting of pending points (scheduled job `vest_pending_points`).

A purchase's points are pending for POINTS_PENDING_DAYS (its return window) and vest at `vests_at`
(inclusive). The job walks due pending credits (vests_at <= the run's `now`) in (member_id,
vests_at, id) order, `batch_size` per transaction, exactly as the expiry job walks lapsed lots:

  1. one statement takes the next batch after the cursor and locks its members FOR NO KEY UPDATE SKIP
     LOCKED (members held by a purchase, spend, return or another run are skipped, never waited for);
  2. one statement (`ledger.vest_due`, the one every spend and return also runs for its member)
     re-reads those members' due credits in the batch's range under the lock and posts each: a
     ledger row with the credit's id and natural key, stamped with vests_at, and a lot; per member
     the balance, lifetime_earned and one PointsVested event;
  3. the tiers of the members who vested are recomputed (qualification counts points when they vest);
  4. commit, progress, move the cursor.

Skipped members are swept at the end with a waiting lock. Every batch commits whole and re-reads
under the member lock, and a credit's status moves PENDING -> POSTED once, so the job is safe to
kill, rerun or run twice at once; the unique natural key of the ledger row is the last line of
defence. It stops between batches when the Lambda is about to time out (`should_stop`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.jobs import Progress, ShouldStop, db_now
from . import ledger_repository as ledger
from . import purchase_repository as purchases
from . import tier_repository
from .ledger_repository import CreditKey
from .member_batches import MemberBatches
from .tier_policy import TierPolicy

START: CreditKey = (UUID(int=0), datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0))


@dataclass
class VestingReport:
    credits: int = 0
    points: int = 0
    member_batches: int = 0  # (member, batch) pairs: one PointsVested event each
    tier_changes: int = 0
    batches: int = 0
    swept_members: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


class VestingService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings
        self._policy = TierPolicy.of(settings)

    def run(
        self,
        *,
        now: datetime | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> VestingReport:
        """Vest every pending credit due as of `now` (default: the database's clock at the start)."""
        now = now or db_now(self._db)
        report = VestingReport()
        started = time.perf_counter()

        def vest(
            tx: Tx, members: list[UUID], after: CreditKey | None, through: CreditKey | None
        ) -> tuple[ledger.Vested, int]:
            done = ledger.vest_due(tx, members, now, after=after, through=through)
            return done, len(tier_repository.apply_tiers(tx, done.member_ids, now, self._policy))

        def committed(result: tuple[ledger.Vested, int], swept: int) -> None:
            report.swept_members += swept
            self._count(report, result[0], result[1], started)
            if progress:
                progress(report)

        def claim(tx: Tx, after: CreditKey, size: int) -> purchases.VestingBatch:
            return purchases.lock_vesting_batch(tx, now, after, size)

        batches = MemberBatches(self._db, claim, vest, committed)
        report.stopped_early = batches.run(START, batch_size or self._settings.vesting_batch_size, should_stop)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    @staticmethod
    def _count(report: VestingReport, done: ledger.Vested, tier_changes: int, started: float) -> None:
        report.batches += 1
        report.credits += done.credits
        report.points += done.points
        report.member_batches += done.members
        report.tier_changes += tier_changes
        report.seconds = round(time.perf_counter() - started, 3)
