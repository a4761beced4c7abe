"""Lots and expiry: the exact expiry instant, spends never using lapsed points, refunds into lapsed
lots, bounded batches, the dry run, the weekly notice, and the scheduled handler."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.errors import InsufficientPoints
from tests.support.events import scheduled_event
from tests.support.points import T0, credit, debit, expire_rows, lot, new_member, refund, sums

YEAR = timedelta(days=365)
TICK = timedelta(microseconds=1)


@pytest.fixture
def expiry(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.expiry import ExpiryService

    return ExpiryService(db, get_settings())


def test_lot_expires_exactly_at_its_instant_and_not_a_microsecond_before(db, expiry):
    member = new_member(db, "instant@example.com")
    lapsing = credit(db, member, 100, at=T0 - YEAR)  # expires exactly at T0
    later = credit(db, member, 40, at=T0 - YEAR + timedelta(days=1))

    before = expiry.run(now=T0 - TICK)
    assert (before.lots, before.points) == (0, 0)
    assert sums(db, member) == {"balance": 140, "ledger": 140, "lots": 140}

    at = expiry.run(now=T0)
    assert (at.lots, at.points) == (1, 100)
    assert lot(db, lapsing)["points_remaining"] == 0 and lot(db, lapsing)["expiry_count"] == 1
    assert lot(db, later)["points_remaining"] == 40
    assert expire_rows(db, member) == [{"points": -100, "external_ref": f"expire:{lapsing}:1"}]
    assert sums(db, member) == {"balance": 40, "ledger": 40, "lots": 40}
    with db.reader() as tx:
        event = tx.fetch_one(
            "SELECT payload FROM outbox_events WHERE event_type = 'PointsExpired' AND aggregate_id = :m", m=member
        )
    payload = event["payload"] if isinstance(event["payload"], dict) else json.loads(event["payload"])
    assert payload["points"] == 100 and payload["lots"] == 1 and payload["balance"] == 40


def test_only_the_unspent_remainder_of_a_lot_expires(db, expiry):
    member = new_member(db, "partial@example.com")
    first = credit(db, member, 100, at=T0 - YEAR)
    credit(db, member, 100, at=T0 - YEAR + timedelta(days=30))
    debit(db, member, 130, at=T0 - timedelta(days=100))  # FIFO: 100 from the first lot, 30 from the second
    assert lot(db, first)["points_remaining"] == 0
    report = expiry.run(now=T0 + timedelta(days=31))
    assert (report.lots, report.points) == (1, 70)
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0}


def test_a_spend_at_the_expiry_instant_cannot_use_the_lapsed_lot(db):
    early = new_member(db, "early@example.com")
    credit(db, early, 100, at=T0 - YEAR)
    credit(db, early, 50, at=T0 - YEAR + timedelta(days=10))
    debit(db, early, 120, at=T0 - TICK)  # a microsecond before: all 150 spendable, FIFO
    assert sums(db, early) == {"balance": 30, "ledger": 30, "lots": 30}
    assert expire_rows(db, early) == []

    late = new_member(db, "late@example.com")
    lapsing = credit(db, late, 100, at=T0 - YEAR)
    credit(db, late, 50, at=T0 - YEAR + timedelta(days=10))
    with pytest.raises(InsufficientPoints):
        debit(db, late, 120, at=T0)  # at the instant: only 50 are spendable; nothing is written
    assert sums(db, late) == {"balance": 150, "ledger": 150, "lots": 150}

    debit(db, late, 40, at=T0)  # succeeds from the live lot; the lapsed one expires in the same transaction
    assert sums(db, late) == {"balance": 10, "ledger": 10, "lots": 10}
    assert expire_rows(db, late) == [{"points": -100, "external_ref": f"expire:{lapsing}:1"}]
    with db.reader() as tx:
        assert (
            tx.fetch_value(
                "SELECT created_by FROM ledger_entries WHERE member_id = :m AND entry_type = 'EXPIRE'", m=late
            )
            == "expiry-on-spend"
        )


def test_refund_into_a_lapsed_lot_expires_again_exactly_once(db, expiry):
    member = new_member(db, "refund@example.com")
    lapsing = credit(db, member, 100, at=T0 - YEAR)
    live = credit(db, member, 20, at=T0)
    spent = debit(db, member, 30, at=T0 - timedelta(days=1))  # from the lapsing lot
    assert expiry.run(now=T0).points == 70
    assert lot(db, lapsing) == {**lot(db, lapsing), "points_remaining": 0, "expiry_count": 1}

    refund(db, spent)  # the 30 points go back to the lot they came from, keeping its (past) expiry
    assert lot(db, lapsing)["points_remaining"] == 30
    assert sums(db, member) == {"balance": 50, "ledger": 50, "lots": 50}

    again = expiry.run(now=T0 + timedelta(seconds=1))
    assert (again.lots, again.points) == (1, 30)
    assert expiry.run(now=T0 + timedelta(seconds=2)).lots == 0
    assert expire_rows(db, member) == sorted(
        [
            {"points": -70, "external_ref": f"expire:{lapsing}:1"},
            {"points": -30, "external_ref": f"expire:{lapsing}:2"},
        ],
        key=lambda r: r["external_ref"],
    )
    assert lot(db, live)["points_remaining"] == 20
    assert sums(db, member) == {"balance": 20, "ledger": 20, "lots": 20}


def test_refund_into_a_live_lot_keeps_its_original_expiry(db, expiry):
    member = new_member(db, "live-refund@example.com")
    first = credit(db, member, 100, at=T0 - YEAR + timedelta(days=10))
    spent = debit(db, member, 60, at=T0)
    refund(db, spent)
    assert lot(db, first)["points_remaining"] == 100
    assert lot(db, first)["expires_at"] == T0 + timedelta(days=10)
    assert expiry.run(now=T0 + timedelta(days=10)).points == 100


def test_a_second_run_does_nothing(db, expiry):
    member = new_member(db, "twice@example.com")
    for days in range(5):
        credit(db, member, 10 + days, at=T0 - YEAR - timedelta(days=days))
    first = expiry.run(now=T0)
    second = expiry.run(now=T0)
    assert (first.lots, first.points) == (5, 60)
    assert (second.lots, second.points, second.batches) == (0, 0, 0)
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0}


def test_batches_are_bounded_and_each_commits(db, expiry):
    members = [new_member(db, f"batch{i:02d}@example.com") for i in range(9)]
    for i, member in enumerate(members):
        for k in range(3):
            credit(db, member, 10, at=T0 - YEAR - timedelta(hours=i * 3 + k))
    seen = []

    def progress(report):
        with db.reader() as tx:  # another connection sees each batch as soon as it is reported
            committed = tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'EXPIRE'")
        seen.append((report.lots, committed))

    report = expiry.run(now=T0, batch_size=4, progress=progress)
    assert report.lots == 27 and report.points == 270
    assert report.batches == 7  # ceil(27 / 4)
    assert all(lots == committed for lots, committed in seen)
    steps = [b - a for (a, _), (b, _) in zip([(0, 0), *seen[:-1]], seen, strict=True)]
    assert max(steps) <= 4


def test_dry_run_lists_what_would_expire_and_changes_nothing(db, expiry):
    member = new_member(db, "dry@example.com")
    credit(db, member, 70, at=T0 - YEAR - timedelta(days=2))
    credit(db, member, 30, at=T0 - YEAR)
    credit(db, member, 5, at=T0)
    preview = expiry.preview(now=T0)
    assert (preview.lots, preview.points, preview.members) == (2, 100, 1)
    assert [(lot.email, lot.points) for lot in preview.sample] == [("dry@example.com", 70), ("dry@example.com", 30)]
    assert sums(db, member) == {"balance": 105, "ledger": 105, "lots": 105}
    assert expire_rows(db, member) == []


def test_scheduled_handler_runs_the_job_and_logs_json_with_its_name(db):
    import app as app_module
    from chalicelib.platform.logs import JsonFormatter

    member = new_member(db, "scheduled@example.com")
    credit(db, member, 25, at=datetime.now(UTC) - YEAR * 2)  # lapsed a year ago by the real clock
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    jobs_log = logging.getLogger("xanadu.jobs")
    jobs_log.addHandler(handler)
    jobs_log.setLevel(logging.INFO)
    try:
        result = app_module.expire_points(
            scheduled_event("expire_points", time="2030-01-01T00:15:00Z"), None
        )  # as Lambda calls it
    finally:
        jobs_log.removeHandler(handler)
        jobs_log.setLevel(logging.NOTSET)
    assert result["lots"] == 1 and result["points"] == 25
    finished = [json.loads(line) for line in lines if json.loads(line)["message"] == "job finished"]
    assert (
        finished
        and finished[0]["job"] == "expire_points"
        and finished[0]["request_id"].startswith("job-expire_points-")
    )
    assert sums(db, member)["balance"] == 0


# -- weekly "points expire soon" email ------------------------------------------------------------
class RecordingNotifier:
    def __init__(self, fail_for: set[str] | None = None):
        self.sent: list[tuple[str, str, str]] = []
        self.fail_for = fail_for or set()

    def send(self, to, subject, text, *, kind="notice"):
        if to in self.fail_for:
            return False
        self.sent.append((to, subject, text))
        return True


def test_members_are_told_once_per_lot_about_points_expiring_within_30_days(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.expiry import ExpiryService

    notifier = RecordingNotifier()
    service = ExpiryService(db, get_settings(), notifier)
    soon = new_member(db, "soon@example.com")
    credit(db, soon, 120, at=T0 - YEAR + timedelta(days=10))  # expires T0+10d
    credit(db, soon, 80, at=T0 - YEAR + timedelta(days=30))  # expires T0+30d: inside (boundary)
    credit(db, soon, 999, at=T0 - YEAR + timedelta(days=31))  # expires T0+31d: not yet
    credit(db, new_member(db, "later@example.com"), 50, at=T0)  # a year away
    credit(db, new_member(db, "gone@example.com"), 50, at=T0 - YEAR)  # lapsed: nothing to announce

    first = service.notify_expiring(now=T0)
    assert (first.emailed, first.lots, first.points) == (1, 2, 200)
    assert notifier.sent[0][0] == "soon@example.com" and notifier.sent[0][1].startswith("200 ")
    assert "120 points on " + (T0 + timedelta(days=10)).date().isoformat() in notifier.sent[0][2]

    assert service.notify_expiring(now=T0).emailed == 0  # once per lot
    week_later = service.notify_expiring(now=T0 + timedelta(days=7))  # the 999-point lot entered the window
    assert (week_later.emailed, week_later.lots, week_later.points) == (1, 1, 999)
    assert len(notifier.sent) == 2


def test_a_failed_email_is_retried_next_run(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.expiry import ExpiryService

    member = new_member(db, "bounce@example.com")
    credit(db, member, 10, at=T0 - YEAR + timedelta(days=5))
    failing = RecordingNotifier(fail_for={"bounce@example.com"})
    report = ExpiryService(db, get_settings(), failing).notify_expiring(now=T0)
    assert (report.failed, report.emailed) == (1, 0)
    working = RecordingNotifier()
    assert ExpiryService(db, get_settings(), working).notify_expiring(now=T0).emailed == 1
