from __future__ import annotations

import uuid


def test_products_lists_every_active_product_in_stable_order(api, product_ids):
    response = api.get("/prod/products")
    assert response.status_code == 200
    products = response.json_body["products"]
    assert [p["name"] for p in products] == sorted(p["name"] for p in products)
    assert {p["sku"] for p in products} == set(product_ids)
    first = products[0]
    assert set(first) >= {
        "id",
        "name",
        "description",
        "category",
        "points_price",
        "usd_price",
        "sku",
        "rating",
        "image_url",
    }
    assert isinstance(first["points_price"], int)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_inactive_products_are_hidden(api, db, product_ids):
    with db.transaction() as tx:
        tx.execute("UPDATE products SET active = false WHERE sku = 'T-CAP'")
    names = [p["name"] for p in api.get("/prod/products").json_body["products"]]
    assert "Test Cap" not in names
    assert api.get(f"/prod/products/{product_ids['T-CAP']}").status_code == 404


def test_categories_sorted_on_both_paths(api):
    expected = ["Apparel", "Electronics", "Gift Cards", "Home & Kitchen"]
    assert api.get("/prod/products/categories").json_body == {"categories": expected}
    assert api.get("/prod/category").json_body == {"categories": expected}


def test_product_by_id(api, product_ids):
    response = api.get(f"/prod/products/{product_ids['T-MUG']}")
    assert response.status_code == 200
    assert response.json_body["product"]["name"] == "Test Mug"


def test_unknown_and_malformed_product_ids_are_404(api):
    for bad in (str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"):
        response = api.get(f"/prod/products/{bad}")
        assert response.status_code == 404, bad
        assert response.json_body["code"] == "PRODUCT_NOT_FOUND" or response.json_body["code"] == "NOT_FOUND"
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_category_listing(api):
    response = api.get("/category/Apparel")
    assert response.status_code == 200
    assert {p["name"] for p in response.json_body["products"]} == {"Test Tee", "Test Cap"}
    assert api.get("/category/Home%20%26%20Kitchen").json_body["products"][0]["name"] == "Test Mug"
    assert api.get("/category/Nothing").json_body == {"products": []}


def test_preflight_needs_no_auth_and_allows_contract_headers(live_server):
    # Over a real socket: chalice's test client cannot represent a body-less preflight response.
    from tests.support.http import http_call

    for path in ("/prod/cart/checkout", "/prod/products", "/customer"):
        status, headers, _ = http_call(
            live_server,
            "OPTIONS",
            path,
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert status == 200, path
        allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
        assert {
            "content-type",
            "authorization",
            "x-api-key",
            "idempotency-key",
            "x-amz-date",
            "x-amz-security-token",
        } <= allowed
        assert headers["Access-Control-Allow-Origin"] == "*"


def test_the_catalog_list_is_byte_for_byte_what_its_schema_gives_from_typed_rows(api, db, product_ids):
    """The list is built from its rows without pydantic (catalog/routes.py::product_list, the id read as text);
    the schema built from the full Product rows must give the very same bytes."""
    from chalicelib.catalog.models import Product
    from chalicelib.catalog.repository import _COLUMNS
    from chalicelib.catalog.schemas import ProductList
    from chalicelib.platform.http import json_response

    with db.transaction() as tx:
        tx.execute("UPDATE products SET usd_price = 12.5, rating = 4.25 WHERE sku = 'T-CAP'")
        rows = tx.rows(Product, f"SELECT {_COLUMNS} FROM products WHERE active ORDER BY name, id")
    served = api.get("/prod/products")
    assert served.status_code == 200 and len(rows) == len(product_ids)
    assert served.body == json_response(ProductList.model_validate({"products": rows})).body.encode()
