"""Returns: POST /partner/purchases/{external_id}/returns takes back exactly the points the returned
goods earned, by cumulative rounding, from the purchase's own pending points first, then its own lots,
then the member's other lots; idempotent by (partner, purchase, return_id); races add up exactly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support.ledger import pending
from tests.support.points import (
    T0,
    Loyalty,
    credit,
    credits_of,
    issue_partner,
    ledger_rows,
    lot,
    new_member,
    sums,
)

MICRO = timedelta(microseconds=1)
WINDOW = timedelta(days=14)


def give_back(api, key, external_id, **body):
    return api.post(f"/partner/purchases/{external_id}/returns", json_body=body, headers={"X-Api-Key": key})


def buy(api, key, **body):
    response = api.post("/partner/purchases", json_body=body, headers={"X-Api-Key": key})
    assert response.status_code == 201, response.json_body
    return response.json_body


@pytest.fixture
def store():
    return issue_partner("STORE")[1]


def test_a_full_return_takes_back_exactly_what_the_purchase_earned_and_a_repeat_replays(api, db, store):
    member = api.get("/customer", as_user="returner@example.com").json_body["id"]  # 1000 signup bonus
    buy(api, store, customer_id=member, external_id="R-1", amount_usd="12.34")  # 123 points
    first = give_back(api, store, "R-1", return_id="RET-1", amount_usd="12.34")
    assert first.status_code == 201, first.json_body
    body = first.json_body
    assert body["balance"] == 1000
    ret = body["return"]
    assert (ret["return_id"], ret["external_id"], ret["amount_usd"]) == ("RET-1", "R-1", "12.34")
    assert (ret["points_reversed"], ret["points_from_pending"], ret["points_uncollected"]) == (123, 0, 0)
    assert ret["created_at"].endswith("Z") and set(ret) >= {"id", "created_at"}

    again = give_back(api, store, "R-1", return_id="RET-1", amount_usd=12.34)
    assert again.status_code == 200 and again.json_body == body
    assert sums(db, member) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    returns = ledger_rows(db, member, "RETURN")
    assert [r["points"] for r in returns] == [-123]
    with db.reader() as tx:
        event = tx.fetch_one("SELECT payload FROM outbox_events WHERE event_type = 'PointsReturned'")
        lifetime = tx.fetch_value("SELECT lifetime_earned FROM members WHERE id = :m", m=member)
    assert event["payload"]["points_reversed"] == 123 and event["payload"]["return_id"] == "RET-1"
    assert lifetime == 1000  # lifetime earned is net of what returns took back
    history = api.get("/prod/points/tx", as_user="returner@example.com").json_body["transactions"]
    assert [t["tx_type"] for t in history][:2] == ["RETURN", "EARN"]


def test_conflicts_and_limits(api, store):
    member = api.get("/customer", as_user="limits@example.com").json_body["id"]
    buy(api, store, customer_id=member, external_id="L-1", amount_usd="10.00")
    assert give_back(api, store, "L-1", return_id="A", amount_usd="4.00").status_code == 201
    conflict = give_back(api, store, "L-1", return_id="A", amount_usd="4.01")
    assert conflict.status_code == 409 and conflict.json_body["code"] == "RETURN_CONFLICT"
    too_much = give_back(api, store, "L-1", return_id="B", amount_usd="6.01")
    assert too_much.status_code == 409 and too_much.json_body["code"] == "RETURN_EXCEEDS_PURCHASE"
    assert "$6.00" in too_much.json_body["error"]
    assert give_back(api, store, "L-1", return_id="B", amount_usd="6.00").status_code == 201
    one_cent = give_back(api, store, "L-1", return_id="C", amount_usd="0.01")
    assert one_cent.status_code == 409 and one_cent.json_body["code"] == "RETURN_EXCEEDS_PURCHASE"


def test_unknown_purchases_other_partners_and_bad_requests(api, store):
    member = api.get("/customer", as_user="strangers@example.com").json_body["id"]
    buy(api, store, customer_id=member, external_id="X-1", amount_usd="10.00")
    other_store = issue_partner("STORE", "Other")[1]
    for key, ref in ((store, "NOPE"), (other_store, "X-1")):
        response = give_back(api, key, ref, return_id="Z", amount_usd="1.00")
        assert response.status_code == 404 and response.json_body["code"] == "PURCHASE_NOT_FOUND"
    warehouse = issue_partner("WAREHOUSE", "WH")[1]
    assert give_back(api, warehouse, "X-1", return_id="Z", amount_usd="1.00").status_code == 403
    assert give_back(api, "xp_bad", "X-1", return_id="Z", amount_usd="1.00").status_code == 401
    no_key = api.post("/partner/purchases/X-1/returns", json_body={"return_id": "Z", "amount_usd": 1})
    assert no_key.status_code == 401
    for body, field in (
        ({"return_id": "Z", "amount_usd": 0}, "amount_usd"),
        ({"return_id": "Z", "amount_usd": "1.001"}, "amount_usd"),
        ({"return_id": "Z", "amount_usd": True}, "amount_usd"),
        ({"return_id": "has space", "amount_usd": 1}, "return_id"),
        ({"return_id": "", "amount_usd": 1}, "return_id"),
        ({"amount_usd": 1}, "return_id"),
        ({"return_id": "Z", "amount_usd": 1, "points": 5}, "points"),
    ):
        response = give_back(api, store, "X-1", **body)
        assert response.status_code == 400 and response.json_body["details"][0]["field"] == field, body


def test_external_ids_with_reserved_characters_are_percent_encoded_in_the_path(api, store):
    member = api.get("/customer", as_user="encoded@example.com").json_body["id"]
    buy(api, store, customer_id=member, external_id="INV/2025#7", amount_usd="5.00")
    response = give_back(api, store, "INV%2F2025%237", return_id="R", amount_usd="5.00")
    assert response.status_code == 201 and response.json_body["return"]["external_id"] == "INV/2025#7"


@pytest.mark.parametrize(
    "amount, returns, reversed_each",
    [
        ("10.00", ["9.99", "0.01"], [99, 1]),  # the last cent takes the last point
        ("9.99", ["3.33", "3.33", "3.33"], [33, 33, 33]),
        ("3.00", ["1.00", "1.00", "1.00"], [10, 10, 10]),
        ("0.07", ["0.01"] * 7, [0, 0, 0, 0, 0, 0, 0]),  # a purchase worth 0 points has nothing to take
        ("1.01", ["0.50", "0.50", "0.01"], [4, 5, 1]),  # 10 points: floor(4.95)=4, floor(9.90)=9, 10
    ],
)
def test_cumulative_rounding_never_takes_more_than_the_purchase_earned(db, amount, returns, reversed_each):
    loyalty = Loyalty(db)
    member = new_member(db, "rounding.returns@example.com")
    credit(db, member, 1000, at=T0)
    earned = loyalty.buy(member, "CR-1", amount, at=T0).purchase.points
    got = [loyalty.give_back("CR-1", f"r{i}", a, at=T0).record.points_reversed for i, a in enumerate(returns)]
    assert got == reversed_each and sum(got) == earned
    assert sums(db, member)["balance"] == 1000


def test_pending_points_go_first_and_a_return_at_the_vesting_instant_finds_them_posted(db):
    loyalty = Loyalty(db, points_pending_days=14)
    member = new_member(db, "vest.instant@example.com")
    loyalty.buy(member, "V-1", "10.00", at=T0)  # 100 pending until T0 + 14 days
    before = loyalty.give_back("V-1", "r1", "2.00", at=T0 + WINDOW - MICRO).record
    assert (before.points_reversed, before.points_from_pending, before.ledger_entry_id) == (20, 20, None)
    assert pending(db, member) == 80 and sums(db, member)["balance"] == 0
    at = loyalty.give_back("V-1", "r2", "3.00", at=T0 + WINDOW).record
    assert (at.points_reversed, at.points_from_pending) == (30, 0) and at.ledger_entry_id is not None
    assert pending(db, member) == 0 and sums(db, member) == {"balance": 50, "ledger": 50, "lots": 50}
    [earn] = ledger_rows(db, member, "EARN")
    assert earn["points"] == 80 and earn["created_at"] == T0 + WINDOW  # what was left vested, then 30 went


def test_a_full_return_inside_the_window_cancels_everything_and_nothing_ever_vests(db):
    loyalty = Loyalty(db, points_pending_days=14)
    member = new_member(db, "cancelled@example.com")
    promo = loyalty.promote(bonus_points=25)
    loyalty.buy(member, "C-1", "10.00", at=T0)
    back = loyalty.give_back("C-1", "all", "10.00", at=T0 + timedelta(days=1)).record
    assert (back.points_reversed, back.points_from_pending, back.points_uncollected) == (125, 125, 0)
    assert [c["status"] for c in credits_of(db, member)] == ["CANCELLED", "CANCELLED"]
    assert loyalty.vesting.run(now=T0 + WINDOW).credits == 0
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0} and ledger_rows(db, member) == []
    assert promo  # the award stays recorded (budgets are not given back)


def test_partial_returns_while_pending_reduce_base_and_promotion_credits_in_proportion(db):
    loyalty = Loyalty(db, points_pending_days=14)
    member = new_member(db, "proportion@example.com")
    loyalty.promote(kind="MULTIPLIER", multiplier=Decimal("1.5"))
    loyalty.buy(member, "PR-1", "10.00", at=T0)  # base 100 + promotion 50
    loyalty.give_back("PR-1", "half", "5.00", at=T0)  # 75 back: 50 base, 25 promotion
    cancelled = {c["entry_type"]: c["points_cancelled"] for c in credits_of(db, member)}
    assert cancelled == {"EARN": 50, "PROMOTION": 25}
    loyalty.vesting.run(now=T0 + WINDOW)
    assert sorted((r["entry_type"], r["points"]) for r in ledger_rows(db, member)) == [
        ("EARN", 50),
        ("PROMOTION", 25),
    ]
    loyalty.give_back("PR-1", "rest", "5.00", at=T0 + WINDOW)
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0}


def test_vested_points_come_from_the_purchases_own_lots_first_then_the_soonest_expiring(db):
    from chalicelib.points import ledger_repository as ledger

    loyalty = Loyalty(db)
    member = new_member(db, "lots.order@example.com")
    late = credit(db, member, 100, at=T0 - timedelta(days=10), lifetime=timedelta(days=400))  # T0 + 390 d
    soon = credit(db, member, 100, at=T0 - timedelta(days=300))  # expires T0 + 65 d
    loyalty.buy(member, "O-1", "5.00", at=T0)  # its own lot: 50 points, expires T0 + 365 d
    with db.transaction() as tx:  # a spend takes the soonest-expiring first: 30 from `soon`
        ledger.debit(tx, member, "SPEND", 30, "spend", now=T0)
    own = loyalty.give_back("O-1", "r1", "5.00", at=T0).record
    assert own.points_reversed == 50  # all from its own lot, although `soon` expires earlier
    assert lot(db, soon)["points_remaining"] == 70 and lot(db, late)["points_remaining"] == 100

    loyalty.buy(member, "O-2", "5.00", at=T0)  # own lot 50; balance 220
    with db.transaction() as tx:  # FIFO: soon 70, O-2's own 50, late 80
        ledger.debit(tx, member, "SPEND", 200, "spend", now=T0)
    newest = credit(db, member, 40, at=T0, lifetime=timedelta(days=50))  # now the soonest-expiring
    other = loyalty.give_back("O-2", "r1", "5.00", at=T0).record
    assert (other.points_reversed, other.points_uncollected) == (50, 0)  # own lot empty: newest 40, late 10
    assert lot(db, newest)["points_remaining"] == 0 and lot(db, late)["points_remaining"] == 10
    assert sums(db, member) == {"balance": 10, "ledger": 10, "lots": 10}


def test_within_balance_records_what_was_spent_as_uncollected_and_the_report_lists_it(api, db):
    loyalty = Loyalty(db)  # RETURN_POLICY within_balance (the default)
    member = new_member(db, "spent.it@example.com")
    loyalty.buy(member, "U-1", "10.00", at=T0)
    with db.transaction() as tx:
        from chalicelib.points import ledger_repository as ledger

        ledger.debit(tx, member, "SPEND", 70, "spent most of it", now=T0)
    back = loyalty.give_back("U-1", "r1", "10.00", at=T0).record
    assert (back.points_reversed, back.points_uncollected, back.balance_after) == (30, 70, 0)
    assert sums(db, member) == {"balance": 0, "ledger": 0, "lots": 0}
    report = api.get("/admin/reports/liability", as_user="boss@example.com", admin=True).json_body
    assert report["uncollected_points"] == 70
    # settled means settled: the uncollected points are never taken later
    credit(db, member, 500, at=T0)
    assert loyalty.give_back("U-1", "r1", "10.00", at=T0).created is False
    assert sums(db, member)["balance"] == 500


def test_block_policy_refuses_a_return_the_balance_cannot_cover_and_writes_nothing(api, db):
    loyalty = Loyalty(db, return_policy="block", points_pending_days=14)
    member = new_member(db, "blocked@example.com")
    loyalty.buy(member, "BL-1", "10.00", at=T0)
    loyalty.vesting.run(now=T0 + WINDOW)
    loyalty.buy(member, "BL-2", "10.00", at=T0 + WINDOW)  # 100 more, pending
    with db.transaction() as tx:
        from chalicelib.points import ledger_repository as ledger

        ledger.debit(tx, member, "SPEND", 60, "spent", now=T0 + WINDOW)
    from chalicelib.platform.errors import ReturnWouldOverdraw

    with pytest.raises(ReturnWouldOverdraw):
        loyalty.give_back("BL-1", "r1", "10.00", at=T0 + WINDOW)
    assert pending(db, member) == 100 and sums(db, member)["balance"] == 40
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM purchase_returns") == 0
    ok = loyalty.give_back("BL-1", "r1", "4.00", at=T0 + WINDOW).record
    assert (ok.points_reversed, ok.points_uncollected) == (40, 0)
    pending_only = loyalty.give_back("BL-2", "r1", "10.00", at=T0 + WINDOW).record  # all pending: never blocked
    assert pending_only.points_from_pending == 100


def test_returns_lower_tier_qualification(db):
    loyalty = Loyalty(db)
    member = new_member(db, "downgrade@example.com")
    up = loyalty.buy(member, "T-1", "500.00", at=T0).purchase
    assert up.tier_after == "SILVER"
    loyalty.give_back("T-1", "r1", "0.10", at=T0 + timedelta(seconds=1))  # 1 point back: 4,999
    with db.reader() as tx:
        assert tx.fetch_value("SELECT tier FROM members WHERE id = :m", m=member) == "BRONZE"


def test_sixteen_concurrent_returns_of_one_purchase_add_up_exactly(live_server, db, tokens):
    from tests.support.http import http_call

    key = issue_partner("STORE", "Racing store")[1]
    status, _, me = http_call(live_server, "GET", "/customer", tokens("racer.returns@example.com"))
    assert status == 200
    status, _, _ = http_call(
        live_server,
        "POST",
        "/partner/purchases",
        None,
        {"customer_id": me["id"], "external_id": "RACE-R", "amount_usd": "16.15"},  # 161 points
        {"X-Api-Key": key},
    )
    assert status == 201

    def send(i: int):
        body = {"return_id": f"part-{i}", "amount_usd": "1.01" if i < 15 else "1.00"}  # 15 x 1.01 + 1.00 = 16.15
        return http_call(live_server, "POST", "/partner/purchases/RACE-R/returns", None, body, {"X-Api-Key": key})

    def repeat(_: int):
        body = {"return_id": "part-0", "amount_usd": "1.01"}
        return http_call(live_server, "POST", "/partner/purchases/RACE-R/returns", None, body, {"X-Api-Key": key})

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(send, range(16))) + list(pool.map(repeat, range(8)))
    assert all(status in (200, 201) for status, _, _ in results), [r[2] for r in results if r[0] >= 300]
    assert sum(1 for status, _, body in results if status == 201) == 16
    assert sums(db, me["id"]) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    with db.reader() as tx:
        total = tx.fetch_value("SELECT SUM(points_reversed) FROM purchase_returns")
    assert total == 161


def test_a_return_racing_the_vesting_job_takes_each_point_once(db):
    loyalty = Loyalty(db, points_pending_days=14)
    members = [new_member(db, f"race.rv{i}@example.com") for i in range(10)]
    for i, member in enumerate(members):
        loyalty.buy(member, f"RV-{i}", "10.00", at=T0)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def vest() -> None:
        try:
            barrier.wait()
            loyalty.vesting.run(now=T0 + WINDOW, batch_size=3)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    def give_back() -> None:
        try:
            barrier.wait()
            for i in range(len(members)):
                loyalty.give_back(f"RV-{i}", "r", "4.00", at=T0 + WINDOW)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=vest), threading.Thread(target=give_back)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for member in members:  # whichever came first, 40 went back and 60 vested
        assert sums(db, member) == {"balance": 60, "ledger": 60, "lots": 60} and pending(db, member) == 0


def test_reconciliation_finds_returns_that_do_not_add_up(db):
    from chalicelib.points.reconciliation import ReconciliationService

    loyalty = Loyalty(db)
    member = new_member(db, "recon.returns@example.com")
    loyalty.buy(member, "RR-1", "10.00", at=T0)
    loyalty.give_back("RR-1", "r1", "5.00", at=T0)
    service = ReconciliationService(db, loyalty.settings)
    assert service.run().drifted == 0
    with db.transaction() as tx:  # a bug records a shortfall that never happened
        tx.execute("UPDATE purchase_returns SET points_uncollected = 1 WHERE member_id = :m", m=member)
    report = service.run()
    assert report.drifted == 1 and report.drifted_ids == [str(member)]


def test_a_return_above_any_purchase_is_409_not_400(api, store):
    """Any amount the document allows is answered by the business rule: more than the purchase is 409."""
    member = api.get("/customer", as_user="huge.return@example.com").json_body["id"]
    buy(api, store, customer_id=member, external_id="HUGE-1", amount_usd="100000.00")
    response = give_back(api, store, "HUGE-1", return_id="R", amount_usd="9999999999.99")
    assert response.status_code == 409 and response.json_body["code"] == "RETURN_EXCEEDS_PURCHASE"
