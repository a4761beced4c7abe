from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_first_authenticated_call_creates_member_with_ledgered_bonus(api, db):
    response = api.get("/prod/points", as_user="new.member@example.com")
    assert response.status_code == 200
    assert response.json_body["points"] == 1000
    with db.reader() as tx:
        rows = tx.fetch(
            "SELECT m.balance, l.entry_type, l.points FROM members m JOIN ledger_entries l ON l.member_id = m.id "
            "WHERE m.email = 'new.member@example.com'"
        )
    assert rows == [{"balance": 1000, "entry_type": "BONUS", "points": 1000}]


def test_customer_profile_is_camel_case(api):
    response = api.get("/customer", as_user="carol@example.com")
    assert response.status_code == 200
    body = response.json_body
    assert body["email"] == "carol@example.com"
    assert set(body) == {"id", "firstName", "lastName", "email", "phone", "address"}
    assert set(body["address"]) == {"street", "city", "state", "zipCode"}


def test_concurrent_first_calls_create_one_member_and_one_bonus(live_server, tokens, db):
    from tests.support.http import http_call

    token = tokens("racer@example.com")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: http_call(live_server, "GET", "/prod/points", token), range(16)))
    assert all(status == 200 for status, _, _ in results)
    assert {body["points"] for _, _, body in results} == {1000}
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM members WHERE email = 'racer@example.com'") == 1
        assert (
            tx.fetch_value(
                "SELECT count(*) FROM ledger_entries l JOIN members m ON m.id = l.member_id "
                "WHERE m.email = 'racer@example.com' AND entry_type = 'BONUS'"
            )
            == 1
        )
