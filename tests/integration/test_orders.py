"""POST/GET /prod/orders, cancel, partner packed/delivered, admin orders: the HTTP contract of orders."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.platform.idempotency import get_idempotency
from tests.support.events import scheduled_event
from tests.support.orders import (
    issue_partner,
    member_id_of,
    move,
    order_key,
    partner_call,
    place,
    status_of,
    stock,
    sums,
)


def test_placed_order_is_pending_with_lines_history_and_points_spent(api, db, product_ids):
    user = "orderer@example.com"
    created = place(api, user, [(product_ids["T-TEE"], 2), (product_ids["T-MUG"], 1)])
    assert created.status_code == 201, created.json_body
    assert "Idempotency-Replay" not in created.headers
    order = created.json_body["order"]
    assert order["status"] == "PENDING" and order["total_points"] == 750
    assert {(i["name"], i["quantity"], i["unit_points_price"]) for i in order["items"]} == {
        ("Test Tee", 2, 300),
        ("Test Mug", 1, 150),
    }
    assert [h["status"] for h in order["history"]] == ["PENDING"]
    assert order["created_at"].endswith("Z") and order["history"][0]["at"].endswith("Z")

    assert api.get(f"/prod/orders/{order['id']}", as_user=user).json_body == {"order": order}
    listed = api.get("/prod/orders", as_user=user).json_body
    assert listed == {"orders": [order], "next_cursor": None}
    assert sums(db, user) == {"balance": 250, "ledger": 250, "lots": 250}
    assert stock(db, "T-TEE") == 98
    with db.reader() as tx:
        events = tx.fetch(
            "SELECT event_type, payload, published_at FROM outbox_events WHERE aggregate_id = :o", o=order["id"]
        )
        source = tx.fetch_value("SELECT source FROM orders WHERE id = :o", o=order["id"])
    assert [e["event_type"] for e in events] == ["OrderCreated"] and source == "ORDER"
    assert events[0]["payload"]["total_points"] == 750
    # The after-commit relay attempt already put it on order-events.
    assert events[0]["published_at"] is not None


def test_same_key_replays_and_a_different_body_conflicts(api, db, product_ids):
    user = "replayer@example.com"
    key = order_key()
    first = place(api, user, [(product_ids["T-CAP"], 1)], key)
    again = place(api, user, [(product_ids["T-CAP"], 1)], key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotency-Replay"] == "true"
    assert again.body == first.body
    other = place(api, user, [(product_ids["T-CAP"], 2)], key)
    assert other.status_code == 409 and other.json_body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert sums(db, user)["balance"] == 800
    # Keys are per member: another member's identical key is a separate request.
    assert place(api, "someone-else@example.com", [(product_ids["T-CAP"], 1)], key).status_code == 201


def test_missing_idempotency_key_is_400(api, product_ids):
    response = api.post(
        "/prod/orders",
        as_user="nokey@example.com",
        json_body={"items": [{"item_id": product_ids["T-CAP"], "quantity": 1}]},
    )
    assert response.status_code == 400
    assert response.json_body["code"] == "VALIDATION_ERROR"
    assert response.json_body["details"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": "tee"}, "items"),
        ({"items": [{"item_id": "ITEM", "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": -1}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": 101}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": 10**18}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": "2"}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": 1.5}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM", "quantity": True}]}, "items.0.quantity"),
        ({"items": [{"item_id": "ITEM"}]}, "items.0.quantity"),
        ({"items": [{"item_id": "not-a-uuid", "quantity": 1}]}, "items.0.item_id"),
        ({"items": [{"item_id": 12, "quantity": 1}]}, "items.0.item_id"),
        ({"items": [{"item_id": "ITEM", "quantity": 1}, {"item_id": "ITEM", "quantity": 2}]}, "items"),
        ({"items": [{"item_id": "ITEM", "quantity": 1, "price": 1}]}, "items.0.price"),
        ({"items": [{"item_id": "ITEM", "quantity": 1}], "discount": 5}, "discount"),
    ],
)
def test_invalid_order_bodies_are_400_with_field_details(api, db, product_ids, payload, field):
    import json

    raw = json.dumps(payload).replace("ITEM", product_ids["T-CAP"]).encode()
    response = api.post(
        "/prod/orders", as_user="invalid@example.com", raw=raw, headers={"Idempotency-Key": order_key()}
    )
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in response.json_body["details"]]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM orders") == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"null"])
def test_malformed_or_non_object_bodies_are_400(api, raw):
    response = api.post(
        "/prod/orders", as_user="malformed@example.com", raw=raw, headers={"Idempotency-Key": order_key()}
    )
    assert response.status_code == 400
    assert response.json_body["code"] in ("MALFORMED_JSON", "VALIDATION_ERROR")
    assert set(response.json_body) == {"error", "code", "details"}


def test_business_refusals_change_nothing(api, db, product_ids):
    user = "refused@example.com"
    unknown = place(api, user, [(str(uuid.uuid4()), 1)])
    assert unknown.status_code == 404 and unknown.json_body["code"] == "ITEM_NOT_FOUND"
    poor = place(api, user, [(product_ids["T-LAMP"], 2)])
    assert poor.status_code == 409 and poor.json_body["code"] == "INSUFFICIENT_POINTS"
    assert poor.json_body["error"] == "Insufficient points. Required: 1400"
    short = place(api, user, [(product_ids["T-CARD"], 1), (product_ids["T-LAMP"], 4)])
    assert short.status_code == 409 and short.json_body["code"] == "OUT_OF_STOCK"
    assert sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    assert stock(db, "T-LAMP") == 3 and stock(db, "T-CARD") == 1000
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM orders") == 0
        assert tx.fetch_value("SELECT count(*) FROM outbox_events") == 0


def test_a_refused_request_can_be_retried_with_the_same_key(api, db, product_ids):
    user = "retry-key@example.com"
    key = order_key()
    assert place(api, user, [(product_ids["T-LAMP"], 2)], key).status_code == 409  # 1400 > 1000
    with db.transaction() as tx:
        tx.execute("UPDATE products SET points_price = 400 WHERE sku = 'T-LAMP'")
    retried = place(api, user, [(product_ids["T-LAMP"], 2)], key)
    assert retried.status_code == 201 and "Idempotency-Replay" not in retried.headers


def test_someone_elses_order_is_404(api, product_ids):
    order_id = place(api, "owner@example.com", [(product_ids["T-CAP"], 1)]).json_body["order"]["id"]
    for response in (
        api.get(f"/prod/orders/{order_id}", as_user="snoop@example.com"),
        api.post(f"/prod/orders/{order_id}/cancel", as_user="snoop@example.com"),
        api.get(f"/prod/orders/{uuid.uuid4()}", as_user="snoop@example.com"),
        api.get("/prod/orders/not-an-id", as_user="snoop@example.com"),
    ):
        assert response.status_code == 404
        assert response.json_body["code"] in ("ORDER_NOT_FOUND", "NOT_FOUND")
    assert api.get("/prod/orders", as_user="snoop@example.com").json_body["orders"] == []
    assert status_of_via_api(api, "owner@example.com", order_id) == "PENDING"


def status_of_via_api(api, user, order_id):
    return api.get(f"/prod/orders/{order_id}", as_user=user).json_body["order"]["status"]


def test_cancel_refunds_the_exact_debit_and_restocks_once(api, db, product_ids):
    user = "canceller@example.com"
    order = place(api, user, [(product_ids["T-TEE"], 3)]).json_body["order"]
    assert sums(db, user)["balance"] == 100 and stock(db, "T-TEE") == 97
    cancelled = api.post(f"/prod/orders/{order['id']}/cancel", as_user=user)
    assert cancelled.status_code == 200
    body = cancelled.json_body["order"]
    assert body["status"] == "CANCELLED" and [h["status"] for h in body["history"]] == ["PENDING", "CANCELLED"]
    assert sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    assert stock(db, "T-TEE") == 100
    again = api.post(f"/prod/orders/{order['id']}/cancel", as_user=user)
    assert again.status_code == 200 and again.json_body["order"]["status"] == "CANCELLED"
    assert sums(db, user)["balance"] == 1000 and stock(db, "T-TEE") == 100
    history = api.get("/prod/points/tx", as_user=user).json_body["transactions"]
    assert [t["tx_type"] for t in history] == ["REFUND", "SPEND", "BONUS"]
    assert history[0]["points"] == 900 and history[0]["order_id"] == order["id"]
    with db.reader() as tx:
        changes = tx.fetch("SELECT payload FROM outbox_events WHERE event_type = 'OrderStatusChanged'")
    assert [(c["payload"]["from_status"], c["payload"]["to_status"]) for c in changes] == [("PENDING", "CANCELLED")]


def test_cancel_after_confirmation_works_and_after_packing_is_409(api, db, product_ids):
    user = "late-cancel@example.com"
    confirmed = place(api, user, [(product_ids["T-CAP"], 1)]).json_body["order"]["id"]
    packed = place(api, user, [(product_ids["T-CAP"], 1)]).json_body["order"]["id"]
    move(db, confirmed, "CONFIRM")
    move(db, packed, "CONFIRM", "PACK")
    assert api.post(f"/prod/orders/{confirmed}/cancel", as_user=user).json_body["order"]["status"] == "CANCELLED"
    refused = api.post(f"/prod/orders/{packed}/cancel", as_user=user)
    assert refused.status_code == 409
    assert refused.json_body == {
        "error": "Cannot cancel an order that is PACKED.",
        "code": "INVALID_TRANSITION",
        "details": [{"status": "PACKED", "action": "CANCEL"}],
    }
    assert status_of(db, packed) == "PACKED"
    assert sums(db, user) == {"balance": 800, "ledger": 800, "lots": 800}


def test_partners_pack_and_deliver_with_no_op_repeats_and_409s(api, db, product_ids):
    warehouse, delivery = issue_partner(api, "WAREHOUSE"), issue_partner(api, "DELIVERY")
    user = "shipped@example.com"
    order_id = place(api, user, [(product_ids["T-MUG"], 1)]).json_body["order"]["id"]

    too_early = partner_call(api, warehouse, order_id, "packed")
    assert too_early.status_code == 409 and too_early.json_body["code"] == "INVALID_TRANSITION"
    move(db, order_id, "CONFIRM")
    not_yet = partner_call(api, delivery, order_id, "delivered")
    assert not_yet.status_code == 409 and not_yet.json_body["details"] == [{"status": "CONFIRMED", "action": "DELIVER"}]

    packed = partner_call(api, warehouse, order_id, "packed")
    assert packed.status_code == 200 and packed.json_body["order"]["status"] == "PACKED"
    repeat = partner_call(api, warehouse, order_id, "packed")
    assert repeat.status_code == 200 and repeat.json_body == packed.json_body
    delivered = partner_call(api, delivery, order_id, "delivered")
    assert delivered.status_code == 200
    assert [h["status"] for h in delivered.json_body["order"]["history"]] == [
        "PENDING",
        "CONFIRMED",
        "PACKED",
        "DELIVERED",
    ]
    assert partner_call(api, delivery, order_id, "delivered").status_code == 200
    late = partner_call(api, warehouse, order_id, "packed")
    assert late.status_code == 409 and late.json_body["details"] == [{"status": "DELIVERED", "action": "PACK"}]
    with db.reader() as tx:
        changes = tx.fetch(
            "SELECT payload FROM outbox_events WHERE event_type = 'OrderStatusChanged' ORDER BY created_at"
        )
    assert [c["payload"]["to_status"] for c in changes] == ["CONFIRMED", "PACKED", "DELIVERED"]


def test_wrong_partner_kind_is_403_and_unknown_order_404(api, product_ids, db):
    store, warehouse = issue_partner(api, "STORE"), issue_partner(api, "WAREHOUSE")
    delivery = issue_partner(api, "DELIVERY")
    order_id = place(api, "kinds@example.com", [(product_ids["T-MUG"], 1)]).json_body["order"]["id"]
    move(db, order_id, "CONFIRM")
    for key, what in ((store, "packed"), (delivery, "packed"), (store, "delivered"), (warehouse, "delivered")):
        response = partner_call(api, key, order_id, what)
        assert response.status_code == 403 and response.json_body["code"] == "FORBIDDEN"
    assert status_of(db, order_id) == "CONFIRMED"
    for missing in (str(uuid.uuid4()), "nope"):
        response = partner_call(api, warehouse, missing, "packed")
        assert response.status_code == 404


MEMBER_ROUTES = [
    ("POST", "/prod/orders"),
    ("GET", "/prod/orders"),
    ("GET", "/prod/orders/{order}"),
    ("POST", "/prod/orders/{order}/cancel"),
    ("POST", "/prod/reservations"),
    ("POST", "/prod/reservations/{order}/purchase"),
    ("DELETE", "/prod/reservations/{order}"),
]
PARTNER_ROUTES = [("POST", "/partner/orders/{order}/packed"), ("POST", "/partner/orders/{order}/delivered")]
ADMIN_ROUTES = [("GET", "/admin/orders"), ("GET", "/admin/dead-letters"), ("POST", "/admin/dead-letters/redrive")]


def test_auth_matrix_members_partners_admins_never_open_each_others_routes(api, tokens, db, product_ids):
    warehouse, delivery = issue_partner(api, "WAREHOUSE"), issue_partner(api, "DELIVERY")
    revoked = issue_partner(api, "WAREHOUSE", "Gone")
    with db.reader() as tx:
        gone_id = tx.fetch_value("SELECT id FROM partners WHERE name = 'Gone'")
    api.delete(f"/admin/partners/{gone_id}", as_user="ops-admin@example.com", admin=True)
    order_id = place(api, "matrix@example.com", [(product_ids["T-CAP"], 1)]).json_body["order"]["id"]
    member, admin = tokens("matrix@example.com"), tokens("ops-admin@example.com", admin=True)

    def call(method, path, headers):
        return api.request(method, path.replace("{order}", order_id), headers=headers, json_body={})

    for method, path in MEMBER_ROUTES:
        for headers in (
            {},
            {"X-Api-Key": warehouse},
            {"Authorization": f"Bearer {warehouse}"},
            {"Authorization": "Bearer not.a.token"},
        ):
            response = call(method, path, headers)
            assert response.status_code == 401, (method, path, headers, response.json_body)
            assert response.json_body["code"] == "UNAUTHORIZED"
    for method, path in PARTNER_ROUTES:
        for headers in (
            {},
            {"Authorization": f"Bearer {member}"},
            {"Authorization": f"Bearer {admin}"},
            {"X-Api-Key": member},
            {"X-Api-Key": revoked},
            {"X-Api-Key": warehouse + "x"},
        ):
            assert call(method, path, headers).status_code == 401, (method, path, headers)
    for method, path in ADMIN_ROUTES:
        assert call(method, path, {}).status_code == 401
        assert call(method, path, {"X-Api-Key": warehouse}).status_code == 401
        assert call(method, path, {"Authorization": f"Bearer {delivery}"}).status_code == 401
        response = call(method, path, {"Authorization": f"Bearer {member}"})
        assert response.status_code == 403 and response.json_body["code"] == "FORBIDDEN"
        assert call(method, path, {"Authorization": f"Bearer {admin}"}).status_code == 200, (method, path)
    assert status_of(db, order_id) == "PENDING"


def test_order_list_pages_with_a_cursor(api, product_ids):
    user = "pager@example.com"
    ids = [place(api, user, [(product_ids["T-CARD"], 1)]).json_body["order"]["id"] for _ in range(3)]
    first = api.get("/prod/orders?limit=2", as_user=user).json_body
    assert [o["id"] for o in first["orders"]] == ids[::-1][:2] and first["next_cursor"]
    second = api.get(f"/prod/orders?limit=2&cursor={first['next_cursor']}", as_user=user).json_body
    assert [o["id"] for o in second["orders"]] == [ids[0]] and second["next_cursor"] is None
    for bad in ("limit=0", "limit=101", "limit=x", "cursor=garbage"):
        response = api.get(f"/prod/orders?{bad}", as_user=user)
        assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"


def test_admin_lists_orders_by_status(api, db, product_ids):
    a = place(api, "a@example.com", [(product_ids["T-CARD"], 1)]).json_body["order"]["id"]
    b = place(api, "b@example.com", [(product_ids["T-CARD"], 1)]).json_body["order"]["id"]
    move(db, b, "CONFIRM")
    admin = {"as_user": "ops-admin@example.com", "admin": True}
    assert [o["id"] for o in api.get("/admin/orders", **admin).json_body["orders"]] == [b, a]
    assert [o["id"] for o in api.get("/admin/orders?status=CONFIRMED", **admin).json_body["orders"]] == [b]
    bad = api.get("/admin/orders?status=LOST", **admin)
    assert bad.status_code == 400 and bad.json_body["details"][0]["field"] == "status"


def test_promise_2_thirty_two_concurrent_identical_orders_make_one(live_server, tokens, db, product_ids):
    """32 concurrent POST /prod/orders with one Idempotency-Key: one order, one debit, identical bodies."""
    from tests.support.http import http_call

    user = "promise2@example.com"
    token = tokens(user)
    assert http_call(live_server, "GET", "/prod/points", token)[0] == 200  # the member exists first
    key = order_key()
    payload = {
        "items": [{"item_id": product_ids["T-TEE"], "quantity": 1}, {"item_id": product_ids["T-MUG"], "quantity": 2}]
    }
    barrier = threading.Barrier(32)

    def call(_):
        barrier.wait()
        return http_call(live_server, "POST", "/prod/orders", token, payload, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(call, range(32)))
    assert [status for status, _, _ in results] == [201] * 32, [b for _, _, b in results]
    assert len({repr(body) for _, _, body in results}) == 1
    assert sum(1 for _, headers, _ in results if headers.get("Idempotency-Replay") != "true") == 1
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM orders") == 1
        assert tx.fetch_value("SELECT count(*) FROM outbox_events WHERE event_type = 'OrderCreated'") == 1
    assert sums(db, user) == {"balance": 400, "ledger": 400, "lots": 400}
    assert stock(db, "T-TEE") == 99 and stock(db, "T-MUG") == 98


def test_a_request_still_in_flight_under_the_same_key_is_409_then_retryable(api, db, product_ids, monkeypatch):
    from chalicelib.platform import idempotency_repository as keys
    from chalicelib.platform.idempotency import fingerprint

    user = "inflight@example.com"
    assert api.get("/prod/points", as_user=user).status_code == 200
    member_id = member_id_of(db, user)
    monkeypatch.setattr(get_idempotency(), "_wait", 0.2)
    key, payload = order_key(), {"items": [{"item_id": product_ids["T-CAP"], "quantity": 1}]}
    scope = f"orders:{member_id}"
    with db.transaction() as tx:
        keys.register(tx, scope, key, fingerprint("POST", "/prod/orders", payload))
    with db.transaction() as tx:
        assert keys.lock(tx, scope, key) is not None  # another request is working under this key
        busy = api.post("/prod/orders", as_user=user, json_body=payload, headers={"Idempotency-Key": key})
        assert busy.status_code == 409 and busy.json_body["code"] == "REQUEST_IN_PROGRESS"
    # That request ended without completing (it crashed): a retry does the work, once.
    done = api.post("/prod/orders", as_user=user, json_body=payload, headers={"Idempotency-Key": key})
    assert done.status_code == 201 and "Idempotency-Replay" not in done.headers
    assert sums(db, user)["balance"] == 800


def test_housekeeping_purges_expired_keys_and_old_dedupe_rows_and_keeps_published_events(api, db, product_ids):
    import app as app_module

    place(api, "keeper@example.com", [(product_ids["T-CAP"], 1)])  # a key, a published event
    place(api, "keeper@example.com", [(product_ids["T-CAP"], 1)])
    with db.transaction() as tx:
        tx.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE ctid = "
            "(SELECT ctid FROM idempotency_keys LIMIT 1)"
        )
        tx.execute(
            "UPDATE outbox_events SET published_at = now() - interval '8 days' WHERE id = "
            "(SELECT id FROM outbox_events ORDER BY created_at LIMIT 1)"
        )
        tx.execute(
            "INSERT INTO processed_events (event_id, event_type, outcome, processed_at) VALUES "
            "(gen_random_uuid(), 'OrderCreated', 'CONFIRMED', now() - interval '31 days'), "
            "(gen_random_uuid(), 'OrderCreated', 'CONFIRMED', now())"
        )
    result = app_module.housekeeping(
        scheduled_event(time="2026-01-01T00:00:00Z"),
        None,
    )
    assert result == {"idempotency_keys": 1, "processed_events": 1}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM idempotency_keys") == 1
        # Events are the archive now: they leave only once exported and past retention (test_event_archive.py).
        assert tx.fetch_value("SELECT count(*) FROM outbox_events") == 2
        assert tx.fetch_value("SELECT count(*) FROM processed_events") == 1
