"""Pending points: purchase points vest after the return window (POINTS_PENDING_DAYS), on time and once.

Until they vest they are outside the balance, the ledger and the lots (balance == SUM(ledger) ==
SUM(lots) keeps meaning "spendable"), shown as pending in GET /prod/points and as PENDING credits in
the history; the vesting job, or the member's next spend or return, posts them at `vests_at`.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support.jobs import killable_job
from tests.support.ledger import pending
from tests.support.points import (
    T0,
    Loyalty,
    app_settings,
    credits_of,
    ledger_rows,
    new_member,
    sums,
)

MICRO = timedelta(microseconds=1)
WINDOW = timedelta(days=14)


@pytest.fixture
def loyalty(db):
    return Loyalty(db, points_pending_days=14)


def test_a_purchase_is_pending_until_its_window_closes_and_vests_exactly_then(db, loyalty):
    member = new_member(db, "pending@example.com")
    recorded = loyalty.buy(member, "P-1", "12.34", at=T0)
    assert recorded.purchase.points == 123 and recorded.purchase.balance_after == 0
    assert recorded.purchase.vests_at == T0 + WINDOW and recorded.purchase.ledger_entry_id is None
    assert recorded.entry.status == "PENDING" and recorded.entry.vests_at == T0 + WINDOW
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0} and pending(db, member) == 123

    early = loyalty.vesting.run(now=T0 + WINDOW - MICRO)
    assert early.credits == 0 and pending(db, member) == 123

    on_time = loyalty.vesting.run(now=T0 + WINDOW)
    assert (on_time.credits, on_time.points, on_time.member_batches) == (1, 123, 1)
    assert sums(db, member) == {"balance": 123, "ledger": 123, "lots": 123} and pending(db, member) == 0
    [row] = ledger_rows(db, member)
    # the credit keeps its id, its natural key, and is stamped with the vesting instant
    assert row["id"] == recorded.entry.id and row["entry_type"] == "EARN" and row["created_at"] == T0 + WINDOW
    assert row["external_ref"] == f"purchase:{loyalty.partner_id}:P-1"
    with db.reader() as tx:
        lot = tx.fetch_one("SELECT earned_at, expires_at FROM point_lots WHERE ledger_entry_id = :e", e=row["id"])
        event = tx.fetch_one("SELECT payload FROM outbox_events WHERE event_type = 'PointsVested'")
        lifetime = tx.fetch_value("SELECT lifetime_earned FROM members WHERE id = :m", m=member)
    assert lot == {"earned_at": T0 + WINDOW, "expires_at": T0 + WINDOW + timedelta(days=365)}
    assert event["payload"]["points"] == 123 and event["payload"]["balance"] == 123
    assert lifetime == 123

    assert loyalty.vesting.run(now=T0 + WINDOW).credits == 0  # once only
    assert loyalty.vesting.run(now=T0 + 2 * WINDOW).credits == 0


def test_a_spend_at_the_vesting_instant_vests_first_and_a_microsecond_before_cannot(db, loyalty):
    from chalicelib.platform.errors import InsufficientPoints
    from chalicelib.points import ledger_repository as ledger

    member = new_member(db, "spender@example.com")
    loyalty.buy(member, "S-1", "10.00", at=T0)
    with pytest.raises(InsufficientPoints), db.transaction() as tx:
        ledger.debit(tx, member, "SPEND", 100, "too early", now=T0 + WINDOW - MICRO)
    assert pending(db, member) == 100  # the failed spend rolled its vesting back with it
    with db.transaction() as tx:
        ledger.debit(tx, member, "SPEND", 100, "on time", now=T0 + WINDOW)
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0} and pending(db, member) == 0
    rows = ledger_rows(db, member)
    assert sorted(r["entry_type"] for r in rows) == ["EARN", "SPEND"]
    assert {r["created_at"] for r in rows} == {T0 + WINDOW}
    assert loyalty.vesting.run(now=T0 + WINDOW).credits == 0  # the spend already vested it


def test_points_and_history_show_pending_credits_that_become_ordinary_credits(api, db):
    with app_settings(POINTS_PENDING_DAYS="14"):
        loyalty = Loyalty(db, points_pending_days=14)
        email = "history@example.com"
        member = api.get("/customer", as_user=email).json_body["id"]  # 1000 signup bonus
        key = {"X-Api-Key": loyalty.key}
        first = api.post(
            "/partner/purchases", json_body={"customer_id": member, "external_id": "H-1", "amount_usd": 5}, headers=key
        )
        assert first.status_code == 201, first.json_body
        body = first.json_body
        assert body["points_earned"] == 50 and body["base_points"] == 50 and body["balance"] == 1000
        assert body["transaction"]["status"] == "PENDING" and body["vests_at"] == body["transaction"]["vests_at"]
        api.post(
            "/partner/purchases", json_body={"customer_id": member, "external_id": "H-2", "amount_usd": 7}, headers=key
        )
        summary = api.get("/prod/points", as_user=email).json_body
        assert summary["points"] == 1000 and summary["pending"] == 120
        assert [p["points"] for p in summary["pending_lots"]] == [50, 70]
        assert summary["pending_lots"][0]["vests_at"] <= summary["pending_lots"][1]["vests_at"]
        history = api.get("/prod/points/tx", as_user=email).json_body["transactions"]
        assert [(t["tx_type"], t["points"], t["status"]) for t in history] == [
            ("EARN", 70, "PENDING"),
            ("EARN", 50, "PENDING"),
            ("BONUS", 1000, "POSTED"),
        ]
        assert history[0]["vests_at"].endswith("Z") and history[2]["vests_at"] is None
        pending_id = history[1]["id"]
        one = api.get(f"/prod/points/tx/{pending_id}", as_user=email).json_body["transaction"]
        assert one["status"] == "PENDING" and one["items"] == []
        assert api.get(f"/prod/points/tx/{pending_id}", as_user="other@example.com").status_code == 404

        with db.reader() as tx:
            vests_at = tx.fetch_value("SELECT max(vests_at) FROM purchase_credits")
        loyalty.vesting.run(now=vests_at)
        summary = api.get("/prod/points", as_user=email).json_body
        assert summary["points"] == 1120 and summary["pending"] == 0 and summary["pending_lots"] == []
        history = api.get("/prod/points/tx", as_user=email).json_body["transactions"]
        assert {t["id"] for t in history} >= {pending_id}  # the same id, now an ordinary credit
        assert all(t["status"] == "POSTED" for t in history)
        one = api.get(f"/prod/points/tx/{pending_id}", as_user=email).json_body["transaction"]
        assert one["status"] == "POSTED" and one["points"] == 50

        replay = api.post(
            "/partner/purchases", json_body={"customer_id": member, "external_id": "H-1", "amount_usd": 5}, headers=key
        )
        assert replay.status_code == 200 and replay.json_body == body  # the first answer, byte for byte
        assert sums(db, member) == {"balance": 1120, "ledger": 1120, "lots": 1120}


def test_history_pages_through_pending_and_posted_credits_without_gaps(api, db):
    with app_settings(POINTS_PENDING_DAYS="14"):
        loyalty = Loyalty(db, points_pending_days=14)
        email = "pages@example.com"
        member = api.get("/customer", as_user=email).json_body["id"]
        for i in range(5):
            loyalty.buy(member, f"PG-{i}", f"{i + 1}.00")
        seen, cursor = [], None
        while True:
            page = api.get("/prod/points/tx?limit=2" + (f"&cursor={cursor}" if cursor else ""), as_user=email).json_body
            seen.extend(page["transactions"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert [t["points"] for t in seen] == [50, 40, 30, 20, 10, 1000]
        assert len({t["id"] for t in seen}) == 6


def test_tier_qualification_counts_points_when_they_vest(db, loyalty):
    member = new_member(db, "climber.pending@example.com")
    first = loyalty.buy(member, "Q-1", "500.00", at=T0)  # 5,000 points: SILVER, once vested
    assert first.purchase.tier_after == "BRONZE"
    second = loyalty.buy(member, "Q-2", "1.00", at=T0 + timedelta(days=1))
    assert second.purchase.tier == "BRONZE" and second.purchase.points == 10  # still BRONZE x1.0
    report = loyalty.vesting.run(now=T0 + WINDOW)
    assert report.tier_changes == 1
    with db.reader() as tx:
        assert tx.fetch_value("SELECT tier FROM members WHERE id = :m", m=member) == "SILVER"
    third = loyalty.buy(member, "Q-3", "1.00", at=T0 + WINDOW + timedelta(seconds=1))
    assert third.purchase.tier == "SILVER" and third.purchase.points == 12  # 1.25 x 10 = 12.5 -> 12


def test_a_purchase_worth_zero_points_is_never_pending(db, loyalty):
    member = new_member(db, "zero.pending@example.com")
    zero = loyalty.buy(member, "Z-1", "0.09", at=T0)
    assert zero.purchase.points == 0 and zero.purchase.vests_at is None and zero.entry is None
    assert credits_of(db, member) == []


def test_the_vesting_job_runs_in_bounded_committed_batches_and_stops_when_told(db, loyalty):
    members = [new_member(db, f"batch{i}@example.com") for i in range(5)]
    for i, member in enumerate(members):
        loyalty.buy(member, f"B-{i}-1", "1.00", at=T0)
        loyalty.buy(member, f"B-{i}-2", "2.00", at=T0)
    progress = []
    stops = iter([False, False, True])
    partial = loyalty.vesting.run(
        now=T0 + WINDOW, batch_size=3, progress=lambda r: progress.append(r.credits), should_stop=lambda: next(stops)
    )
    assert partial.stopped_early and partial.batches == 2 and progress == [3, 6]
    rest = loyalty.vesting.run(now=T0 + WINDOW, batch_size=3)
    assert rest.credits == 4 and not rest.stopped_early
    for member in members:
        assert sums(db, member) == {"balance": 30, "ledger": 30, "lots": 30} and pending(db, member) == 0


def test_two_vesting_runs_at_once_beside_spends_vest_every_credit_exactly_once(db, loyalty):
    from chalicelib.points import ledger_repository as ledger

    members = [new_member(db, f"race.vest{i}@example.com") for i in range(12)]
    for i, member in enumerate(members):
        for j in range(3):
            loyalty.buy(member, f"RV-{i}-{j}", "1.00", at=T0)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def vest() -> None:
        try:
            barrier.wait()
            loyalty.vesting.run(now=T0 + WINDOW, batch_size=4)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def spend() -> None:
        try:
            barrier.wait()
            for member in members[::2]:
                with db.transaction() as tx:
                    ledger.debit(tx, member, "SPEND", 15, "racing spend", now=T0 + WINDOW)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=vest), threading.Thread(target=vest), threading.Thread(target=spend)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, member in enumerate(members):
        expected = 30 - (15 if i % 2 == 0 else 0)
        assert sums(db, member) == {"balance": expected, "ledger": expected, "lots": expected}
        assert pending(db, member) == 0
        assert len(ledger_rows(db, member, "EARN")) == 3
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM purchase_credits WHERE status = 'POSTED'") == 36


def test_the_scheduled_handler_vests_with_a_json_log_line(db, loyalty):
    import json
    import logging

    import app as app_module
    from chalicelib.platform.logs import JsonFormatter

    member = new_member(db, "handler@example.com")
    with db.reader() as tx:
        now = tx.fetch_value("SELECT now()")
    loyalty.buy(member, "SCH-1", "3.00", at=now - WINDOW - timedelta(seconds=1))  # due by the real clock
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    jobs_log = logging.getLogger("xanadu.jobs")
    jobs_log.addHandler(handler)
    jobs_log.setLevel(logging.INFO)
    try:
        event = {
            "version": "0",
            "id": "e1",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2030-01-01T00:15:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/vest_pending_points"],
            "detail": {},
        }
        result = app_module.vest_pending_points(event, None)  # as Lambda calls it
    finally:
        jobs_log.removeHandler(handler)
        jobs_log.setLevel(logging.NOTSET)
    assert result["credits"] == 1 and result["points"] == 30
    finished = [json.loads(line) for line in lines if json.loads(line)["message"] == "job finished"]
    assert finished and finished[0]["job"] == "vest_pending_points" and finished[0]["credits"] == 1
    assert sums(db, member)["balance"] == 30


def test_the_default_return_window_is_14_days():
    from chalicelib.platform.config import Settings

    assert Settings().points_pending_days == 14
    assert Settings(points_pending_days=0).points_pending_days == 0


def test_lot_lifetime_is_fixed_at_the_purchase_and_counts_from_vesting(db):
    early = Loyalty(db, points_pending_days=3, lot_lifetime_days=10)
    member = new_member(db, "lifetime@example.com")
    early.buy(member, "L-1", "1.00", at=T0)
    later = Loyalty(db, points_pending_days=3, lot_lifetime_days=99)  # a change after the purchase
    later.vesting.run(now=T0 + timedelta(days=3))
    with db.reader() as tx:
        expires = tx.fetch_value("SELECT expires_at FROM point_lots WHERE member_id = :m", m=member)
    assert expires == T0 + timedelta(days=13)


def test_pending_credits_count_in_the_liability_report_not_in_outstanding_points(api, db, loyalty):
    member = new_member(db, "liability.pending@example.com")
    loyalty.buy(member, "LP-1", "4.00", at=T0)
    report = api.get("/admin/reports/liability", as_user="boss@example.com", admin=True).json_body
    assert report["pending_points"] == 40 and report["outstanding_points"] == 0
    assert {t["tier"]: t["pending_points"] for t in report["by_tier"]}["BRONZE"] == 40


def test_reconciliation_checks_credits_against_the_ledger(db, loyalty, caplog):
    from chalicelib.points.reconciliation import ReconciliationService

    member = new_member(db, "recon.pending@example.com")
    loyalty.buy(member, "RC-1", "1.00", at=T0)
    service = ReconciliationService(db, loyalty.settings)
    clean = service.run()
    assert clean.drifted == 0 and clean.pending_points == 10
    with db.transaction() as tx:  # a bug marks a credit posted without writing its ledger row
        tx.execute("UPDATE purchase_credits SET status = 'POSTED' WHERE member_id = :m", m=member)
    broken = service.run()
    assert broken.drifted == 1 and broken.drifted_ids == [str(member)]
    assert any("purchase credit not posted exactly once" in str(r.__dict__.get("problems")) for r in caplog.records)


def test_amounts_are_exact_decimals(db, loyalty):
    member = new_member(db, "decimal.pending@example.com")
    recorded = loyalty.buy(member, "D-1", "0.19", at=T0)
    assert recorded.purchase.amount_usd == Decimal("0.19") and recorded.purchase.points == 1


VESTING_CHILD = killable_job("vesting", "VestingService", "vest_due")


@pytest.mark.parametrize("mode", ["between", "inside"])
def test_the_vesting_job_killed_mid_run_and_run_again_vests_everything_once(db, loyalty, mode):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    members = [new_member(db, f"killed{i:02d}@example.com") for i in range(20)]
    for i, member in enumerate(members):  # 40 credits: 8 batches of 5
        loyalty.buy(member, f"K-{i}-a", "1.00", at=T0)
        loyalty.buy(member, f"K-{i}-b", f"{i + 1}.00", at=T0 + timedelta(minutes=i))
    child = subprocess.Popen(
        [sys.executable, "-c", VESTING_CHILD, mode, "3", (T0 + 2 * WINDOW).isoformat(), "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XANADU_ROOT": str(Path(__file__).resolve().parents[2])},
    )
    try:
        line = child.stdout.readline().strip()
        assert line.startswith("HANGING"), (line, child.stderr.read() if child.poll() is not None else "")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with db.reader() as tx:
        done = tx.fetch_value("SELECT count(*) FROM purchase_credits WHERE status = 'POSTED'")
    assert done == (15 if mode == "between" else 10)  # committed batches only; the hanging one rolled back

    loyalty.vesting.run(now=T0 + 2 * WINDOW, batch_size=5)
    for i, member in enumerate(members):
        expected = 10 + (i + 1) * 10
        assert sums(db, member) == {"balance": expected, "ledger": expected, "lots": expected}
        assert pending(db, member) == 0 and len(ledger_rows(db, member, "EARN")) == 2
    with db.reader() as tx:
        events = tx.fetch_value(
            "SELECT SUM((payload->>'points')::bigint) FROM outbox_events WHERE event_type = 'PointsVested'"
        )
    assert events == sum(10 + (i + 1) * 10 for i in range(20))


def test_a_purchase_after_points_left_the_window_reports_and_stores_the_lower_tier(db):
    """Found by the ledger state machine: 5,000 points earned at T0 made the member SILVER; a year and an
    hour later (before the tier job ran) a purchase was priced at BRONZE but answered tier_after SILVER,
    the member row's stale tier."""
    loyalty = Loyalty(db, points_pending_days=0)
    member = new_member(db, "aged-out@example.com")
    assert loyalty.buy(member, "P-1", "500.00", at=T0).purchase.tier_after == "SILVER"
    later = loyalty.buy(member, "P-2", "0.01", at=T0 + timedelta(days=365, hours=1)).purchase
    assert (later.tier, later.points, later.tier_after) == ("BRONZE", 0, "BRONZE")
    with db.reader() as tx:
        assert tx.fetch_value("SELECT tier FROM members WHERE id = :m", m=member) == "BRONZE"
    earning = loyalty.buy(member, "P-3", "10.00", at=T0 + timedelta(days=365, hours=2)).purchase
    assert (earning.tier, earning.points, earning.tier_after) == ("BRONZE", 100, "BRONZE")
