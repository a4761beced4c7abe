"""Promotions: admin CRUD at /admin/promotions, what a purchase earns (conditions, windows, stacking),
every promotion's points on the ledger, and caps and budgets that are never exceeded, also under
concurrency (50 simultaneous purchases against a 1,000-point budget award exactly 1,000)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.support.points import T0, Loyalty, issue_partner, ledger_rows, new_member, sums

ADMIN = "promoter@example.com"
MICRO = timedelta(microseconds=1)
SOME_ID = "6f1c0f3e-7f0a-4c1e-9d7e-000000000002"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def admin(api, method, path, body=None):
    return api.request(method, path, as_user=ADMIN, admin=True, json_body=body)


def new_promotion(**overrides):
    now = datetime.now(UTC)
    body = {
        "name": "Double points weekend",
        "starts_at": iso(now + timedelta(days=1)),
        "ends_at": iso(now + timedelta(days=3)),
        "kind": "MULTIPLIER",
        "multiplier": "2.0",
        "stacking": "EXCLUSIVE",
    }
    body.update(overrides)
    return body


# -- admin CRUD -----------------------------------------------------------------------------------
PROMOTION_ROUTES = [
    ("GET", "/admin/promotions", None),
    ("POST", "/admin/promotions", new_promotion()),
    ("GET", f"/admin/promotions/{SOME_ID}", None),
    ("PUT", f"/admin/promotions/{SOME_ID}", {"name": "x"}),
    ("DELETE", f"/admin/promotions/{SOME_ID}", None),
]


@pytest.mark.parametrize("method, path, body", PROMOTION_ROUTES, ids=[f"{m} {p}" for m, p, _ in PROMOTION_ROUTES])
def test_only_admins_manage_promotions(api, method, path, body):
    key = issue_partner("STORE")[1]
    assert api.request(method, path, json_body=body).status_code == 401
    assert api.request(method, path, json_body=body, headers={"X-Api-Key": key}).status_code == 401
    member = api.request(method, path, as_user="member@example.com", json_body=body)
    assert member.status_code == 403 and member.json_body["code"] == "FORBIDDEN"
    assert admin(api, method, path, body).status_code not in (401, 403, 500)


def test_create_read_list_change_and_delete(api):
    created = admin(
        api,
        "POST",
        "/admin/promotions",
        new_promotion(
            conditions={"store_ids": ["S-1"], "tiers": ["SILVER", "GOLD"], "min_amount_usd": "25.00"},
            per_member_cap_points=500,
            budget_points=10_000,
        ),
    )
    assert created.status_code == 201, created.json_body
    promotion = created.json_body["promotion"]
    assert promotion["status"] == "SCHEDULED" and promotion["multiplier"] == "2.000" and promotion["active"]
    assert promotion["conditions"] == {
        "store_ids": ["S-1"],
        "tiers": ["SILVER", "GOLD"],
        "min_amount_usd": "25.00",
        "first_purchase_only": False,
    }
    assert (promotion["budget_remaining"], promotion["awarded_points"]) == (10_000, 0)
    assert promotion["created_by"] == ADMIN
    pid = promotion["id"]
    assert admin(api, "GET", f"/admin/promotions/{pid}").json_body["promotion"] == promotion

    changed = admin(api, "PUT", f"/admin/promotions/{pid}", {"kind": "BONUS", "multiplier": None, "bonus_points": 50})
    assert changed.status_code == 200, changed.json_body
    assert (changed.json_body["promotion"]["kind"], changed.json_body["promotion"]["bonus_points"]) == ("BONUS", 50)
    cleared = admin(api, "PUT", f"/admin/promotions/{pid}", {"conditions": {"first_purchase_only": True}})
    assert cleared.json_body["promotion"]["conditions"] == {
        "store_ids": None,
        "tiers": None,
        "min_amount_usd": None,
        "first_purchase_only": True,
    }

    for i in range(3):
        admin(api, "POST", "/admin/promotions", new_promotion(name=f"P{i}"))
    page = admin(api, "GET", "/admin/promotions?limit=2").json_body
    assert [p["name"] for p in page["promotions"]] == ["P2", "P1"] and page["next_cursor"]
    rest = admin(api, "GET", f"/admin/promotions?limit=2&cursor={page['next_cursor']}").json_body
    assert [p["name"] for p in rest["promotions"]] == ["P0", "Double points weekend"] and rest["next_cursor"] is None

    deleted = admin(api, "DELETE", f"/admin/promotions/{pid}")
    assert deleted.status_code == 200 and deleted.json_body["promotion"]["status"] == "INACTIVE"
    assert admin(api, "DELETE", f"/admin/promotions/{pid}").status_code == 200  # repeatable
    locked = admin(api, "PUT", f"/admin/promotions/{pid}", {"name": "revived?"})
    assert locked.status_code == 409 and locked.json_body["code"] == "PROMOTION_LOCKED"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"kind": "BONUS"}, "bonus_points"),  # BONUS without bonus_points (and with a multiplier)
        ({"multiplier": None}, "multiplier"),
        ({"multiplier": "1.0"}, "multiplier"),
        ({"multiplier": "10.5"}, "multiplier"),
        ({"multiplier": "2.0001"}, "multiplier"),
        ({"multiplier": True}, "multiplier"),
        ({"multiplier": "NaN"}, "multiplier"),
        ({"bonus_points": 10}, "bonus_points"),  # MULTIPLIER with bonus points
        ({"kind": "TRIPLE"}, "kind"),
        ({"stacking": "SOMETIMES"}, "stacking"),
        ({"starts_at": "2030-01-01T00:00:00"}, "starts_at"),  # no time zone
        ({"starts_at": "0001-01-01T00:00:00+03:04"}, "starts_at"),  # valid text, before year 1 in UTC
        ({"ends_at": "9999-12-31T23:59:59-01:00"}, "ends_at"),  # after year 9999 in UTC
        ({"ends_at": iso(datetime.now(UTC) + timedelta(hours=1))}, "ends_at"),  # before starts_at
        (
            {"starts_at": iso(datetime(2020, 1, 1, tzinfo=UTC)), "ends_at": iso(datetime(2020, 2, 1, tzinfo=UTC))},
            "ends_at",
        ),
        ({"conditions": {"tiers": ["PLATINUM"]}}, "conditions.tiers.0"),
        ({"conditions": {"store_ids": []}}, "conditions.store_ids"),
        ({"conditions": {"min_amount_usd": "0"}}, "conditions.min_amount_usd"),
        ({"conditions": {"colour": "red"}}, "conditions.colour"),
        ({"per_member_cap_points": 0}, "per_member_cap_points"),
        ({"budget_points": -5}, "budget_points"),
        ({"name": ""}, "name"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_promotions_are_400_with_the_field(api, overrides, field):
    body = {k: v for k, v in new_promotion(**overrides).items() if v is not None or k != "multiplier"}
    if overrides.get("multiplier", "x") is None:
        body.pop("multiplier", None)
    response = admin(api, "POST", "/admin/promotions", body)
    assert response.status_code == 400, response.json_body
    assert any(d["field"].startswith(field) for d in response.json_body["details"]), response.json_body


def test_a_running_promotion_can_only_end_early_and_an_ended_one_not_at_all(api, db):
    loyalty = Loyalty(db)
    now = datetime.now(UTC)
    running = loyalty.promote(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))
    path = f"/admin/promotions/{running}"
    for body in ({"name": "renamed"}, {"ends_at": iso(now + timedelta(days=5))}, {"budget_points": 9}):
        response = admin(api, "PUT", path, body)
        assert response.status_code == 409 and response.json_body["code"] == "PROMOTION_LOCKED", body
    earlier = admin(api, "PUT", path, {"ends_at": iso(now + timedelta(days=1))})
    assert earlier.status_code == 200 and earlier.json_body["promotion"]["status"] == "RUNNING"
    ended = admin(api, "PUT", path, {"ends_at": iso(now - timedelta(days=1))})  # in the past: ends now
    assert ended.status_code == 200 and ended.json_body["promotion"]["status"] == "ENDED"
    assert admin(api, "PUT", path, {"ends_at": iso(now)}).status_code == 409
    assert admin(api, "GET", "/admin/promotions/not-a-uuid").status_code == 404
    assert admin(api, "PUT", f"/admin/promotions/{SOME_ID}", {"name": "x"}).status_code == 404
    assert admin(api, "PUT", path, {}).status_code == 400


# -- what a purchase earns ------------------------------------------------------------------------
@pytest.fixture
def loyalty(db):
    return Loyalty(db)


@pytest.fixture
def member(db):
    return new_member(db, "shopper@example.com")


def test_a_multiplier_promotion_is_on_the_ledger_and_in_the_answer(api, db, loyalty):
    customer = api.get("/customer", as_user="double@example.com").json_body["id"]
    now = datetime.now(UTC)
    pid = loyalty.promote(
        name="Double points",
        kind="MULTIPLIER",
        multiplier=Decimal("2.0"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
    )
    body = {"customer_id": customer, "external_id": "D-1", "amount_usd": "12.34"}
    first = api.post("/partner/purchases", json_body=body, headers={"X-Api-Key": loyalty.key})
    assert first.status_code == 201, first.json_body
    answer = first.json_body
    assert (answer["points_earned"], answer["base_points"], answer["balance"]) == (246, 123, 1246)
    assert answer["promotion_points"] == [{"promotion_id": str(pid), "name": "Double points", "points": 123}]
    rows = {r["entry_type"]: r for r in ledger_rows(db, customer)}
    assert rows["PROMOTION"]["points"] == 123
    assert rows["PROMOTION"]["external_ref"] == f"promotion:{pid}:{loyalty.partner_id}:D-1"
    assert rows["PROMOTION"]["created_at"] == rows["EARN"]["created_at"]
    history = api.get("/prod/points/tx", as_user="double@example.com").json_body["transactions"]
    assert {t["tx_description"] for t in history if t["tx_type"] == "PROMOTION"} == {"Promotion: Double points (D-1)"}
    replay = api.post("/partner/purchases", json_body=body, headers={"X-Api-Key": loyalty.key})
    assert replay.status_code == 200 and replay.json_body == answer
    shown = admin(api, "GET", f"/admin/promotions/{pid}").json_body["promotion"]
    assert (shown["awarded_points"], shown["members_awarded"], shown["status"]) == (123, 1, "RUNNING")
    assert sums(db, customer) == {"balance": 1246, "ledger": 1246, "lots": 1246}


def test_the_window_includes_its_first_second_and_excludes_its_end(db, loyalty, member):
    loyalty.promote(starts_at=T0, ends_at=T0 + timedelta(days=1), bonus_points=7)

    def bonus(ref, at):
        return loyalty.buy(member, ref, "1.00", at=at).purchase.points - 10

    assert bonus("W-0", T0 - MICRO) == 0
    assert bonus("W-1", T0) == 7
    assert bonus("W-2", T0 + timedelta(days=1) - MICRO) == 7
    assert bonus("W-3", T0 + timedelta(days=1)) == 0


def test_conditions_store_tier_amount_and_first_purchase(db, loyalty, member):
    loyalty.promote(name="store", bonus_points=1, store_ids=["S-1", "S-2"])
    loyalty.promote(name="silver+", bonus_points=10, tiers=["SILVER", "GOLD"])
    loyalty.promote(name="big basket", bonus_points=100, min_amount_usd=Decimal("50.00"))
    loyalty.promote(name="welcome", bonus_points=1000, first_purchase_only=True)

    def names(ref, amount, store=None):
        return sorted(a.name for a in loyalty.buy(member, ref, amount, at=T0, store=store).promotions)

    assert names("C-1", "1.00") == ["welcome"]
    assert names("C-2", "1.00") == []
    assert names("C-3", "1.00", store="S-2") == ["store"]
    assert names("C-4", "49.99", store="S-3") == []
    assert names("C-5", "50.00") == ["big basket"]
    loyalty.buy(member, "C-6", "500.00", at=T0)  # now SILVER
    assert names("C-7", "1.00") == ["silver+"]


@pytest.mark.parametrize(
    "exclusive, stackable, expected",
    [
        ([50], [20, 20], {50}),  # the best exclusive beats the stackables' 40
        ([50, 60], [20, 20], {60}),  # only the best exclusive applies
        ([30], [20, 20], {20}),  # the stackables together (40) beat it: every stackable applies
        ([40], [20, 20], {20}),  # a tie: the stackables apply
        ([], [5, 7], {5, 7}),
        ([9], [], {9}),
    ],
)
def test_stacking_best_exclusive_or_every_stackable(db, loyalty, member, exclusive, stackable, expected):
    for points in exclusive:
        loyalty.promote(name=f"ex{points}", bonus_points=points, stacking="EXCLUSIVE")
    for i, points in enumerate(stackable):
        loyalty.promote(name=f"st{i}", bonus_points=points, stacking="STACKABLE")
    recorded = loyalty.buy(member, "ST-1", "1.00", at=T0)
    assert {a.points for a in recorded.promotions} == expected
    assert recorded.purchase.points == 10 + sum(a.points for a in recorded.promotions)
    assert len(ledger_rows(db, member, "PROMOTION")) == len(recorded.promotions)


def test_a_multiplier_rounds_down_on_the_base_points(db, loyalty, member):
    loyalty.promote(kind="MULTIPLIER", multiplier=Decimal("1.333"))
    recorded = loyalty.buy(member, "M-1", "7.77", at=T0)  # base 77; 77 x 0.333 = 25.641 -> 25
    assert (recorded.purchase.base_points, recorded.purchase.points) == (77, 102)


def test_the_per_member_cap_is_met_exactly_then_pays_nothing(db, loyalty, member):
    loyalty.promote(bonus_points=100, per_member_cap_points=250)
    paid = [loyalty.buy(member, f"CAP-{i}", "1.00", at=T0).purchase.points - 10 for i in range(4)]
    assert paid == [100, 100, 50, 0]
    other = new_member(loyalty.db, "other.shopper@example.com")
    assert loyalty.buy(other, "CAP-X", "1.00", at=T0).purchase.points == 110  # caps are per member


def test_the_budget_is_met_exactly_then_pays_nothing(db, loyalty):
    pid = loyalty.promote(bonus_points=100, budget_points=250)
    shoppers = [new_member(db, f"budget{i}@example.com") for i in range(4)]
    paid = [loyalty.buy(m, f"BUD-{i}", "1.00", at=T0).purchase.points - 10 for i, m in enumerate(shoppers)]
    assert paid == [100, 100, 50, 0]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT budget_used FROM promotions WHERE id = :p", p=pid) == 250


def test_a_deleted_promotion_stops_applying_at_once(db, loyalty, member):
    pid = loyalty.promote(bonus_points=5)
    assert loyalty.buy(member, "DEL-1", "1.00", at=T0).purchase.points == 15
    loyalty.promotions.deactivate(pid)
    assert loyalty.buy(member, "DEL-2", "1.00", at=T0).purchase.points == 10


def test_pending_purchases_hold_their_promotion_points_pending_too(db):
    loyalty = Loyalty(db, points_pending_days=14)
    shopper = new_member(db, "pending.promo@example.com")
    loyalty.promote(bonus_points=40)
    recorded = loyalty.buy(shopper, "PP-1", "1.00", at=T0)
    assert recorded.purchase.points == 50 and recorded.purchase.balance_after == 0
    loyalty.vesting.run(now=T0 + timedelta(days=14))
    assert sorted((r["entry_type"], r["points"]) for r in ledger_rows(db, shopper)) == [
        ("EARN", 10),
        ("PROMOTION", 40),
    ]
    assert sums(db, shopper) == {"balance": 50, "ledger": 50, "lots": 50}


# -- caps and budgets under concurrency -------------------------------------------------------------
def _concurrent_purchases(live_server, key, members, amount="10.00"):
    from tests.support.http import http_call

    def send(i: int):
        body = {"customer_id": str(members[i]), "external_id": f"CONC-{i}", "amount_usd": amount}
        return http_call(live_server, "POST", "/partner/purchases", None, body, {"X-Api-Key": key})

    with ThreadPoolExecutor(max_workers=len(members)) as pool:
        return list(pool.map(send, range(len(members))))


def test_fifty_simultaneous_purchases_award_exactly_the_budget_when_demand_exceeds_it(live_server, db):
    loyalty = Loyalty(db)
    now = datetime.now(UTC)
    pid = loyalty.promote(
        bonus_points=30, budget_points=1000, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1)
    )
    members = [new_member(db, f"crowd{i}@example.com") for i in range(50)]  # demand: 50 x 30 = 1,500
    results = _concurrent_purchases(live_server, loyalty.key, members)
    assert [status for status, _, _ in results] == [201] * 50, [b for s, _, b in results if s != 201][:3]
    awarded = [sum(p["points"] for p in body["promotion_points"]) for _, _, body in results]
    assert sum(awarded) == 1000 and max(awarded) == 30
    assert sorted(awarded, reverse=True)[:34] == [30] * 33 + [10]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT budget_used FROM promotions WHERE id = :p", p=pid) == 1000
        assert tx.fetch_value("SELECT SUM(points) FROM ledger_entries WHERE entry_type = 'PROMOTION'") == 1000
    for m in members:
        sums(db, m)  # balance == ledger == lots, budgets and caps checked


def test_simultaneous_purchases_below_the_budget_are_all_paid(live_server, db):
    loyalty = Loyalty(db)
    now = datetime.now(UTC)
    loyalty.promote(
        bonus_points=30, budget_points=1000, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1)
    )
    members = [new_member(db, f"calm{i}@example.com") for i in range(20)]
    results = _concurrent_purchases(live_server, loyalty.key, members)
    assert sum(sum(p["points"] for p in body["promotion_points"]) for _, _, body in results) == 600


def test_simultaneous_purchases_of_one_member_never_pass_the_cap(live_server, db):
    loyalty = Loyalty(db)
    now = datetime.now(UTC)
    loyalty.promote(
        bonus_points=30, per_member_cap_points=100, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1)
    )
    one = new_member(db, "greedy@example.com")
    results = _concurrent_purchases(live_server, loyalty.key, [one] * 12)
    assert all(status == 201 for status, _, _ in results)
    assert sum(sum(p["points"] for p in body["promotion_points"]) for _, _, body in results) == 100
    assert sums(db, one)["balance"] == 12 * 100 + 100


def test_reconciliation_finds_a_budget_that_does_not_match_its_awards(db, loyalty, member):
    from chalicelib.points.reconciliation import ReconciliationService

    pid = loyalty.promote(bonus_points=10, budget_points=100)
    loyalty.buy(member, "REC-1", "1.00", at=T0)
    service = ReconciliationService(db, loyalty.settings)
    assert service.run().promotions_drifted == 0
    with db.transaction() as tx:  # a bug charges the budget twice
        tx.execute("UPDATE promotions SET budget_used = 20 WHERE id = :p", p=pid)
    assert service.run().promotions_drifted == 1
