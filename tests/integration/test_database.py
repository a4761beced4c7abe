"""Database outages and dropped connections: 503 (not 500), no partial writes, quick recovery."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from chalicelib.container import reset_services
from chalicelib.platform import db as db_module
from chalicelib.platform.config import Settings
from chalicelib.platform.db import Database


@pytest.fixture
def database_down(monkeypatch):
    broken = Database(Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere", db_connect_timeout=1))
    monkeypatch.setattr(db_module, "_database", broken)
    reset_services()
    yield
    reset_services()


def test_database_down_is_503_on_public_and_member_routes(api, tokens, database_down):
    token = tokens("outage@example.com")
    for method, path in (("GET", "/prod/products"), ("GET", "/prod/points"), ("POST", "/prod/cart/checkout")):
        response = api.request(method, path, token=token)
        assert response.status_code == 503, path
        assert response.json_body["code"] == "DATABASE_UNAVAILABLE"
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_health_reports_database_down(api, database_down):
    response = api.get("/health")
    assert response.status_code == 503
    assert response.json_body["database"] == "down"


def test_health_ok_when_current(api):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json_body == {
        "status": "ok",
        "database": "up",
        "migrations": "current",
        "pending_migrations": [],
        "configuration": "ok",
        "configuration_problems": [],
    }


def kill_app_connections(db) -> int:
    """Terminate every backend of this database except the one asking (like a failover would)."""
    with db.transaction() as tx:
        return tx.fetch_value(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )


def test_killed_idle_connection_is_replaced_transparently(api, db, tokens):
    token = tokens("reconnect@example.com")
    assert api.get("/prod/points", token=token).status_code == 200
    admin = Database(Settings(database_url=db._settings.database_url))
    try:
        assert kill_app_connections(admin) >= 1
    finally:
        admin.close()
    assert api.get("/prod/points", token=token).status_code == 200
    assert api.get("/prod/products").status_code == 200


def test_connection_killed_mid_checkout_writes_nothing_and_next_request_succeeds(api, db, tokens, product_ids):
    """The checkout is one statement (cart_checkout) that is its own transaction: the server drops the
    connection while it runs (blocked on a product row another session holds), so nothing commits."""
    token = tokens("midway@example.com")
    api.post("/prod/cart/item", token=token, json_body={"id": product_ids["T-TEE"], "quantity": 1})
    blocker = Database(Settings(database_url=db._settings.database_url))
    responses: list = []
    try:
        with blocker.transaction() as tx:
            tx.execute("SELECT 1 FROM products WHERE sku = 'T-TEE' FOR UPDATE")
            checkout = threading.Thread(target=lambda: responses.append(api.post("/prod/cart/checkout", token=token)))
            checkout.start()
            waiting: list = []
            deadline = time.monotonic() + 15  # generous: CI machines are loaded
            while not waiting and checkout.is_alive() and time.monotonic() < deadline:
                waiting = tx.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND wait_event_type = 'Lock' AND query LIKE '%cart_checkout%'"
                )
                time.sleep(0 if waiting else 0.02)
            assert waiting, f"the checkout never waited for the product row: {responses}"
            tx.fetch("SELECT pg_terminate_backend(:pid)", pid=waiting[0]["pid"])  # mid-transaction
            checkout.join(10)
    finally:
        blocker.close()
    [response] = responses
    assert response.status_code == 503
    assert response.json_body["code"] == "DATABASE_UNAVAILABLE"

    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM orders") == 0
        assert tx.fetch_value("SELECT stock FROM products WHERE sku = 'T-TEE'") == 100
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'SPEND'") == 0
    assert api.get("/prod/points", token=token).json_body["points"] == 1000
    api.post("/prod/cart/item", token=token, json_body={"id": product_ids["T-TEE"], "quantity": 1})
    assert api.post("/prod/cart/checkout", token=token).json_body["success"] is True


def test_killed_idle_connection_is_replaced_before_a_single_flight_write(api, db, tokens, product_ids):
    """add-to-cart and checkout are one statement each, never resent once sent: a pooled connection the
    server has closed is found dead before sending (docs/performance.md, "Retrying a flight")."""
    token = tokens("single-reconnect@example.com")
    assert api.get("/prod/points", token=token).status_code == 200
    admin = Database(Settings(database_url=db._settings.database_url))
    try:
        assert kill_app_connections(admin) >= 1
    finally:
        admin.close()
    added = api.post("/prod/cart/item", token=token, json_body={"id": product_ids["T-TEE"], "quantity": 1})
    assert added.status_code == 201
    admin = Database(Settings(database_url=db._settings.database_url))
    try:
        assert kill_app_connections(admin) >= 1
    finally:
        admin.close()
    assert api.post("/prod/cart/checkout", token=token).json_body["success"] is True


def test_ledger_rows_are_immutable(db, api):
    api.get("/prod/points", as_user="immutable@example.com")
    from pg8000.exceptions import DatabaseError

    with pytest.raises(DatabaseError):
        with db.transaction() as tx:
            tx.execute("UPDATE ledger_entries SET points = 5000")
    with pytest.raises(DatabaseError):
        with db.transaction() as tx:
            tx.execute("DELETE FROM ledger_entries")


def test_balance_can_never_go_negative(db, api):
    api.get("/prod/points", as_user="negative@example.com")
    from pg8000.exceptions import DatabaseError

    with pytest.raises(DatabaseError):
        with db.transaction() as tx:
            tx.execute("UPDATE members SET balance = -1")


def test_after_commit_hooks_run_once_after_commit_and_never_after_rollback(db):
    ran: list[str] = []

    def hook() -> None:
        ran.append("hook")

    with db.transaction() as tx:
        tx.after_commit(hook)
        tx.after_commit(hook)  # registering twice runs it once
        assert ran == []  # not before the commit
    assert ran == ["hook"]

    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.after_commit(hook)
        raise RuntimeError("the unit of work fails")
    assert ran == ["hook"]  # dropped with the rollback

    def broken() -> None:
        raise ValueError("a failing hook is logged, the committed work stands")

    with db.transaction() as tx:
        tx.fetch_value("SELECT 1")
        tx.after_commit(broken)
        tx.after_commit(hook)
    assert ran == ["hook", "hook"]


def test_writing_an_outbox_event_relays_it_right_after_the_commit(db):
    from chalicelib.events import outbox

    kicks: list[int] = []
    outbox.set_publisher(lambda: kicks.append(1))
    try:
        with db.transaction() as tx:
            outbox.add(tx, "Probe", uuid.uuid4(), {"n": 1})
            outbox.add(tx, "Probe", uuid.uuid4(), {"n": 2})
        assert kicks == [1]
        with pytest.raises(RuntimeError), db.transaction() as tx:
            outbox.add(tx, "Probe", uuid.uuid4(), {"n": 3})
            raise RuntimeError("rolled back: nothing to relay")
        assert kicks == [1]
    finally:
        outbox.set_publisher(None)
