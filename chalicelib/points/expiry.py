"""Expiry of lapsed points (daily job) and "your points expire soon" emails (weekly job).

The expiry job walks lapsed lots (expires_at <= the run's `now`, points left) in
(member_id, expires_at, id) order, `batch_size` lots per transaction:

  1. one statement picks the next batch after the cursor and locks its members FOR UPDATE SKIP
     LOCKED (members another transaction holds are skipped, never waited for);
  2. one statement (ledger.expire_lapsed, the same one a spend uses) re-reads those members' lapsed
     lots in the batch's range under the lock and writes per lot an EXPIRE row keyed
     'expire:<lot>:<n>' plus its allocation, zeroes the lot, and per member updates the balance and
     adds a PointsExpired outbox event;
  3. commit, report progress, move the cursor.

Skipped members are swept at the end with a waiting lock. Because every batch commits whole and
re-reads under the member lock, a run killed anywhere and run again, two runs at once, or a run
twice, all end in the state of one clean run (promise 4); the unique external_ref is the last
line of defence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from ..adapters.email import Notifier
from ..members import repository as members
from ..platform.config import Settings
from ..platform.db import Database, Tx
from ..platform.jobs import Progress, ShouldStop, db_now
from ..platform.logs import get_logger
from . import ledger_repository as ledger
from . import lot_repository as lots
from .ledger_repository import LotKey
from .lot_repository import LapsedLot
from .member_batches import MemberBatches

log = get_logger(__name__)

START: LotKey = (UUID(int=0), datetime(1970, 1, 1, tzinfo=UTC), UUID(int=0))


@dataclass
class ExpiryReport:
    lots: int = 0
    points: int = 0
    member_batches: int = 0  # (member, batch) pairs: one PointsExpired event each
    batches: int = 0
    swept_members: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


@dataclass
class ExpiryPreview:
    as_of: datetime | None = None
    lots: int = 0
    points: int = 0
    members: int = 0
    sample: list[LapsedLot] = field(default_factory=list)


@dataclass
class NoticeReport:
    members: int = 0
    emailed: int = 0
    lots: int = 0
    points: int = 0
    failed: int = 0
    batches: int = 0


class ExpiryService:
    def __init__(self, db: Database, settings: Settings, notifier: Notifier | None = None):
        self._db = db
        self._settings = settings
        self._notifier = notifier or Notifier(settings)

    # -- the daily job -------------------------------------------------------------------------
    def run(
        self,
        *,
        now: datetime | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> ExpiryReport:
        """Expire every lot lapsed as of `now` (default: the database's clock at the start)."""
        now = now or db_now(self._db)
        report = ExpiryReport()
        started = time.perf_counter()

        def expire(tx: Tx, members: list[UUID], after: LotKey | None, through: LotKey | None) -> ledger.Expired:
            return ledger.expire_lapsed(tx, members, now, after=after, through=through)

        def committed(done: ledger.Expired, swept: int) -> None:
            report.swept_members += swept
            self._count(report, done, started)
            if progress:
                progress(report)

        def claim(tx: Tx, after: LotKey, size: int) -> lots.ExpiryBatch:
            return lots.lock_expiry_batch(tx, now, after, size)

        batches = MemberBatches(self._db, claim, expire, committed)
        report.stopped_early = batches.run(START, batch_size or self._settings.expiry_batch_size, should_stop)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    @staticmethod
    def _count(report: ExpiryReport, done: ledger.Expired, started: float) -> None:
        report.batches += 1
        report.lots += done.lots
        report.points += done.points
        report.member_batches += done.members
        report.seconds = round(time.perf_counter() - started, 3)

    def preview(
        self,
        *,
        now: datetime | None = None,
        batch_size: int | None = None,
        sample: int = 50,
        progress: Progress | None = None,
    ) -> ExpiryPreview:
        """Dry run: what `run(now)` would expire, read-only. Keeps the first `sample` lots."""
        now = now or db_now(self._db)
        result = ExpiryPreview(as_of=now)
        seen: set[UUID] = set()
        for lot in self.lapsed_lots(now=now, batch_size=batch_size):
            result.lots += 1
            result.points += lot.points
            seen.add(lot.member_id)
            if len(result.sample) < sample:
                result.sample.append(lot)
            if progress and result.lots % (batch_size or self._settings.expiry_batch_size) == 0:
                result.members = len(seen)
                progress(result)
        result.members = len(seen)
        return result

    def lapsed_lots(self, *, now: datetime, batch_size: int | None = None) -> Iterator[LapsedLot]:
        size = batch_size or self._settings.expiry_batch_size
        cursor = START
        while True:
            with self._db.reader() as tx:
                page = lots.lapsed(tx, now, cursor, size)
            for _, lot in page:
                yield lot
            if len(page) < size:
                return
            cursor = page[-1][0]

    # -- the weekly job ------------------------------------------------------------------------
    def notify_expiring(
        self,
        *,
        now: datetime | None = None,
        days: int | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> NoticeReport:
        """Email each member whose points expire within `days` (default 30) about lots never
        announced before. Each lot is announced once: the claim (expiry_notices row) and the email
        happen in one transaction per member, so a failed send is retried next week, and a crash
        after sending but before commit can at worst send that one email again."""
        now = now or db_now(self._db)
        until = now + timedelta(days=days or self._settings.expiry_notice_days)
        size = batch_size or self._settings.points_job_batch_size
        report = NoticeReport()
        after = UUID(int=0)
        while not (should_stop and should_stop()):
            with self._db.reader() as tx:
                batch = lots.members_with_unannounced(tx, now, until, after, size)
            for member_id in batch:
                self._notify_member(member_id, now, until, report)
            report.batches += 1
            if progress:
                progress(report)
            if len(batch) < size:
                break
            after = batch[-1]
        return report

    def _notify_member(self, member_id: UUID, now: datetime, until: datetime, report: NoticeReport) -> None:
        report.members += 1
        try:
            with self._db.transaction() as tx:
                claimed = lots.claim_notices(tx, member_id, now, until)
                if not claimed:
                    return  # a concurrent run announced them
                member = members.get(tx, member_id)
                assert member is not None
                if not self._notifier.send(
                    member.email, *self._message(member.first_name, claimed), kind="points_expiring"
                ):
                    raise _SendFailed()
        except _SendFailed:
            report.failed += 1
            return
        report.emailed += 1
        report.lots += len(claimed)
        report.points += sum(p for _, p in claimed)

    @staticmethod
    def _message(first_name: str, claimed: list[tuple[datetime, int]]) -> tuple[str, str]:
        per_day: dict[str, int] = {}
        for expires_at, points in claimed:
            day = expires_at.astimezone(UTC).date().isoformat()
            per_day[day] = per_day.get(day, 0) + points
        total = sum(per_day.values())
        lines = "\n".join(f"  {points:,} points on {day}" for day, points in sorted(per_day.items()))
        greeting = f"Hi {first_name}," if first_name else "Hi,"
        text = (
            f"{greeting}\n\n{total:,} of your Xanadu Rewards points will expire soon:\n{lines}\n\n"
            "Spend them on a reward before then. Points are used soonest-expiring first.\n"
        )
        return f"{total:,} Xanadu Rewards points expire soon", text


class _SendFailed(Exception):
    """Rolls back a member's notice claim so next week's run retries it."""
