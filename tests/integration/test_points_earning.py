"""Earning: POST /partner/purchases, the earning rule (rounding, tiers, limits) and its idempotency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.support.points import issue_partner, new_member, sums


@pytest.fixture
def store():
    return issue_partner("STORE")[1]


def purchase(api, key, **body):
    return api.post("/partner/purchases", json_body=body, headers={"X-Api-Key": key})


def member_with_points(api, email: str) -> str:
    """A signed-in member (created with the 1000-point signup bonus)."""
    return api.get("/customer", as_user=email).json_body["id"]


def test_first_report_credits_and_a_repeat_replays_without_a_second_credit(api, db, store):
    customer = member_with_points(api, "earner@example.com")
    first = purchase(api, store, customer_id=customer, external_id="R-1001", amount_usd=12.34, store_id="S-7")
    assert first.status_code == 201
    body = first.json_body
    assert body["points_earned"] == 123 and body["balance"] == 1123 and body["tier"] == "BRONZE"
    assert body["earn_multiplier"] == 1.0 and body["amount_usd"] == "12.34" and body["external_id"] == "R-1001"
    assert body["transaction"]["tx_type"] == "EARN" and body["transaction"]["points"] == 123
    assert body["transaction"]["customer_id"] == customer

    again = purchase(api, store, customer_id=customer, external_id="R-1001", amount_usd="12.34", store_id="S-7")
    assert again.status_code == 200 and again.json_body == body
    assert sums(db, customer) == {"balance": 1123, "ledger": 1123, "lots": 1123}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'EARN'") == 1
        assert tx.fetch_value("SELECT external_ref FROM ledger_entries WHERE entry_type = 'EARN'").startswith(
            "purchase:"
        )
        assert tx.fetch_value("SELECT count(*) FROM outbox_events WHERE event_type = 'PointsEarned'") == 1
        expiry = tx.fetch_value(
            "SELECT expires_at - earned_at FROM point_lots l JOIN ledger_entries e "
            "ON e.id = l.ledger_entry_id WHERE e.entry_type = 'EARN'"
        )
    assert expiry.days == 365
    history = api.get("/prod/points/tx", as_user="earner@example.com").json_body["transactions"]
    assert [t["tx_type"] for t in history] == ["EARN", "BONUS"]


def test_member_by_email_and_unknown_members_are_404(api, store):
    member_with_points(api, "by.email@example.com")
    assert purchase(api, store, email="BY.Email@example.com", external_id="E-1", amount_usd=1).status_code == 201
    for who in ({"email": "nobody@example.com"}, {"customer_id": "6f1c0f3e-7f0a-4c1e-9d7e-000000000000"}):
        response = purchase(api, store, external_id="E-2", amount_usd=1, **who)
        assert response.status_code == 404 and response.json_body["code"] == "MEMBER_NOT_FOUND"


@pytest.mark.parametrize(
    "amount, message",
    [
        (0, "greater than 0"),
        (-5, "greater than 0"),
        (12.345, "2 decimal places"),
        ("1.001", "2 decimal places"),
        ("abc", "number"),
        (True, "number"),
        (None, "number"),
        ([], "number"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        (100000.01, "at most 100000.00"),
        ("1e400", "at most"),
    ],
)
def test_amount_validation_is_a_clear_400(api, store, amount, message):
    customer = member_with_points(api, "amounts@example.com")
    response = purchase(api, store, customer_id=customer, external_id="A-1", amount_usd=amount)
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_ERROR"
    assert response.json_body["details"][0]["field"] == "amount_usd"
    assert message in response.json_body["details"][0]["message"]


def test_json_nan_and_infinity_literals_are_400(api, store):
    """They are not JSON (RFC 8259), so the one parser refuses them before any field is read."""
    customer = member_with_points(api, "literals@example.com")
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        raw = b'{"customer_id": "%s", "external_id": "L", "amount_usd": %s}' % (customer.encode(), literal)
        response = api.post("/partner/purchases", raw=raw, headers={"X-Api-Key": store})
        assert response.status_code == 400 and response.json_body["code"] == "MALFORMED_JSON"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"external_id": "X", "amount_usd": 1}, "body"),  # no member
        (
            {
                "email": "a@b.co",
                "customer_id": "6f1c0f3e-7f0a-4c1e-9d7e-000000000000",
                "external_id": "X",
                "amount_usd": 1,
            },
            "body",
        ),
        ({"email": "not-an-email", "external_id": "X", "amount_usd": 1}, "email"),
        ({"email": "a@b.co", "external_id": "", "amount_usd": 1}, "external_id"),
        ({"email": "a@b.co", "external_id": "has space", "amount_usd": 1}, "external_id"),
        ({"email": "a@b.co", "amount_usd": 1}, "external_id"),
        ({"email": "a@b.co", "external_id": "X", "amount_usd": 1, "occurred_at": "2020-01-01T00:00:00"}, "occurred_at"),
        (
            {"email": "a@b.co", "external_id": "X", "amount_usd": 1, "occurred_at": "0001-01-01T00:00:00+03:04"},
            "occurred_at",
        ),
        (
            {"email": "a@b.co", "external_id": "X", "amount_usd": 1, "occurred_at": "2999-01-01T00:00:00Z"},
            "occurred_at",
        ),
        ({"email": "a@b.co", "external_id": "X", "amount_usd": 1, "points": 5}, "points"),
        ({"email": "a@b.co", "external_id": "X", "amount_usd": 1, "store_id": "S\u0000"}, "store_id"),
    ],
)
def test_other_invalid_bodies_are_400(api, store, body, field):
    response = purchase(api, store, **body)
    assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"
    assert field in response.json_body["details"][0]["field"] or field == "body"


def test_maximum_amount_is_accepted(api, store):
    customer = member_with_points(api, "big.spender@example.com")
    response = purchase(api, store, customer_id=customer, external_id="MAX", amount_usd=100000.00)
    assert response.status_code == 201 and response.json_body["points_earned"] == 1_000_000


def test_rounding_down_and_a_purchase_worth_zero_points(api, db, store):
    customer = member_with_points(api, "rounding@example.com")
    assert purchase(api, store, customer_id=customer, external_id="R1", amount_usd=0.19).json_body["points_earned"] == 1
    zero = purchase(api, store, customer_id=customer, external_id="R0", amount_usd=0.09)
    assert zero.status_code == 201
    assert zero.json_body["points_earned"] == 0 and zero.json_body["transaction"] is None
    assert zero.json_body["balance"] == 1001
    replay = purchase(api, store, customer_id=customer, external_id="R0", amount_usd=0.09)
    assert replay.status_code == 200 and replay.json_body == zero.json_body
    with db.reader() as tx:  # ledger rows are never 0 points: the 0-point purchase has none
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'EARN'") == 1
        assert tx.fetch_value("SELECT count(*) FROM partner_purchases") == 2


def test_same_external_id_for_another_purchase_is_409(api, store):
    one = member_with_points(api, "one@example.com")
    two = member_with_points(api, "two@example.com")
    assert purchase(api, store, customer_id=one, external_id="DUP", amount_usd=10).status_code == 201
    for body in ({"customer_id": one, "amount_usd": 11}, {"customer_id": two, "amount_usd": 10}):
        response = purchase(api, store, external_id="DUP", **body)
        assert response.status_code == 409 and response.json_body["code"] == "PURCHASE_CONFLICT"


def test_external_ids_are_unique_per_partner(api, store):
    customer = member_with_points(api, "two.stores@example.com")
    other_store = issue_partner("STORE", "Other Store")[1]
    assert purchase(api, store, customer_id=customer, external_id="1001", amount_usd=1).status_code == 201
    second = purchase(api, other_store, customer_id=customer, external_id="1001", amount_usd=1)
    assert second.status_code == 201 and second.json_body["balance"] == 1020


def test_only_store_partners_with_a_valid_key_report_purchases(api, tokens):
    body = {"email": "x@example.com", "external_id": "K", "amount_usd": 1}
    warehouse = issue_partner("WAREHOUSE", "Warehouse")[1]
    assert purchase(api, warehouse, **body).status_code == 403
    assert api.post("/partner/purchases", json_body=body).status_code == 401
    assert purchase(api, "xp_bad_key", **body).status_code == 401
    assert api.post("/partner/purchases", json_body=body, token=tokens("member@example.com")).status_code == 401
    partner_id, key = issue_partner("STORE", "Revoked")
    from chalicelib.container import services

    services().partners.revoke(partner_id)
    assert purchase(api, key, **body).status_code == 401


def test_16_concurrent_reports_of_one_purchase_credit_once(live_server, tokens, db, store):
    from tests.support.http import http_call

    status, _, me = http_call(live_server, "GET", "/customer", tokens("racer.earn@example.com"))
    assert status == 200
    body = {"customer_id": me["id"], "external_id": "RACE-1", "amount_usd": "25.00"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(
            pool.map(
                lambda _: http_call(live_server, "POST", "/partner/purchases", None, body, {"X-Api-Key": store}),
                range(16),
            )
        )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 15 + [201]
    assert len({repr(body) for _, _, body in results}) == 1
    assert sums(db, me["id"]) == {"balance": 1250, "ledger": 1250, "lots": 1250}


# -- tiers through earning ------------------------------------------------------------------------
def test_tier_thresholds_and_the_multiplier_of_the_tier_before_the_purchase(api, store):
    customer = member_with_points(api, "climber@example.com")

    def buy(ref, amount):
        response = purchase(api, store, customer_id=customer, external_id=ref, amount_usd=amount)
        assert response.status_code == 201, response.json_body
        return response.json_body

    below = buy("T1", "499.90")  # 4,999 qualifying: still BRONZE (the signup bonus does not count)
    assert (below["points_earned"], below["tier"]) == (4999, "BRONZE")
    at_silver = buy("T2", "0.10")  # +1 at BRONZE x1.0 = 5,000: SILVER from this purchase on
    assert (at_silver["points_earned"], at_silver["earn_multiplier"], at_silver["tier"]) == (1, 1.0, "SILVER")
    silver = buy("T3", "0.79")  # 0.79 x 10 x 1.25 = 9.875 -> 9
    assert (silver["points_earned"], silver["earn_multiplier"]) == (9, 1.25)
    to_gold = buy("T4", "1199.20")  # 1199.20 x 12.5 = 14,990 -> 5,009 + 14,990 = 19,999: SILVER
    assert (to_gold["points_earned"], to_gold["tier"]) == (14990, "SILVER")
    gold = buy("T5", "0.08")  # 0.08 x 12.5 = 1 -> 20,000: GOLD
    assert (gold["points_earned"], gold["tier"]) == (1, "GOLD")
    after = buy("T6", "0.79")  # 0.79 x 15 = 11.85 -> 11
    assert (after["points_earned"], after["earn_multiplier"], after["tier"]) == (11, 1.5, "GOLD")
    summary = api.get("/prod/points", as_user="climber@example.com").json_body
    assert summary["tier"] == "GOLD" and summary["qualifying_points"] == 20011
    assert summary["next_tier"] is None and summary["earn_multiplier"] == 1.5


def test_earning_rule_is_configurable(db):
    from chalicelib.platform.config import get_settings
    from chalicelib.points.earning import EarningService
    from chalicelib.points.earning import PurchaseReport as PurchaseRequest
    from chalicelib.points.tier_policy import TierPolicy

    settings = get_settings().model_copy(
        update={"points_per_usd": 3, "silver_threshold": 10, "silver_multiplier": Decimal("2.5")}
    )
    policy = TierPolicy.of(settings)
    assert policy.points_for(Decimal("9.99"), "BRONZE") == 29  # 29.97
    assert policy.points_for(Decimal("9.99"), "SILVER") == 74  # 74.925
    member = new_member(db, "configured@example.com")
    partner_id, _ = issue_partner()
    service = EarningService(db, settings)
    request = lambda ref: PurchaseRequest(customer_id=member, external_id=ref, amount_usd=Decimal("9.99"))  # noqa: E731
    assert service.record(partner_id, request("C1")).purchase.points == 29  # BRONZE before
    second = service.record(partner_id, request("C2")).purchase
    assert (second.points, second.tier_after) == (74, "SILVER")


def test_finding_3_one_external_id_reported_for_twenty_members_at_once_is_one_201_and_nineteen_409s(
    live_server, db, store
):
    """Issue 10, finding 3. Different members do not share a row lock, so the reports race to the ledger's
    unique natural key; the losers wait for the winner's commit and must get the documented 409, not a 500.
    The race is forced: a lock on the outbox holds the winner just before its commit until all twenty are
    in flight (the winner waits on the table lock, the nineteen others on the winner's ledger row)."""
    import threading
    import time

    from tests.support.http import http_call

    members = [str(new_member(db, f"racer{n}.earn@example.com")) for n in range(20)]
    results: list[tuple[int, dict]] = []

    def report(member: str) -> None:
        body = {"customer_id": member, "external_id": "SHARED-1", "amount_usd": "10.00"}
        status, _, answer = http_call(live_server, "POST", "/partner/purchases", None, body, {"X-Api-Key": store})
        results.append((status, answer))

    with db.transaction() as gate:
        gate.execute("LOCK TABLE outbox_events IN EXCLUSIVE MODE")
        threads = [threading.Thread(target=report, args=(m,)) for m in members]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with db.reader() as tx:
                waiting = tx.fetch_value(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = 'xanadu-rewards' AND pid <> pg_backend_pid()"
                )
            if waiting >= 20:
                break
            time.sleep(0.05)
        assert waiting >= 20, f"only {waiting} reports reached the race"
    for thread in threads:
        thread.join(30)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19, results
    assert {answer["code"] for status, answer in results if status == 409} == {"PURCHASE_CONFLICT"}
    with db.reader() as tx:
        earned = tx.fetch("SELECT member_id FROM ledger_entries WHERE entry_type = 'EARN'")
    assert len(earned) == 1
    assert sums(db, earned[0]["member_id"]) == {"balance": 100, "ledger": 100, "lots": 100}
