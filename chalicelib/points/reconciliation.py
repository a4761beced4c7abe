"""Nightly reconciliation: for every member, balance == SUM(ledger) == SUM(lots remaining), and the
invariants that tie pending points, purchases, returns and promotions to the ledger
(integrity_repository: credits posted exactly once, returns adding up, budgets and caps kept).

Read-only by design: it runs on autocommit reads (`Database.reader()`, which refuses writes), logs
each drift as an ERROR line with the member id and the three figures, and leaves the correction to
a person (an ADJUST through POST /prod/points/tx, or a fix of the bug that caused it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ..platform.config import Settings
from ..platform.db import Database
from ..platform.jobs import Progress, ShouldStop
from ..platform.logs import get_logger
from . import integrity_repository as integrity
from . import ledger_repository as ledger

log = get_logger("xanadu.reconciliation")

MAX_REPORTED = 100  # member ids kept in the report (all of them are logged)


@dataclass
class ReconciliationReport:
    members: int = 0
    drifted: int = 0
    batches: int = 0
    drifted_ids: list[str] = field(default_factory=list)
    stopped_early: bool = False
    pending_points: int = 0  # not vested yet, outside the balances
    promotions_drifted: int = 0


class ReconciliationService:
    def __init__(self, db: Database, settings: Settings):
        self._db = db
        self._settings = settings

    def run(
        self, *, batch_size: int | None = None, progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> ReconciliationReport:
        size = batch_size or self._settings.points_job_batch_size
        report = ReconciliationReport()
        after = UUID(int=0)
        while True:
            if should_stop and should_stop():
                report.stopped_early = True
                break
            with self._db.reader() as tx:
                rows = ledger.sums_batch(tx, after, size)
                checks = integrity.member_checks(tx, [r["id"] for r in rows])
            for row in rows:
                self._check({**row, **checks.get(row["id"], {})}, report)
            report.members += len(rows)
            report.batches += 1
            if progress:
                progress(report)
            if len(rows) < size:
                break
            after = rows[-1]["id"]
        if not report.stopped_early:
            self._check_promotions(report)
        if report.drifted or report.promotions_drifted:
            log.error(
                "points reconciliation found drift",
                extra={
                    "job": "reconcile_points",
                    "members_checked": report.members,
                    "members_drifted": report.drifted,
                    "promotions_drifted": report.promotions_drifted,
                },
            )
        return report

    def _check_promotions(self, report: ReconciliationReport) -> None:
        with self._db.reader() as tx:
            broken = integrity.promotion_problems(tx)
        for row in broken:
            report.promotions_drifted += 1
            log.error(
                "promotion drift",
                extra={
                    "job": "reconcile_points",
                    "promotion_id": str(row["id"]),
                    "budget_points": row["budget_points"],
                    "budget_used": row["budget_used"],
                    "awarded": row["awarded"],
                    "per_member_cap_points": row["per_member_cap_points"],
                    "most_by_one_member": row["most_by_one_member"],
                },
            )

    @staticmethod
    def _check(row: dict[str, Any], report: ReconciliationReport) -> None:
        report.pending_points += int(row.get("pending", 0))
        problems = []
        if row["balance"] != row["ledger"]:
            problems.append("balance != sum(ledger)")
        if row["lots"] != row["balance"]:
            problems.append("sum(lots) != balance")
        if row["balance"] < 0:
            problems.append("negative balance")
        if row["bad_lots"]:
            problems.append("lot outside 0..points_earned")
        if row.get("bad_credits"):
            problems.append("purchase credit not posted exactly once")
        if row.get("bad_purchases"):
            problems.append("purchase credits or returns do not add up")
        if not problems:
            return
        report.drifted += 1
        if len(report.drifted_ids) < MAX_REPORTED:
            report.drifted_ids.append(str(row["id"]))
        log.error(
            "points drift",
            extra={
                "job": "reconcile_points",
                "member_id": str(row["id"]),
                "balance": row["balance"],
                "ledger_sum": row["ledger"],
                "lots_sum": row["lots"],
                "problems": problems,
            },
        )
