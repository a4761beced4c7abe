"""A member is their sign-in's subject, never their email claim (DESIGN §2.1, promise 8).

Each scenario signs the exact claims Cognito would send (tests/support/tokens.py): an attacker who set
their own email attribute to someone else's address, an unverified address, a case variant, two
identities racing for one in-store customer. Every one of them reached another member's points on the
email-keyed design this replaced.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from tests.support.http import http_call
from tests.support.ledger import sums
from tests.support.tokens import identity_token

ADMIN = "identity-admin@example.com"


def in_store_customer(api, email: str, **extra) -> dict:
    created = api.post(
        "/customers",
        as_user=ADMIN,
        admin=True,
        json_body={"email": email, "first_name": "Walk", "last_name": "In", **extra},
    )
    assert created.status_code == 201, created.json_body
    return created.json_body["customer"]


def points_of(api, token: str) -> tuple[int, dict]:
    response = api.get("/prod/points", token=token)
    return response.status_code, response.json_body


def test_changing_ones_email_to_a_members_address_never_reaches_their_points(api, aws, db):
    victim_sub, attacker_sub = str(uuid.uuid4()), str(uuid.uuid4())
    victim = identity_token(aws, victim_sub, "victim@example.com")
    assert api.get("/prod/points", token=victim).status_code == 200
    assert (
        api.post(
            "/prod/points/tx",
            as_user=ADMIN,
            admin=True,
            headers={"Idempotency-Key": "gift"},
            json_body={
                "customer_id": api.get("/customer", token=victim).json_body["id"],
                "points": 4000,
                "description": "gift",
            },
        ).status_code
        == 201
    )
    attacker = identity_token(aws, attacker_sub, "attacker@example.com")
    attacker_id = api.get("/customer", token=attacker).json_body["id"]

    # The attacker sets their own email attribute to the victim's (no verification): Cognito's next
    # token says email=victim's, email_verified=false (or, with the pool's protection, keeps the old one).
    for verified in (False, True):
        forged = identity_token(aws, attacker_sub, "victim@example.com", verified=verified)
        status, body = points_of(api, forged)
        assert status == 200 and body["points"] == 1000, "the attacker sees only their own points"
        assert api.get("/customer", token=forged).json_body["id"] == attacker_id
    assert points_of(api, victim)[1]["points"] == 5000
    assert sums(db, "victim@example.com") == {"balance": 5000, "ledger": 5000, "lots": 5000}


def test_an_unlinked_in_store_customer_is_never_reached_by_an_unverified_email(api, aws, db):
    customer = in_store_customer(api, "walkin@example.com")
    stranger = identity_token(aws, str(uuid.uuid4()), "walkin@example.com", verified=False)
    for method, path in [("GET", "/prod/points"), ("GET", "/customer"), ("POST", "/prod/cart/checkout")]:
        response = api.request(method, path, token=stranger)
        assert response.status_code == 403 and response.json_body["code"] == "EMAIL_NOT_VERIFIED", path
    with db.reader() as tx:
        assert tx.fetch_value("SELECT identity_subject FROM members WHERE id = :m", m=customer["id"]) is None
        assert tx.fetch_value("SELECT count(*) FROM members") == 1  # the in-store customer alone


def test_an_attacker_with_a_new_account_cannot_take_over_an_in_store_customer(api, aws, db):
    """Already a member, the attacker changes their email to the in-store customer's: still themselves."""
    customer = in_store_customer(api, "shopper@example.com")
    attacker_sub = str(uuid.uuid4())
    mine = api.get("/customer", token=identity_token(aws, attacker_sub, "mallory@example.com")).json_body["id"]
    forged = identity_token(aws, attacker_sub, "shopper@example.com", verified=True)
    assert api.get("/customer", token=forged).json_body["id"] == mine != customer["id"]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT identity_subject FROM members WHERE id = :m", m=customer["id"]) is None
        assert tx.fetch_value("SELECT email FROM members WHERE id = :m", m=mine) == "mallory@example.com"


def test_the_first_verified_sign_in_links_the_in_store_customer_once(api, aws, db):
    customer = in_store_customer(api, "Linked.Shopper@Example.com", phone="+1 555 0100")
    sub = str(uuid.uuid4())
    token = identity_token(aws, sub, "LINKED.shopper@example.COM", given_name="Lynn", family_name="Shopper")
    profile = api.get("/customer", token=token).json_body
    assert profile["id"] == customer["id"]
    assert (profile["firstName"], profile["lastName"], profile["phone"]) == ("Walk", "In", "+15550100")
    assert sums(db, customer["id"]) == {"balance": 1000, "ledger": 1000, "lots": 1000}  # one bonus, in store
    # Linked: the same identity finds the member whatever its email claim says later.
    later = identity_token(aws, sub, "someone.else@example.com", verified=False)
    assert api.get("/customer", token=later).json_body["id"] == customer["id"]
    # Another identity with the same verified address is refused, not merged.
    other = identity_token(aws, str(uuid.uuid4()), "linked.shopper@example.com")
    response = api.get("/prod/points", token=other)
    assert response.status_code == 409 and response.json_body["code"] == "IDENTITY_CONFLICT"


def test_two_identities_racing_to_link_one_customer_link_exactly_one(live_server, aws, db, api):
    customer = in_store_customer(api, "contested@example.com")
    subs = [str(uuid.uuid4()) for _ in range(8)]
    tokens = [identity_token(aws, sub, "contested@example.com") for sub in subs]
    start = threading.Barrier(len(tokens))

    def first_call(token: str) -> tuple[int, dict]:
        start.wait()
        status, _, body = http_call(live_server, "GET", "/customer", token)
        return status, body

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        results = list(pool.map(first_call, tokens))
    assert sorted(status for status, _ in results) == [200] + [409] * 7
    [winner] = [body for status, body in results if status == 200]
    assert winner["id"] == customer["id"]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM members WHERE email = 'contested@example.com'") == 1
        linked = tx.fetch_value("SELECT identity_subject FROM members WHERE id = :m", m=customer["id"])
    assert linked in subs


def test_one_identitys_concurrent_first_calls_make_one_member_with_one_bonus(live_server, aws, db):
    token = identity_token(aws, str(uuid.uuid4()), "burst@example.com")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: http_call(live_server, "GET", "/prod/points", token), range(16)))
    assert {status for status, _, _ in results} == {200}
    assert sums(db, "burst@example.com") == {"balance": 1000, "ledger": 1000, "lots": 1000}


def test_case_variants_of_an_address_are_one_member(api, aws, db):
    sub = str(uuid.uuid4())
    first = api.get("/customer", token=identity_token(aws, sub, "Case.Test@Example.com")).json_body
    assert first["email"] == "case.test@example.com"
    other_case = identity_token(aws, str(uuid.uuid4()), "CASE.TEST@EXAMPLE.COM")
    assert api.get("/customer", token=other_case).json_body["code"] == "IDENTITY_CONFLICT"
    created = api.post(
        "/customers",
        as_user=ADMIN,
        admin=True,
        json_body={"email": "case.TEST@example.com", "first_name": "C", "last_name": "T"},
    )
    assert created.status_code == 409 and created.json_body["code"] == "MEMBER_EXISTS"


def test_a_member_whose_verified_email_changes_keeps_points_and_orders(api, aws, db, product_ids):
    sub = str(uuid.uuid4())
    before = identity_token(aws, sub, "old.address@example.com")
    assert api.post("/prod/cart/item", token=before, json_body={"id": product_ids["T-CAP"]}).status_code == 201
    placed = api.post("/prod/cart/checkout", token=before).json_body
    assert placed["success"] is True
    after = identity_token(aws, sub, "new.address@example.com")
    assert points_of(api, after)[1]["points"] == 800
    assert api.get(f"/prod/orders/{placed['orderId']}", token=after).status_code == 200
    assert api.get("/customer", token=after).json_body["email"] == "new.address@example.com"
    # A partner now finds the member by the new address, not the old one.
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM members WHERE email = 'old.address@example.com'") == 0


def test_profile_is_filled_from_the_token_at_enrollment(api, aws):
    address = '{"street_address": "1 Main St", "locality": "Springfield", "region": "IL", "postal_code": "62701"}'
    token = identity_token(
        aws,
        str(uuid.uuid4()),
        "profiled@example.com",
        given_name="Pat",
        family_name="Profile",
        phone_number="+15555550100",
        address=address,
    )
    assert api.get("/customer", token=token).json_body == {
        "id": api.get("/customer", token=token).json_body["id"],
        "firstName": "Pat",
        "lastName": "Profile",
        "email": "profiled@example.com",
        "phone": "+15555550100",
        "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701"},
    }


def test_put_customer_updates_the_profile_and_validates(api, aws):
    token = identity_token(aws, str(uuid.uuid4()), "editor@example.com")
    current = api.get("/customer", token=token).json_body
    changed = api.put(
        "/customer",
        token=token,
        json_body={
            **current,
            "firstName": "Eddie",
            "phone": "+44 20 7946 0958",
            "address": {"street": "2 High St", "city": "London", "state": "", "zipCode": "SW1A 1AA"},
        },
    )
    assert changed.status_code == 200, changed.json_body
    assert changed.json_body["firstName"] == "Eddie" and changed.json_body["phone"] == "+442079460958"
    assert changed.json_body["address"]["zipCode"] == "SW1A 1AA"
    assert api.get("/customer", token=token).json_body == changed.json_body
    partial = api.put("/customer", token=token, json_body={"lastName": "Editor"}).json_body
    assert (partial["firstName"], partial["lastName"]) == ("Eddie", "Editor")
    for bad in [
        {"phone": "555-0100"},
        {"firstName": "x" * 101},
        {"email": "other@example.com"},
        {"firstName": None},
        {"address": {"planet": "Mars"}},
        {"firstName": "a\u0000b"},
        {"id": str(uuid.uuid4())},
        {"points": 10**6},
    ]:
        response = api.put("/customer", token=token, json_body=bad)
        # Another id or email is well-formed but conflicts with the profile (409 READ_ONLY_FIELD).
        assert response.status_code == (409 if "id" in bad or "email" in bad else 400), bad
        assert set(response.json_body) == {"error", "code", "details"}
    assert api.get("/customer", token=token).json_body == {**changed.json_body, "lastName": "Editor"}


def test_admin_sees_the_profile_and_whether_the_member_signed_in(api, aws):
    customer = in_store_customer(
        api, "seen@example.com", address={"street": "3 Elm", "city": "Salem", "state": "OR", "zip_code": "97301"}
    )
    assert customer["signed_in"] is False and customer["address"]["city"] == "Salem"
    api.get("/customer", token=identity_token(aws, str(uuid.uuid4()), "seen@example.com"))
    detail = api.get(f"/customers/{customer['id']}", as_user=ADMIN, admin=True).json_body["customer"]
    assert detail["signed_in"] is True and detail["first_name"] == "Walk" and detail["address"]["zip_code"] == "97301"


@pytest.mark.parametrize("pool_requires_verification", [True, False])
def test_the_takeover_as_an_attacker_does_it_against_the_local_pool(api, aws, db, pool_requires_verification):
    """The finding, replayed through the emulated pool: B sets B's own email attribute to an in-store
    customer's address with B's access token (no code), signs in again, and calls the API with the new ID
    token. (The pool refuses another pool user's address outright: AliasExistsException.) Whether the pool
    protects the change (deployed) or not (Cognito's default), B only ever reaches B's member."""
    from devtools import localaws

    localaws.set_email_update_verification(aws.endpoint, aws.user_pool_id, pool_requires_verification)
    try:
        victim = f"in-store-{pool_requires_verification}@example.com".lower()
        attacker = f"b-{pool_requires_verification}@example.com".lower()
        customer = in_store_customer(api, victim)
        localaws.ensure_user(aws.endpoint, aws.user_pool_id, attacker)
        attacker_tokens = localaws.sign_in(aws.endpoint, aws.client_id, attacker)
        attacker_id = api.get("/customer", token=attacker_tokens.id_token).json_body["id"]

        localaws.change_email(aws.endpoint, attacker_tokens.access_token, victim.upper(), verified=False)
        # Signing in is by the active email: the old one while the change is pending, else the new one.
        again = localaws.sign_in(aws.endpoint, aws.client_id, attacker if pool_requires_verification else victim)
        claims = jwt.decode(again.id_token, options={"verify_signature": False})
        if pool_requires_verification:
            assert claims["email"] == attacker and claims["email_verified"] is True  # the change is pending
        else:
            assert claims["email"].lower() == victim and claims["email_verified"] is False  # unprotected pool
        assert api.get("/customer", token=again.id_token).json_body["id"] == attacker_id != customer["id"]
        assert api.get("/prod/points", token=again.id_token).json_body["points"] == 1000
        with db.reader() as tx:
            row = tx.fetch_one("SELECT email, identity_subject FROM members WHERE id = :m", m=customer["id"])
        assert row == {"email": victim, "identity_subject": None}
    finally:
        localaws.set_email_update_verification(aws.endpoint, aws.user_pool_id, True)
