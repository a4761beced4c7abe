from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def sums(db, email: str) -> dict[str, int]:
    from chalicelib.points import ledger_repository as ledger

    with db.reader() as tx:
        member_id = tx.fetch_value("SELECT id FROM members WHERE email = :e", e=email)
        return ledger.sums(tx, member_id)


def test_cart_then_checkout_spends_points_and_records_order(api, db, product_ids):
    user = "shopper@example.com"
    assert (
        api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-TEE"], "quantity": 2}).status_code
        == 201
    )
    added = api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-MUG"]})
    assert added.status_code == 201
    assert added.json_body["item"]["quantity"] == 1
    cart = api.get("/prod/cart", as_user=user).json_body["items"]
    assert {(c["name"], c["quantity"]) for c in cart} == {("Test Tee", 2), ("Test Mug", 1)}

    result = api.post("/prod/cart/checkout", as_user=user).json_body
    assert result["success"] is True
    assert result["totalPoints"] == 750
    assert result["previousBalance"] == 1000
    assert api.get("/prod/points", as_user=user).json_body["points"] == 250
    assert api.get("/prod/cart", as_user=user).json_body == {"items": []}

    history = api.get("/prod/points/tx", as_user=user).json_body["transactions"]
    assert [t["tx_type"] for t in history] == ["SPEND", "BONUS"]
    assert history[0]["id"] == result["txId"] and history[0]["points"] == -750
    detail = api.get(f"/prod/points/tx/{result['txId']}", as_user=user).json_body["transaction"]
    assert {(i["product_name"], i["unit_cnt"], i["unit_points_price"]) for i in detail["items"]} == {
        ("Test Tee", 2, 300),
        ("Test Mug", 1, 150),
    }
    with db.reader() as tx:
        order = tx.fetch_one("SELECT status, total_points FROM orders WHERE id = :o", o=result["orderId"])
        assert order == {"status": "PENDING", "total_points": 750}
        assert tx.fetch_value("SELECT count(*) FROM outbox_events WHERE aggregate_id = :o", o=result["orderId"]) == 1
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-TEE'") == 98
    assert sums(db, user) == {"balance": 250, "ledger": 250, "lots": 250}


def test_insufficient_points_changes_nothing_but_empties_cart(api, db, product_ids):
    user = "poor@example.com"
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-LAMP"], "quantity": 2})
    result = api.post("/prod/cart/checkout", as_user=user)
    assert result.status_code == 200
    assert result.json_body == {"success": False, "error": "Insufficient points. Required: 1400"}
    assert api.get("/prod/cart", as_user=user).json_body == {"items": []}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-LAMP'") == 3
        assert tx.fetch_value("SELECT count(*) FROM orders") == 0
    assert sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}


def test_out_of_stock_and_empty_cart(api, db, product_ids):
    user = "stock@example.com"
    assert api.post("/prod/cart/checkout", as_user=user).json_body == {"success": False, "error": "Cart is empty"}
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-CARD"], "quantity": 1})
    api.post("/prod/cart/item", as_user=user, json_body={"id": product_ids["T-LAMP"], "quantity": 4})
    result = api.post("/prod/cart/checkout", as_user=user).json_body
    assert result == {"success": False, "error": "Out of stock: Test Lamp"}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-CARD'") == 1000
    assert sums(db, user)["balance"] == 1000


def test_concurrent_checkouts_of_one_cart_make_one_order(live_server, tokens, db, product_ids):
    from tests.support.http import http_call

    user = "double@example.com"
    token = tokens(user)
    status, _, _ = http_call(live_server, "POST", "/prod/cart/item", token, {"id": product_ids["T-TEE"], "quantity": 3})
    assert status == 201
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: http_call(live_server, "POST", "/prod/cart/checkout", token), range(12)))
    bodies = [body for _, _, body in results]
    assert all(status == 200 for status, _, _ in results)
    assert sum(1 for b in bodies if b["success"]) == 1
    assert all(b == {"success": False, "error": "Cart is empty"} for b in bodies if not b["success"])
    assert sums(db, user) == {"balance": 100, "ledger": 100, "lots": 100}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM orders") == 1
