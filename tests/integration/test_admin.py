"""Admin routes: the authorization matrix, customers, point adjustments, catalog admin, liability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.points import credit, issue_partner, new_member, sums

ADMIN = "boss@example.com"
SOME_ID = "6f1c0f3e-7f0a-4c1e-9d7e-000000000001"

ADMIN_ROUTES = [
    ("GET", "/customers", None),
    ("POST", "/customers", {"email": "matrix@example.com", "first_name": "M", "last_name": "X"}),
    ("GET", f"/customers/{SOME_ID}", None),
    ("POST", "/prod/points/tx", {"customer_id": SOME_ID, "txType": "ADJUST", "points": 5, "description": "x"}),
    ("GET", "/admin/products", None),
    ("POST", "/admin/products", {"sku": "M-1", "name": "M", "category": "C", "points_price": 1}),
    ("PUT", f"/admin/products/{SOME_ID}", {"name": "M"}),
    ("DELETE", f"/admin/products/{SOME_ID}", None),
    ("PUT", f"/admin/products/{SOME_ID}/stock", {"stock": 1}),
    ("GET", "/admin/reports/liability", None),
]


@pytest.mark.parametrize("method, path, body", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
def test_admin_authorization_matrix(api, method, path, body):
    key = issue_partner("STORE")[1]
    headers = {"Idempotency-Key": "matrix-1"}
    nobody = api.request(method, path, json_body=body, headers=headers)
    assert nobody.status_code == 401 and nobody.json_body["code"] == "UNAUTHORIZED"
    forged = api.request(method, path, token="not.a.jwt", json_body=body, headers=headers)
    assert forged.status_code == 401
    partner = api.request(method, path, json_body=body, headers={**headers, "X-Api-Key": key})
    assert partner.status_code == 401
    member = api.request(method, path, as_user="member@example.com", json_body=body, headers=headers)
    assert member.status_code == 403 and member.json_body["code"] == "FORBIDDEN"
    admin = api.request(method, path, as_user=ADMIN, admin=True, json_body=body, headers=headers)
    assert admin.status_code not in (401, 403, 500), admin.json_body


def test_members_cannot_mint_points(api, db):
    me = api.get("/customer", as_user="minter@example.com").json_body["id"]
    response = api.post(
        "/prod/points/tx",
        as_user="minter@example.com",
        headers={"Idempotency-Key": "mint"},
        json_body={"customer_id": me, "txType": "ADJUST", "points": 1000000, "description": "free"},
    )
    assert response.status_code == 403
    assert sums(db, me)["balance"] == 1000


# -- customers ------------------------------------------------------------------------------------
def test_in_store_sign_up_then_first_sign_in_finds_the_member(api, db):
    created = api.post(
        "/customers",
        as_user=ADMIN,
        admin=True,
        json_body={
            "email": "Walk.In@Example.com",
            "first_name": "Wally",
            "last_name": "Walker",
            "phone": "+1 555 0100",
            "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip_code": "62701"},
        },
    )
    assert created.status_code == 201, created.json_body
    customer = created.json_body["customer"]
    assert customer["email"] == "walk.in@example.com" and customer["balance"] == 1000 and customer["tier"] == "BRONZE"
    assert customer["address"]["city"] == "Springfield"

    profile = api.get("/customer", as_user="walk.in@example.com").json_body
    assert (
        profile["id"] == customer["id"] and profile["firstName"] == "Wally" and profile["address"]["zipCode"] == "62701"
    )
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM members WHERE email = 'walk.in@example.com'") == 1
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE member_id = :m", m=customer["id"]) == 1

    again = api.post(
        "/customers",
        as_user=ADMIN,
        admin=True,
        json_body={"email": "WALK.IN@example.com", "first_name": "W", "last_name": "W"},
    )
    assert again.status_code == 409 and again.json_body["code"] == "MEMBER_EXISTS"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "bad", "first_name": "A", "last_name": "B"},
        {"email": "a@b.co", "first_name": "", "last_name": "B"},
        {"email": "a@b.co", "last_name": "B"},
        {"email": "a@b.co", "first_name": "A", "last_name": "B", "balance": 1000000},
        {"email": "a@b.co", "first_name": "A", "last_name": "B", "address": {"planet": "Mars"}},
        {"email": "a@b.co", "first_name": "A\u0000", "last_name": "B"},
    ],
)
def test_sign_up_validation(api, body):
    response = api.post("/customers", as_user=ADMIN, admin=True, json_body=body)
    assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"


def test_customer_search_and_paging(api):
    for first, last in [("Ann", "Archer"), ("Bob", "Baker"), ("Anna", "Anderson"), ("Cy", "Cole")]:
        api.post(
            "/customers",
            as_user=ADMIN,
            admin=True,
            json_body={"email": f"{first.lower()}@shop.test", "first_name": first, "last_name": last},
        )
    page = api.get("/customers?q=ANN", as_user=ADMIN, admin=True).json_body
    assert {c["email"] for c in page["customers"]} == {"ann@shop.test", "anna@shop.test"}
    assert page["next_cursor"] is None
    assert [c["email"] for c in api.get("/customers?q=baker", as_user=ADMIN, admin=True).json_body["customers"]] == [
        "bob@shop.test"
    ]
    assert api.get("/customers?q=%25", as_user=ADMIN, admin=True).json_body["customers"] == []  # LIKE escaped

    seen, cursor = [], None
    while True:
        path = "/customers?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(path, as_user=ADMIN, admin=True).json_body
        seen += [c["email"] for c in body["customers"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (
        sorted(seen) == sorted({"ann@shop.test", "bob@shop.test", "anna@shop.test", "cy@shop.test"}) and len(seen) == 4
    )
    assert api.get("/customers?cursor=garbage", as_user=ADMIN, admin=True).status_code == 400
    assert api.get("/customers?q=a%00b", as_user=ADMIN, admin=True).status_code == 400
    assert api.get("/customers?limit=0", as_user=ADMIN, admin=True).status_code == 400


def test_one_customer_with_balance_and_tier(api, db):
    me = api.get("/customer", as_user="detail@example.com").json_body["id"]
    credit(db, me, 5000, at=datetime.now(UTC))
    with db.transaction() as tx:
        tx.execute("UPDATE members SET tier = 'SILVER' WHERE id = :m", m=me)
    body = api.get(f"/customers/{me}", as_user=ADMIN, admin=True).json_body["customer"]
    assert (body["balance"], body["tier"], body["qualifying_points"]) == (6000, "SILVER", 5000)
    assert body["next_tier"] == "GOLD" and body["points_to_next_tier"] == 15000
    for bad in (SOME_ID, "not-a-uuid"):
        response = api.get(f"/customers/{bad}", as_user=ADMIN, admin=True)
        assert response.status_code == 404 and response.json_body["code"] in ("MEMBER_NOT_FOUND", "NOT_FOUND")


# -- adjustments ----------------------------------------------------------------------------------
def adjust(api, key, **body):
    return api.post(
        "/prod/points/tx",
        as_user=ADMIN,
        admin=True,
        headers={"Idempotency-Key": key},
        json_body={"txType": "ADJUST", **body},
    )


def test_adjustments_positive_negative_and_never_below_zero(api, db):
    me = api.get("/customer", as_user="adjusted@example.com").json_body["id"]
    up = adjust(api, "adj-1", customer_id=me, points=250, description="Goodwill: late delivery")
    assert up.status_code == 201, up.json_body
    assert up.json_body["balance"] == 1250
    assert up.json_body["transaction"]["tx_type"] == "ADJUST" and up.json_body["transaction"]["points"] == 250
    replay = adjust(api, "adj-1", customer_id=me, points=250, description="Goodwill: late delivery")
    assert replay.status_code == 201 and replay.headers["Idempotency-Replay"] == "true"
    assert replay.json_body == up.json_body
    reused = adjust(api, "adj-1", customer_id=me, points=251, description="Goodwill: late delivery")
    assert reused.status_code == 409 and reused.json_body["code"] == "IDEMPOTENCY_KEY_REUSED"

    down = adjust(api, "adj-2", customer_id=me, points=-1100, description="Duplicate credit")
    assert down.status_code == 201 and down.json_body["balance"] == 150
    too_much = adjust(api, "adj-3", customer_id=me, points=-151, description="Too much")
    assert too_much.status_code == 409 and too_much.json_body["code"] == "INSUFFICIENT_POINTS"
    exact = adjust(api, "adj-4", customer_id=me, points=-150, description="To zero")
    assert exact.status_code == 201 and exact.json_body["balance"] == 0
    assert sums(db, me) == {"balance": 0, "ledger": 0, "lots": 0}
    with db.reader() as tx:
        recorded = tx.fetch(
            "SELECT points, description, created_by FROM ledger_entries WHERE member_id = :m "
            "AND entry_type = 'ADJUST' ORDER BY created_at",
            m=me,
        )
    assert [(r["points"], r["created_by"]) for r in recorded] == [(250, ADMIN), (-1100, ADMIN), (-150, ADMIN)]
    assert recorded[0]["description"] == "Goodwill: late delivery"


def test_negative_adjustment_takes_soonest_expiring_points_first(api, db):
    member = new_member(db, "fifo.adjust@example.com")
    now = datetime.now(UTC)
    late = credit(db, member, 100, at=now)
    soon = credit(db, member, 100, at=now - timedelta(days=300))
    assert adjust(api, "fifo-1", customer_id=str(member), points=-150, description="fix").status_code == 201
    with db.reader() as tx:
        remaining = {r["id"]: r["points_remaining"] for r in tx.fetch("SELECT id, points_remaining FROM point_lots")}
    assert remaining == {soon: 0, late: 50}


@pytest.mark.parametrize(
    "body, headers",
    [
        ({"points": 0, "description": "zero"}, {"Idempotency-Key": "v1"}),
        ({"points": 5}, {"Idempotency-Key": "v2"}),
        ({"points": 5, "description": "   "}, {"Idempotency-Key": "v3"}),
        ({"points": 5.5, "description": "float"}, {"Idempotency-Key": "v4"}),
        ({"points": 5, "description": "type", "txType": "EARN"}, {"Idempotency-Key": "v5"}),
        ({"points": 5, "description": "no key"}, {}),
    ],
)
def test_adjustment_validation(api, body, headers):
    me = api.get("/customer", as_user="valid.adjust@example.com").json_body["id"]
    response = api.post(
        "/prod/points/tx",
        as_user=ADMIN,
        admin=True,
        headers=headers,
        json_body={"customer_id": me, "txType": "ADJUST", **body},
    )
    assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"


def test_adjusting_an_unknown_customer_is_404(api):
    response = adjust(api, "unknown-1", customer_id=SOME_ID, points=5, description="x")
    assert response.status_code == 404 and response.json_body["code"] == "MEMBER_NOT_FOUND"


# -- products -------------------------------------------------------------------------------------
def admin(api, method, path, body=None):
    return api.request(method, path, as_user=ADMIN, admin=True, json_body=body)


def test_product_lifecycle(api):
    created = admin(
        api,
        "POST",
        "/admin/products",
        {
            "sku": "NEW-1",
            "name": "New Thing",
            "description": "Shiny",
            "category": "Gadgets",
            "points_price": 450,
            "usd_price": 4.5,
            "rating": 4.5,
            "stock": 7,
        },
    )
    assert created.status_code == 201, created.json_body
    product = created.json_body["product"]
    assert (product["stock"], product["active"]) == (7, True)
    public = api.get(f"/prod/products/{product['id']}").json_body["product"]
    assert public["name"] == "New Thing" and "stock" not in public

    assert (
        admin(
            api, "POST", "/admin/products", {"sku": "NEW-1", "name": "x", "category": "c", "points_price": 1}
        ).json_body["code"]
        == "SKU_EXISTS"
    )
    changed = admin(
        api, "PUT", f"/admin/products/{product['id']}", {"name": "Renamed", "points_price": 500, "rating": None}
    )
    assert changed.status_code == 200
    assert (changed.json_body["product"]["name"], changed.json_body["product"]["points_price"]) == ("Renamed", 500)
    assert changed.json_body["product"]["rating"] is None
    assert api.get(f"/prod/products/{product['id']}").json_body["product"]["points_price"] == 500
    assert admin(api, "PUT", f"/admin/products/{product['id']}", {"sku": "T-TEE"}).status_code == 409

    assert admin(api, "PUT", f"/admin/products/{product['id']}/stock", {"stock": 2}).json_body["product"]["stock"] == 2
    assert admin(api, "PUT", f"/admin/products/{product['id']}/stock", {"delta": 3}).json_body["product"]["stock"] == 5
    below = admin(api, "PUT", f"/admin/products/{product['id']}/stock", {"delta": -6})
    assert below.status_code == 409 and below.json_body["code"] == "STOCK_BELOW_ZERO"

    gone = admin(api, "DELETE", f"/admin/products/{product['id']}")
    assert gone.status_code == 200 and gone.json_body["product"]["active"] is False
    assert admin(api, "DELETE", f"/admin/products/{product['id']}").status_code == 200  # repeatable
    assert api.get(f"/prod/products/{product['id']}").status_code == 404
    assert product["id"] not in [p["id"] for p in api.get("/prod/products").json_body["products"]]
    listed = admin(api, "GET", "/admin/products?limit=100").json_body["products"]
    assert any(p["id"] == product["id"] and p["active"] is False for p in listed)
    back = admin(api, "PUT", f"/admin/products/{product['id']}", {"active": True})
    assert back.json_body["product"]["active"] is True and api.get(f"/prod/products/{product['id']}").status_code == 200


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("POST", "/admin/products", {"sku": "B-1", "name": "x", "category": "c", "points_price": 0}, 400),
        ("POST", "/admin/products", {"sku": "B 1", "name": "x", "category": "c", "points_price": 1}, 400),
        ("POST", "/admin/products", {"sku": "B-1", "category": "c", "points_price": 1}, 400),
        ("POST", "/admin/products", {"sku": "B-1", "name": "x", "category": "c", "points_price": 1, "stock": -1}, 400),
        ("PUT", "/admin/products/{id}", {}, 400),
        ("PUT", "/admin/products/{id}", {"name": None}, 400),
        ("PUT", "/admin/products/{id}", {"stock": 5}, 400),
        ("PUT", "/admin/products/{id}/stock", {"stock": 1, "delta": 1}, 400),
        ("PUT", "/admin/products/{id}/stock", {}, 400),
        ("PUT", "/admin/products/{id}/stock", {"stock": -1}, 400),
        ("PUT", f"/admin/products/{SOME_ID}", {"name": "x"}, 404),
        ("PUT", "/admin/products/not-a-uuid", {"name": "x"}, 404),
        ("DELETE", f"/admin/products/{SOME_ID}", None, 404),
        ("PUT", f"/admin/products/{SOME_ID}/stock", {"delta": 1}, 404),
        ("PUT", f"/admin/products/{SOME_ID}/stock", {"stock": 1}, 404),
    ],
)
def test_product_admin_errors(api, product_ids, method, path, body, status):
    response = admin(api, method, path.replace("{id}", product_ids["T-MUG"]), body)
    assert response.status_code == status, response.json_body
    assert set(response.json_body) == {"error", "code", "details"}


# -- liability ------------------------------------------------------------------------------------
def test_liability_report(api, db):
    now = datetime.now(UTC)
    bronze = new_member(db, "liab.bronze@example.com")
    gold = new_member(db, "liab.gold@example.com")
    with db.transaction() as tx:
        tx.execute("UPDATE members SET tier = 'GOLD' WHERE id = :m", m=gold)
    new_member(db, "liab.empty@example.com")
    credit(db, bronze, 100, at=now - timedelta(days=365 - 10))  # expires in 10 days
    credit(db, bronze, 200, at=now - timedelta(days=365 - 45))  # in 45 days
    credit(db, gold, 400, at=now - timedelta(days=365 - 80))  # in 80 days
    credit(db, gold, 800, at=now)  # in a year
    credit(db, gold, 50, at=now - timedelta(days=400))  # lapsed, not yet expired by the job

    report = admin(api, "GET", "/admin/reports/liability").json_body
    assert report["outstanding_points"] == 1550 and report["members_with_points"] == 2
    assert report["lapsed_pending_points"] == 50
    assert report["expiring_within"] == {"days_30": 100, "days_60": 300, "days_90": 700}
    tiers = {t["tier"]: t for t in report["by_tier"]}
    assert set(tiers) == {"BRONZE", "SILVER", "GOLD"}
    assert (tiers["BRONZE"]["members"], tiers["BRONZE"]["outstanding_points"]) == (2, 300)
    assert tiers["GOLD"]["expiring_within"] == {"days_30": 0, "days_60": 0, "days_90": 400}
    assert tiers["GOLD"]["lapsed_pending_points"] == 50
    assert tiers["SILVER"] == {
        "tier": "SILVER",
        "members": 0,
        "members_with_points": 0,
        "outstanding_points": 0,
        "lapsed_pending_points": 0,
        "expiring_within": {"days_30": 0, "days_60": 0, "days_90": 0},
        "pending_points": 0,
        "uncollected_points": 0,
    }
    assert report["as_of"].endswith("Z")
