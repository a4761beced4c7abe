"""Nightly reconciliation: finds drift between balance, ledger and lots, logs it, changes nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from tests.support.events import scheduled_event
from tests.support.points import credit, debit, new_member, state


@pytest.fixture
def error_log():
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("xanadu.reconciliation")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def reconciliation(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.reconciliation import ReconciliationService

    return ReconciliationService(db, get_settings())


def populate(db, n: int) -> list:
    now = datetime.now(UTC)
    members = []
    for i in range(n):
        member = new_member(db, f"rec{i}@example.com")
        credit(db, member, 100 + i, at=now)
        credit(db, member, 50, at=now)
        debit(db, member, 30 + i)
        members.append(member)
    return members


def test_consistent_data_reports_no_drift(db, reconciliation, error_log):
    populate(db, 5)
    report = reconciliation.run(batch_size=2)
    assert (report.members, report.drifted, report.batches) == (5, 0, 3)
    assert error_log == []


def test_drift_is_logged_per_member_and_nothing_is_changed(db, owner_db, reconciliation, error_log):
    members = populate(db, 6)
    balance_only, stray_row, lot_only, edited_row = members[0], members[2], members[3], members[5]
    with owner_db.transaction() as tx:  # the schema owner: the app role may not edit ledger rows at all
        tx.execute("UPDATE members SET balance = balance + 7 WHERE id = :m", m=balance_only)
        tx.execute(
            "INSERT INTO ledger_entries (member_id, entry_type, points, description) "
            "VALUES (:m, 'ADJUST', 5, 'written behind the ledger code''s back')",
            m=stray_row,
        )
        tx.execute(
            "UPDATE point_lots SET points_remaining = points_remaining - 1 WHERE id = "
            "(SELECT id FROM point_lots WHERE member_id = :m AND points_remaining > 0 LIMIT 1)",
            m=lot_only,
        )
        # Past the immutability trigger, as only a person with DDL rights could.
        tx.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable")
        tx.execute(
            "UPDATE ledger_entries SET points = points + 1 WHERE member_id = :m AND entry_type = 'EARN' "
            "AND points = 50",
            m=edited_row,
        )
        tx.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_immutable")
    before = state(db)

    report = reconciliation.run(batch_size=4)
    assert report.members == 6 and report.drifted == 4
    assert sorted(report.drifted_ids) == sorted(str(m) for m in (balance_only, stray_row, lot_only, edited_row))
    drift = {r.member_id: r for r in error_log if r.getMessage() == "points drift"}
    assert set(drift) == set(report.drifted_ids)
    assert (drift[str(balance_only)].balance, drift[str(balance_only)].ledger_sum) == (
        drift[str(balance_only)].lots_sum + 7,
        drift[str(balance_only)].lots_sum,
    )
    assert drift[str(lot_only)].problems == ["sum(lots) != balance"]
    assert any(r.getMessage() == "points reconciliation found drift" for r in error_log)
    assert state(db) == before  # read-only: the job corrected nothing


def test_reconcile_handler_runs(db):
    import app as app_module

    populate(db, 2)
    result = app_module.reconcile_points(
        scheduled_event(time="2030-01-01T03:00:00Z"),
        None,
    )
    assert result["members"] == 2 and result["drifted"] == 0
