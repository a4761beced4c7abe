"""Round trips per request (issue 11): behind RDS Proxy each costs a millisecond or more, so a money
operation's latency is its round-trip count. Counted on the wire helpers (tests/support/roundtrips.py)
for a warm container (the member already known), COMMIT included, the after-commit relay off.

Checkout is one SQL function call that is its own transaction (cart_checkout, migration 0011): one
round trip; issue 11's bound is three including BEGIN and COMMIT."""

from __future__ import annotations

from tests.support.orders import order_key
from tests.support.points import issue_partner
from tests.support.roundtrips import Flights


def warm(api, user: str) -> str:
    """The member exists and the container knows them (the first request of a member creates them)."""
    return str(api.get("/customer", as_user=user).json_body["id"])


def test_add_to_cart_is_one_round_trip(api, flights: Flights, product_ids):
    warm(api, "rt-cart@example.com")
    flights.clear()
    added = api.post("/prod/cart/item", as_user="rt-cart@example.com", json_body={"id": product_ids["T-TEE"]})
    assert added.status_code == 201
    assert len(flights) == 1, flights.statements


def test_an_unknown_product_is_still_one_round_trip(api, flights: Flights):
    warm(api, "rt-cart-unknown@example.com")
    flights.clear()
    added = api.post(
        "/prod/cart/item",
        as_user="rt-cart-unknown@example.com",
        json_body={"id": "00000000-0000-4000-8000-000000000000"},
    )
    assert added.status_code == 404 and added.json_body["code"] == "PRODUCT_NOT_FOUND"
    assert len(flights) == 1, flights.statements


def test_checkout_is_one_round_trip(api, flights: Flights, product_ids):
    user = "rt-checkout@example.com"
    warm(api, user)
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-TEE"], "quantity": 2})
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-MUG"]})
    flights.clear()
    result = api.post("/prod/cart/checkout", as_user=user).json_body
    assert result["success"] is True and result["totalPoints"] == 750
    assert flights.statements == [["SELECT order_id,"]]


def test_a_refused_checkout_adds_the_cart_clearing_transaction(api, flights: Flights, product_ids):
    """Out of stock or short of points: the function's transaction rolled back (cart claim included),
    then the cart is emptied as the contract says: BEGIN + DELETE, COMMIT."""
    user = "rt-refused@example.com"
    warm(api, user)
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-TEE"], "quantity": 4})
    flights.clear()
    result = api.post("/prod/cart/checkout", as_user=user).json_body
    assert result == {"success": False, "error": "Insufficient points. Required: 1200"}
    assert len(flights) == 3, flights.statements


def test_an_empty_cart_is_one_round_trip(api, flights: Flights):
    warm(api, "rt-empty@example.com")
    flights.clear()
    result = api.post("/prod/cart/checkout", as_user="rt-empty@example.com").json_body
    assert result == {"success": False, "error": "Cart is empty"}
    assert len(flights) == 1, flights.statements


def test_order_creation_round_trips(api, flights: Flights, product_ids):
    user = "rt-order@example.com"
    warm(api, user)
    flights.clear()
    created = api.post(
        "/prod/orders",
        as_user=user,
        headers={"Idempotency-Key": order_key()},
        json_body={
            "items": [
                {"item_id": product_ids["T-TEE"], "quantity": 1},
                {"item_id": product_ids["T-MUG"], "quantity": 1},
            ]
        },
    )
    assert created.status_code == 201, created.json_body
    # Was 21 (issue 11). The key registered (one statement, its own transaction); BEGIN + key lock; the
    # items priced in one statement; order_place; the order read back (order, lines, history in one
    # flight); the key completed together with the COMMIT.
    assert flights.statements == [
        ["INSERT INTO"],
        ["START TRANSACTION", "SELECT request_hash,"],
        ["SELECT id,"],
        ["SELECT order_id,"],
        ["SELECT id,", "SELECT order_id,", "SELECT order_id,"],
        ["UPDATE idempotency_keys", "COMMIT"],
    ]


def test_reservation_round_trips(api, flights: Flights, product_ids):
    user = "rt-hold@example.com"
    warm(api, user)
    flights.clear()
    held = api.post("/prod/reservations", as_user=user, json_body={"item_id": product_ids["T-TEE"], "quantity": 1})
    assert held.status_code == 201, held.json_body
    # Was 9: BEGIN + stock taken and priced in one statement; ledger_debit (lock, settle, debit, lots);
    # the hold row together with the COMMIT.
    assert flights.statements == [
        ["START TRANSACTION", "UPDATE products"],
        ["SELECT entry_id,"],
        ["INSERT INTO", "COMMIT"],
    ]
    flights.clear()
    bought = api.post(
        f"/prod/reservations/{held.json_body['reservation']['id']}/purchase",
        as_user=user,
        headers={"Idempotency-Key": order_key()},
    )
    assert bought.status_code == 201, bought.json_body
    # Was 17: the key registered (1); BEGIN + key lock; the hold claimed with its product (one statement);
    # the order from the hold (order_create: order, lines, history, outbox); the hold attached; the order
    # read back (one flight); the key completed with the COMMIT.
    assert flights.statements == [
        ["INSERT INTO"],
        ["START TRANSACTION", "SELECT request_hash,"],
        ["WITH claimed"],
        ["SELECT order_create(:m,"],
        ["UPDATE reservations"],
        ["SELECT id,", "SELECT order_id,", "SELECT order_id,"],
        ["UPDATE idempotency_keys", "COMMIT"],
    ]


def test_partner_purchase_round_trips(api, flights: Flights):
    customer = warm(api, "rt-partner@example.com")
    key = issue_partner("STORE")[1]
    flights.clear()
    reported = api.post(
        "/partner/purchases",
        json_body={"customer_id": customer, "external_id": "RT-1", "amount_usd": 12.34},
        headers={"X-Api-Key": key},
    )
    assert reported.status_code == 201, reported.json_body
    # Was 12: the API key lookup, then BEGIN + member lock + context (one flight), credits, purchase + event,
    # COMMIT.
    assert flights.statements == [
        ["SELECT id,"],
        ["START TRANSACTION", "SELECT id,", "WITH ctx"],
        ["WITH parts"],
        ["WITH p"],
        ["COMMIT"],
    ]


def test_checkouts_and_orders_racing_for_one_members_points_spend_each_point_once(live_server, tokens, db, product_ids):
    """The one-statement checkout and order_place take the same locks in the same order (products in
    id order, then the member, then lots): 16 concurrent spends of 300 points against 1000 points make
    exactly three, the rest are refused with the required amount, no deadlock, and the sums agree."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.http import http_call
    from tests.support.ledger import stock, sums

    user = "rt-race@example.com"
    token = tokens(user)
    assert http_call(live_server, "GET", "/prod/points", token)[0] == 200
    assert http_call(live_server, "POST", "/prod/cart/item", token, {"id": product_ids["T-TEE"]})[0] == 201
    barrier = threading.Barrier(16)

    def spend(i: int):
        barrier.wait()
        if i == 0:
            return http_call(live_server, "POST", "/prod/cart/checkout", token)
        body = {"items": [{"item_id": product_ids["T-TEE"], "quantity": 1}]}
        return http_call(live_server, "POST", "/prod/orders", token, body, headers={"Idempotency-Key": order_key()})

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(spend, range(16)))
    checkout_status, _, checkout_body = results[0]
    orders = results[1:]
    made = sum(1 for s, _, _ in orders if s == 201) + (1 if checkout_body.get("success") else 0)
    assert checkout_status == 200
    assert made == 3, results
    refused = [b for s, _, b in orders if s != 201]
    assert all(
        b["code"] == "INSUFFICIENT_POINTS" and b["error"] == "Insufficient points. Required: 300" for b in refused
    )
    if not checkout_body["success"]:
        assert checkout_body == {"success": False, "error": "Insufficient points. Required: 300"}
    assert sums(db, user) == {"balance": 100, "ledger": 100, "lots": 100}
    assert stock(db, "T-TEE") == 97
