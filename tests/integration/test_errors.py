"""Bad input gets a clear 4xx with the error body; never a 500, never a half-written change."""

from __future__ import annotations

import json
import uuid

import pytest

from chalicelib.container import services

USER = "validator@example.com"


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.body
    body = response.json_body
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], list)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return body


def cart_rows(db) -> int:
    with db.reader() as tx:
        return tx.fetch_value("SELECT count(*) FROM cart_items")


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"id": }', b"\xff\xfe", b'{"id": "x"'])
def test_malformed_json_is_400(api, db, raw):
    assert_error(api.post("/prod/cart/item", as_user=USER, raw=raw), 400, "MALFORMED_JSON")
    assert cart_rows(db) == 0


@pytest.mark.parametrize(
    "payload,field",
    [
        ([], "body"),
        ("a string", "body"),
        ({}, "id"),
        ({"id": "not-a-uuid"}, "id"),
        ({"id": None}, "id"),
        ({"id": 12}, "id"),
        ({"quantity": 1}, "id"),
    ],
)
def test_invalid_item_is_400_with_field_details(api, db, product_ids, payload, field):
    body = assert_error(api.post("/prod/cart/item", as_user=USER, json_body=payload), 400, "VALIDATION_ERROR")
    assert any(d["field"] == field for d in body["details"]), body
    assert cart_rows(db) == 0


@pytest.mark.parametrize("quantity", [0, -1, -(10**9), 101, 10**12, 10**100, "2", 1.5, True, None, [1], {"n": 1}])
def test_bad_quantities_are_400(api, db, product_ids, quantity):
    body = assert_error(
        api.post("/prod/cart/item", as_user=USER, json_body={"id": product_ids["T-TEE"], "quantity": quantity}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["details"][0]["field"] == "quantity"
    assert cart_rows(db) == 0


def test_unknown_fields_are_refused(api, product_ids):
    body = assert_error(
        api.post("/prod/cart/item", as_user=USER, json_body={"id": product_ids["T-TEE"], "qty": 2}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["details"][0]["field"] == "qty"


def test_cart_line_cap_is_400_and_keeps_the_line(api, product_ids):
    item = product_ids["T-TEE"]
    assert api.post("/prod/cart/item", as_user=USER, json_body={"id": item, "quantity": 60}).status_code == 201
    assert_error(
        api.post("/prod/cart/item", as_user=USER, json_body={"id": item, "quantity": 60}), 400, "VALIDATION_ERROR"
    )
    assert api.get("/prod/cart", as_user=USER).json_body["items"][0]["quantity"] == 60


def test_unknown_or_inactive_product_is_404(api, db, product_ids):
    assert_error(
        api.post("/prod/cart/item", as_user=USER, json_body={"id": str(uuid.uuid4())}), 404, "PRODUCT_NOT_FOUND"
    )
    with db.transaction() as tx:
        tx.execute("UPDATE products SET active = false WHERE sku = 'T-CAP'")
    assert_error(
        api.post("/prod/cart/item", as_user=USER, json_body={"id": product_ids["T-CAP"]}), 404, "PRODUCT_NOT_FOUND"
    )


def test_body_over_one_megabyte_is_413(api, db, product_ids):
    payload = json.dumps({"id": product_ids["T-TEE"], "pad": "x" * (1024 * 1024)}).encode()
    assert_error(api.post("/prod/cart/item", as_user=USER, raw=payload), 413, "PAYLOAD_TOO_LARGE")
    assert cart_rows(db) == 0


def test_bad_paging_parameters_are_400(api):
    for query in ("limit=0", "limit=101", "limit=abc", "limit=-5"):
        assert_error(api.get(f"/prod/points/tx?{query}", as_user=USER), 400, "VALIDATION_ERROR")
    assert_error(api.get("/prod/points/tx?cursor=%%%garbage", as_user=USER), 400, "VALIDATION_ERROR")


def test_history_pages_with_cursor(api, db):
    from datetime import timedelta

    from chalicelib.points import ledger_repository as ledger

    api.get("/prod/points", as_user=USER)
    with db.transaction() as tx:
        member = tx.fetch_value("SELECT id FROM members WHERE email = :e", e=USER)
        for n in range(1, 6):
            ledger.credit(tx, member, "ADJUST", n, f"credit {n}", lot_lifetime=timedelta(days=30))
    seen, cursor = [], None
    while True:
        path = "/prod/points/tx?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path, as_user=USER).json_body
        seen += page["transactions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [t["points"] for t in seen] == [5, 4, 3, 2, 1, 1000]
    assert len({t["id"] for t in seen}) == 6


def test_cart_deletes_are_204_and_idempotent(api, product_ids):
    for sku in ("T-TEE", "T-MUG", "T-CAP"):
        api.post("/prod/cart/item", as_user=USER, json_body={"id": product_ids[sku]})
    assert api.delete(f"/prod/cart/item/{product_ids['T-TEE']}", as_user=USER).status_code == 204
    assert api.delete(f"/prod/cart/item/{product_ids['T-TEE']}", as_user=USER).status_code == 204
    assert api.delete("/prod/cart/item", as_user=USER, json_body={"id": product_ids["T-MUG"]}).status_code == 204
    assert [i["name"] for i in api.get("/prod/cart", as_user=USER).json_body["items"]] == ["Test Cap"]
    assert api.delete("/prod/cart/item", as_user=USER).status_code == 204
    assert api.get("/prod/cart", as_user=USER).json_body == {"items": []}
    api.post("/prod/cart/item", as_user=USER, json_body={"id": product_ids["T-CAP"]})
    assert api.delete("/prod/cart", as_user=USER).status_code == 204
    assert api.get("/prod/cart", as_user=USER).json_body == {"items": []}
    assert api.delete("/prod/cart/item/garbage", as_user=USER).status_code == 404


def test_unexpected_errors_are_500_without_internals(api, monkeypatch):

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(services().catalog, "products", explode)
    response = api.get("/prod/products")
    assert response.status_code == 500
    assert response.json_body == {"error": "Internal server error.", "code": "INTERNAL", "details": []}
    assert b"secret" not in response.body
