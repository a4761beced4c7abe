"""Data requests: a member's export holds all of their data and nobody else's; erasure removes the person
(profile, sign-in, the identity provider's user) and keeps the accounting, forfeiting points with a ledger
row of its own, releasing holds and cancelling open orders; erasing twice (or 8 times at once) is one
erasure; an erased member is in no list, search or export, and the old sign-in enrols nobody.

Every test signs in with addresses of its own: erasure deletes users from the session's user pool.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools import localaws
from tests.support.http import http_call
from tests.support.ledger import stock, sums
from tests.support.orders import issue_partner, order_key, place

ADMIN = "privacy-admin@example.com"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def erase(api, customer_id: str, key: str | None = None):
    return api.post(
        f"/customers/{customer_id}/erase", as_user=ADMIN, admin=True, headers={"Idempotency-Key": key or order_key()}
    )


def member_with_history(api, product_ids, email: str) -> dict:
    """A signed-in member with a purchase, an order, a held reservation and a cart line."""
    me = api.get("/customer", as_user=email).json_body["id"]
    key = issue_partner(api, "STORE")
    earned = api.post(
        "/partner/purchases",
        headers={"X-Api-Key": key},
        json_body={"customer_id": me, "external_id": f"r-{uuid.uuid4().hex[:6]}", "amount_usd": "25.00"},
    )
    assert earned.status_code == 201, earned.json_body
    order = place(api, email, [(product_ids["T-CAP"], 1)])
    assert order.status_code == 201, order.json_body
    held = api.post("/prod/reservations", as_user=email, json_body={"item_id": product_ids["T-MUG"], "quantity": 2})
    assert held.status_code == 201, held.json_body
    assert api.post("/prod/cart/item", as_user=email, json_body={"id": product_ids["T-TEE"]}).status_code == 201
    return {"id": me, "order": order.json_body["order"]["id"], "reservation": held.json_body["reservation"]["id"]}


# -- export -----------------------------------------------------------------------------------------
def test_the_export_holds_every_section_of_that_member_and_nothing_of_another(api, db, product_ids):
    alice, bob = unique("alice"), unique("bob")
    mine = member_with_history(api, product_ids, alice)
    member_with_history(api, product_ids, bob)

    response = api.get("/prod/me/export", as_user=alice)
    assert response.status_code == 200, response.json_body
    doc = response.json_body
    assert doc["member"]["id"] == mine["id"] and doc["member"]["email"] == alice and doc["member"]["signed_in"]
    assert {e["entry_type"] for e in doc["ledger"]} == {"BONUS", "EARN", "SPEND"}
    assert (
        doc["points"]["balance"]
        == sum(e["points"] for e in doc["ledger"])
        == sum(lot["points_remaining"] for lot in doc["lots"])
    )
    assert [o["id"] for o in doc["orders"]] == [mine["order"]]
    assert doc["orders"][0]["items"][0]["name"] == "Test Cap" and doc["orders"][0]["history"][0]["status"] == "PENDING"
    assert [r["id"] for r in doc["reservations"]] == [mine["reservation"]]
    assert len(doc["partner_purchases"]) == 1 and doc["partner_purchases"][0]["amount_usd"] == "25.00"
    assert doc["exported_at"].endswith("Z") and doc["ledger"][0]["created_at"].endswith("Z")
    text = response.body.decode()
    assert bob not in text and sums(db, bob)["balance"] > 0

    admin_view = api.get(f"/customers/{mine['id']}/export", as_user=ADMIN, admin=True)
    assert admin_view.status_code == 200
    assert admin_view.json_body["ledger"] == doc["ledger"] and admin_view.json_body["orders"] == doc["orders"]


def test_export_needs_the_member_or_an_admin(api):
    someone = api.get("/customer", as_user=unique("someone")).json_body["id"]
    assert api.get("/prod/me/export").status_code == 401
    assert api.get(f"/customers/{someone}/export", as_user=unique("nosy")).status_code == 403
    unknown = api.get(f"/customers/{uuid.uuid4()}/export", as_user=ADMIN, admin=True)
    assert unknown.status_code == 404 and unknown.json_body["code"] == "MEMBER_NOT_FOUND"


# -- erasure ----------------------------------------------------------------------------------------
def test_erasure_forfeits_the_points_gives_back_holds_and_orders_and_forgets_the_person(api, db, aws, product_ids):
    email = unique("leaver")
    mine = member_with_history(api, product_ids, email)
    member_id = mine["id"]
    before = sums(db, member_id)
    liability_before = api.get("/admin/reports/liability", as_user=ADMIN, admin=True).json_body
    mug_stock, cap_stock = stock(db, "T-MUG"), stock(db, "T-CAP")

    response = erase(api, member_id)

    assert response.status_code == 200, response.json_body
    erasure = response.json_body["erasure"]
    # The order (a 200-point cap) and the hold (2 x 150) were given back before the forfeit.
    assert erasure["orders_cancelled"] == 1 and erasure["reservations_released"] == 1
    assert erasure["points_forfeited"] == before["balance"] + 200 + 300
    assert erasure["identity_deleted"] is True
    assert sums(db, member_id) == {"balance": 0, "ledger": 0, "lots": 0}
    with db.reader() as tx:
        forfeit = tx.fetch(
            "SELECT points, created_by FROM ledger_entries WHERE member_id = :m AND entry_type = 'FORFEIT'",
            m=member_id,
        )
        row = tx.fetch_one("SELECT * FROM members WHERE id = :m", m=member_id)
        order_status = tx.fetch_value("SELECT status FROM orders WHERE id = :o", o=mine["order"])
        hold_status = tx.fetch_value("SELECT status FROM reservations WHERE id = :r", r=mine["reservation"])
        cart = tx.fetch_value("SELECT count(*) FROM cart_items WHERE member_id = :m", m=member_id)
        purchases = tx.fetch_value("SELECT count(*) FROM partner_purchases WHERE member_id = :m", m=member_id)
        event = tx.fetch_one("SELECT payload FROM outbox_events WHERE event_type = 'MemberErased'")
    assert [int(f["points"]) for f in forfeit] == [-erasure["points_forfeited"]]
    assert forfeit[0]["created_by"] == ADMIN
    assert row["email"] == f"erased:{member_id}" and row["erased_at"] is not None
    assert all(row[c] == "" for c in ("first_name", "last_name", "phone", "street", "city", "state", "zip_code"))
    assert row["identity_subject"] is None and row["identity_issuer"] is None
    assert (order_status, hold_status, cart, purchases) == ("CANCELLED", "RELEASED", 0, 1)
    assert (stock(db, "T-MUG"), stock(db, "T-CAP")) == (mug_stock + 2, cap_stock + 1)
    assert event["payload"]["points_forfeited"] == erasure["points_forfeited"]

    liability_after = api.get("/admin/reports/liability", as_user=ADMIN, admin=True).json_body
    assert liability_before["outstanding_points"] - liability_after["outstanding_points"] == before["balance"]

    # The identity provider's user is gone: the password no longer signs in, the old token enrols nobody.
    idp = localaws.client("cognito-idp", aws.endpoint)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=aws.user_pool_id, Username=email)
    with pytest.raises(Exception, match=r"NotAuthorized|UserNotFound"):
        localaws.id_token(aws.endpoint, aws.client_id, email)
    stale = api.get("/prod/points", as_user=email)
    assert stale.status_code == 401 and stale.json_body["code"] == "IDENTITY_ERASED"

    # Nowhere to be found by admins.
    listed = api.get("/customers?limit=100", as_user=ADMIN, admin=True).json_body["customers"]
    assert member_id not in {c["id"] for c in listed}
    assert api.get("/customers?q=leaver", as_user=ADMIN, admin=True).json_body["customers"] == []
    for path in (f"/customers/{member_id}", f"/customers/{member_id}/export"):
        gone = api.get(path, as_user=ADMIN, admin=True)
        assert gone.status_code == 404 and gone.json_body["code"] == "MEMBER_ERASED"

    # Signing up again with the same email is a new member, with a new welcome bonus.
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
    fresh = localaws.id_token(aws.endpoint, aws.client_id, email)
    again = api.get("/customer", token=fresh).json_body
    assert "id" in again, again
    assert again["id"] != member_id and again["email"] == email
    assert api.get("/prod/points", token=fresh).json_body["points"] == 1000


def test_erasing_twice_is_a_no_op_that_answers_the_first_erasure(api, db):
    email = unique("twice")
    member_id = api.get("/customer", as_user=email).json_body["id"]
    before = api.get("/admin/reports/liability", as_user=ADMIN, admin=True).json_body
    owed = before["outstanding_points"]
    first = erase(api, member_id, key="erase-1")
    replay = erase(api, member_id, key="erase-1")
    again = erase(api, member_id, key="erase-2")
    assert first.status_code == replay.status_code == again.status_code == 200
    assert replay.headers.get("Idempotency-Replay") == "true"
    assert replay.json_body == first.json_body == again.json_body
    assert first.json_body["erasure"]["points_forfeited"] == 1000
    liability = api.get("/admin/reports/liability", as_user=ADMIN, admin=True).json_body
    assert owed - liability["outstanding_points"] == 1000  # exactly the forfeit
    members = sum(t["members"] for t in liability["by_tier"])
    assert sum(t["members"] for t in before["by_tier"]) - members == 1  # no longer a member of the program
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'FORFEIT'") == 1
        assert tx.fetch_value("SELECT count(*) FROM outbox_events WHERE event_type = 'MemberErased'") == 1


def test_eight_concurrent_erasures_of_one_member_erase_once(api, db, live_server, tokens):
    email = unique("racer")
    member_id = api.get("/customer", as_user=email).json_body["id"]
    admin = tokens(ADMIN, admin=True)

    def one(n: int):
        return http_call(
            live_server, "POST", f"/customers/{member_id}/erase", admin, headers={"Idempotency-Key": f"race-{n}"}
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert [status for status, _, _ in results] == [200] * 8
    assert len({str(body["erasure"]) for _, _, body in results}) == 1
    assert results[0][2]["erasure"]["points_forfeited"] == 1000
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'FORFEIT'") == 1
        assert tx.fetch_value("SELECT count(*) FROM member_erasures") == 1
    assert sums(db, member_id) == {"balance": 0, "ledger": 0, "lots": 0}


def test_an_in_store_customer_who_never_signed_in_is_erased_with_their_pool_user(api, db, aws):
    email = unique("instore")
    localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)  # has a login, never used the app
    created = api.post(
        "/customers", as_user=ADMIN, admin=True, json_body={"email": email, "first_name": "In", "last_name": "Store"}
    )
    customer_id = created.json_body["customer"]["id"]
    response = erase(api, customer_id)
    assert response.status_code == 200
    assert response.json_body["erasure"]["identity_deleted"] is True
    idp = localaws.client("cognito-idp", aws.endpoint)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=aws.user_pool_id, Username=email)


def test_an_erased_member_is_never_credited_again(api, db):
    email = unique("credit")
    member_id = api.get("/customer", as_user=email).json_body["id"]
    assert erase(api, member_id).status_code == 200
    key = issue_partner(api, "STORE")
    purchase = api.post(
        "/partner/purchases",
        headers={"X-Api-Key": key},
        json_body={"customer_id": member_id, "external_id": "after-erasure", "amount_usd": "10.00"},
    )
    assert purchase.status_code == 404
    adjust = api.post(
        "/prod/points/tx",
        as_user=ADMIN,
        admin=True,
        headers={"Idempotency-Key": order_key()},
        json_body={"customer_id": member_id, "txType": "ADJUST", "points": 50, "description": "oops"},
    )
    assert adjust.status_code == 404
    assert sums(db, member_id) == {"balance": 0, "ledger": 0, "lots": 0}


def test_erasure_of_unknown_customers_and_by_non_admins_is_refused(api):
    unknown = erase(api, str(uuid.uuid4()))
    assert unknown.status_code == 404 and unknown.json_body["code"] == "MEMBER_NOT_FOUND"
    member = api.get("/customer", as_user=unique("victim")).json_body["id"]
    by_member = api.post(
        f"/customers/{member}/erase", as_user=unique("vandal"), headers={"Idempotency-Key": order_key()}
    )
    assert by_member.status_code == 403
    no_key = api.post(f"/customers/{member}/erase", as_user=ADMIN, admin=True)
    assert no_key.status_code == 400


def test_an_unreachable_identity_provider_erases_nothing(api, db, monkeypatch):
    from chalicelib.container import services
    from chalicelib.platform.errors import DependencyUnavailable

    email = unique("offline")
    member_id = api.get("/customer", as_user=email).json_body["id"]

    def down(**_):
        raise DependencyUnavailable("down", code="IDENTITY_PROVIDER_UNAVAILABLE")

    monkeypatch.setattr(services().identity_provider, "delete_user", down)
    response = erase(api, member_id, key="offline-1")
    assert response.status_code == 503 and response.json_body["code"] == "IDENTITY_PROVIDER_UNAVAILABLE"
    assert sums(db, member_id)["balance"] == 1000
    assert api.get("/customer", as_user=email).json_body["email"] == email
    monkeypatch.undo()
    assert erase(api, member_id, key="offline-1").status_code == 200  # the failed attempt recorded nothing


def test_erasure_forfeits_pending_points_and_the_export_lists_purchase_credits_and_returns(api, db):
    """Points still in a purchase's return window are forfeited too (they never vest into an erased member),
    recorded as forfeited rather than returned, so the purchase invariants hold; the export shows the
    purchase's credits and its returns."""
    from datetime import timedelta

    from tests.support.points import T0, Loyalty, app_settings, credits_of

    with app_settings(POINTS_PENDING_DAYS="14"):
        loyalty = Loyalty(db, points_pending_days=14)
        me = api.get("/customer", as_user=unique("pending")).json_body["id"]
        loyalty.buy(uuid.UUID(me), "P-1", "40.00", at=T0)  # 400 pending until T0 + 14 days
        loyalty.give_back("P-1", "R-1", "10.00", at=T0 + timedelta(days=1))  # 100 cancelled
        exported = api.get(f"/customers/{me}/export", as_user=ADMIN, admin=True).json_body
        assert [(c["status"], c["points"], c["points_cancelled"]) for c in exported["purchase_credits"]] == [
            ("PENDING", 400, 100)
        ]
        assert [(r["return_id"], r["amount_usd"], r["points_reversed"]) for r in exported["returns"]] == [
            ("R-1", "10.00", 100)
        ]

        erased = erase(api, me)
        assert erased.status_code == 200, erased.json_body
        assert (erased.json_body["erasure"]["points_forfeited"], erased.json_body["erasure"]["pending_forfeited"]) == (
            0,  # the welcome bonus lapsed before T0 (2030), when the purchase and the return happened
            300,
        )
        assert [(c["status"], c["points_cancelled"]) for c in credits_of(db, uuid.UUID(me))] == [("CANCELLED", 400)]
        assert loyalty.vesting.run(now=T0 + timedelta(days=30)).credits == 0  # nothing left to vest
        with db.reader() as tx:
            from chalicelib.points import integrity_repository

            checks = integrity_repository.member_checks(tx, [uuid.UUID(me)])[uuid.UUID(me)]
        assert checks == {"bad_credits": 0, "bad_purchases": 0, "pending": 0}
        assert sums(db, me) == {"balance": 0, "ledger": 0, "lots": 0}
