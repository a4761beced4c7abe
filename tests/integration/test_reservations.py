"""Reservations: hold stock and points for 15 minutes; purchase, release, expire; the purchase/expiry race."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from chalicelib.members import repository as members
from chalicelib.members.models import Profile
from chalicelib.platform.config import get_settings
from chalicelib.platform.errors import InvalidTransition
from chalicelib.points import ledger_repository as ledger
from chalicelib.reservations import repository as reservations
from chalicelib.reservations.service import ReservationService, _give_back
from tests.support.events import scheduled_event
from tests.support.orders import order_key, stock, sums


def hold(api, user, item_id, quantity=1):
    return api.post("/prod/reservations", as_user=user, json_body={"item_id": item_id, "quantity": quantity})


def purchase(api, user, reservation_id, key=None):
    return api.post(
        f"/prod/reservations/{reservation_id}/purchase", as_user=user, headers={"Idempotency-Key": key or order_key()}
    )


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expire_now(db, reservation_id) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = :r", r=reservation_id)


def run_release_job():
    import app as app_module

    return app_module.release_expired_reservations(scheduled_event("release_expired_reservations"), None)


def test_hold_takes_stock_and_points_for_fifteen_minutes(api, db, product_ids):
    user = "holder@example.com"
    created = hold(api, user, product_ids["T-TEE"], 2)
    assert created.status_code == 201, created.json_body
    held = created.json_body["reservation"]
    assert {k: held[k] for k in ("item_id", "quantity", "points", "status", "order_id")} == {
        "item_id": product_ids["T-TEE"],
        "quantity": 2,
        "points": 600,
        "status": "HELD",
        "order_id": None,
    }
    lasts = parse_time(held["expires_at"]) - parse_time(held["created_at"])
    assert timedelta(minutes=14, seconds=59) < lasts <= timedelta(minutes=15, seconds=1)
    assert sums(db, user) == {"balance": 400, "ledger": 400, "lots": 400}
    assert stock(db, "T-TEE") == 98
    [spend, _] = api.get("/prod/points/tx", as_user=user).json_body["transactions"]
    assert spend["tx_type"] == "SPEND" and spend["points"] == -600
    assert spend["tx_description"] == f"Reservation {held['id']}: 2 x Test Tee"


def test_purchase_turns_the_hold_into_an_order_without_charging_again(api, db, product_ids):
    user = "buyer@example.com"
    held = hold(api, user, product_ids["T-MUG"], 3).json_body["reservation"]
    with db.reader() as tx:
        entries_before = tx.fetch_value("SELECT count(*) FROM ledger_entries")
    key = order_key()
    bought = purchase(api, user, held["id"], key)
    assert bought.status_code == 201, bought.json_body
    order = bought.json_body["order"]
    assert order["status"] == "PENDING" and order["total_points"] == 450
    assert [(i["item_id"], i["quantity"], i["unit_points_price"]) for i in order["items"]] == [
        (product_ids["T-MUG"], 3, 150)
    ]
    replay = purchase(api, user, held["id"], key)
    assert replay.status_code == 201 and replay.body == bought.body and replay.headers["Idempotency-Replay"] == "true"
    again = purchase(api, user, held["id"])
    assert again.status_code == 409 and again.json_body["code"] == "INVALID_TRANSITION"
    assert again.json_body["details"] == [{"status": "PURCHASED"}]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries") == entries_before  # nothing charged
        row = tx.fetch_one("SELECT status, order_id FROM reservations WHERE id = :r", r=held["id"])
        assert tx.fetch_value("SELECT count(*) FROM outbox_events WHERE event_type = 'OrderCreated'") == 1
    assert row == {"status": "PURCHASED", "order_id": uuid.UUID(order["id"])}
    assert sums(db, user)["balance"] == 550 and stock(db, "T-MUG") == 97
    released = api.delete(f"/prod/reservations/{held['id']}", as_user=user)
    assert released.status_code == 409 and released.json_body["code"] == "INVALID_TRANSITION"

    # Cancelling the order gives back exactly the hold's debit, once.
    assert api.post(f"/prod/orders/{order['id']}/cancel", as_user=user).status_code == 200
    assert sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    assert stock(db, "T-MUG") == 100


def test_release_refunds_and_restocks_once_and_is_then_a_no_op(api, db, product_ids):
    user = "releaser@example.com"
    held = hold(api, user, product_ids["T-LAMP"], 1).json_body["reservation"]
    assert stock(db, "T-LAMP") == 2 and sums(db, user)["balance"] == 300
    released = api.delete(f"/prod/reservations/{held['id']}", as_user=user)
    assert released.status_code == 200 and released.json_body["reservation"]["status"] == "RELEASED"
    assert stock(db, "T-LAMP") == 3 and sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}
    again = api.delete(f"/prod/reservations/{held['id']}", as_user=user)
    assert again.status_code == 200 and again.json_body["reservation"]["status"] == "RELEASED"
    assert stock(db, "T-LAMP") == 3 and sums(db, user)["balance"] == 1000
    late = purchase(api, user, held["id"])
    assert late.status_code == 409 and late.json_body["details"] == [{"status": "RELEASED"}]


def test_someone_elses_or_unknown_reservation_is_404(api, product_ids):
    held = hold(api, "mine@example.com", product_ids["T-CAP"]).json_body["reservation"]
    for rid in (held["id"], str(uuid.uuid4()), "not-a-uuid"):
        for response in (
            purchase(api, "thief@example.com", rid),
            api.delete(f"/prod/reservations/{rid}", as_user="thief@example.com"),
        ):
            assert response.status_code == 404
            assert response.json_body["code"] in ("RESERVATION_NOT_FOUND", "NOT_FOUND")


def test_purchase_needs_an_idempotency_key(api, product_ids):
    held = hold(api, "keyless@example.com", product_ids["T-CAP"]).json_body["reservation"]
    response = api.post(f"/prod/reservations/{held['id']}/purchase", as_user="keyless@example.com")
    assert response.status_code == 400 and response.json_body["details"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"quantity": 1}, "item_id"),
        ({"item_id": "ITEM", "quantity": 0}, "quantity"),
        ({"item_id": "ITEM", "quantity": -3}, "quantity"),
        ({"item_id": "ITEM", "quantity": 101}, "quantity"),
        ({"item_id": "ITEM", "quantity": "1"}, "quantity"),
        ({"item_id": "nope", "quantity": 1}, "item_id"),
        ({"item_id": "ITEM", "points": 1}, "points"),
    ],
)
def test_invalid_holds_are_400(api, db, product_ids, payload, field):
    import json

    raw = json.dumps(payload).replace("ITEM", product_ids["T-CAP"]).encode()
    response = api.post("/prod/reservations", as_user="badhold@example.com", raw=raw)
    assert response.status_code == 400 and response.json_body["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in response.json_body["details"]]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT count(*) FROM reservations") == 0


def test_holds_that_cannot_be_honoured_change_nothing(api, db, product_ids):
    user = "nohold@example.com"
    unknown = hold(api, user, str(uuid.uuid4()))
    assert unknown.status_code == 404 and unknown.json_body["code"] == "ITEM_NOT_FOUND"
    short = hold(api, user, product_ids["T-LAMP"], 4)
    assert short.status_code == 409 and short.json_body["code"] == "OUT_OF_STOCK"
    poor = hold(api, user, product_ids["T-LAMP"], 2)
    assert poor.status_code == 409 and poor.json_body["code"] == "INSUFFICIENT_POINTS"
    assert stock(db, "T-LAMP") == 3 and sums(db, user) == {"balance": 1000, "ledger": 1000, "lots": 1000}


def test_expired_holds_cannot_be_bought_and_the_job_releases_them_once(api, db, product_ids):
    user = "expiring@example.com"
    lapsed = hold(api, user, product_ids["T-TEE"], 1).json_body["reservation"]
    live = hold(api, user, product_ids["T-CAP"], 1).json_body["reservation"]
    expire_now(db, lapsed["id"])
    refused = purchase(api, user, lapsed["id"])  # the job has not run yet: still refused
    assert refused.status_code == 409 and refused.json_body["details"] == [{"status": "EXPIRED"}]
    assert run_release_job() == {"released": 1}
    assert run_release_job() == {"released": 0}
    with db.reader() as tx:
        statuses = {str(r["id"]): r["status"] for r in tx.fetch("SELECT id, status FROM reservations")}
    assert statuses == {lapsed["id"]: "EXPIRED", live["id"]: "HELD"}
    assert sums(db, user) == {"balance": 800, "ledger": 800, "lots": 800}
    assert stock(db, "T-TEE") == 100 and stock(db, "T-CAP") == 99
    assert (
        api.delete(f"/prod/reservations/{lapsed['id']}", as_user=user).json_body["reservation"]["status"] == "EXPIRED"
    )


# -- the race: purchase against the release job ------------------------------------------------------
@pytest.fixture
def holder(db, product_ids):
    """A member with plenty of points and a ReservationService."""
    with db.transaction() as tx:
        member_id = members.insert_customer(tx, "racer@example.com", Profile())
        ledger.credit(tx, member_id, "BONUS", 1_000_000, "seed", lot_lifetime=timedelta(days=30))
    return member_id, ReservationService(db, get_settings()), uuid.UUID(product_ids["T-CARD"])


def _expire_in(db, reservation_id, seconds: float) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE reservations SET expires_at = now() + make_interval(secs => :s) WHERE id = :r",
            r=reservation_id,
            s=seconds,
        )


def test_race_purchase_holding_the_row_wins_and_the_job_skips_it(db, holder):
    member_id, service, card = holder
    held = service.hold(member_id, card, 1)
    _expire_in(db, held.id, 0.3)
    with db.transaction() as tx:
        service.purchase(tx, member_id, held.id)  # claimed before expiry, not yet committed
        time.sleep(0.4)  # now lapsed: the job would take it if the purchase did not hold its row
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(service.expire_due).result(timeout=5) == 0
    assert service.expire_due() == 0
    with db.reader() as tx:
        assert tx.fetch_value("SELECT status FROM reservations WHERE id = :r", r=held.id) == "PURCHASED"
        assert tx.fetch_value("SELECT count(*) FROM ledger_entries WHERE entry_type = 'REFUND'") == 0


def test_race_job_holding_the_row_wins_and_the_waiting_purchase_is_refused(db, holder):
    member_id, service, card = holder
    held = service.hold(member_id, card, 1)
    _expire_in(db, held.id, 0.5)
    started, outcome = threading.Event(), {}

    def buyer():
        try:
            with db.transaction() as tx:
                tx.fetch_value("SELECT 1")  # the purchase's snapshot time is before expiry
                started.set()
                time.sleep(0.7)  # meanwhile the job claims the row
                service.purchase(tx, member_id, held.id)  # blocks on the job's row lock
                outcome["result"] = "purchased"
        except InvalidTransition as error:
            outcome["result"] = error.details

    thread = threading.Thread(target=buyer)
    thread.start()
    assert started.wait(5)
    time.sleep(0.55)
    with db.transaction() as tx:
        rows = reservations.expire_due(tx, 10)
        assert [r.id for r in rows] == [held.id]
        time.sleep(0.4)  # the buyer is now waiting on this row
        assert thread.is_alive()
        _give_back(tx, rows)
    thread.join(5)
    assert outcome["result"] == [{"status": "EXPIRED"}]
    with db.reader() as tx:
        assert tx.fetch_value("SELECT status FROM reservations WHERE id = :r", r=held.id) == "EXPIRED"
        assert tx.fetch_value("SELECT count(*) FROM orders") == 0
        assert ledger.sums(tx, member_id)["balance"] == 1_000_000


def test_race_many_purchases_against_the_job_exactly_one_wins_each(db, holder):
    member_id, service, card = holder
    held = [service.hold(member_id, card, 1) for _ in range(24)]
    with db.transaction() as tx:
        tx.execute("UPDATE reservations SET expires_at = now() + interval '400 milliseconds'")
    rng = random.Random(7)
    results: dict[uuid.UUID, str] = {}
    stop = threading.Event()

    def buy(reservation):
        time.sleep(rng.uniform(0.25, 0.55))
        try:
            with db.transaction() as tx:
                service.purchase(tx, member_id, reservation.id)
            results[reservation.id] = "PURCHASED"
        except InvalidTransition as error:
            results[reservation.id] = error.details[0]["status"]

    def job():
        released = 0
        while not stop.is_set():
            released += service.expire_due(batch=5)
            time.sleep(0.01)
        return released

    with ThreadPoolExecutor(max_workers=28) as pool:
        jobs = [pool.submit(job) for _ in range(2)]
        list(pool.map(buy, held))
        time.sleep(0.1)
        stop.set()
        released = sum(j.result() for j in jobs)
    released += service.expire_due()
    with db.reader() as tx:
        final = {r["id"]: r for r in tx.fetch("SELECT id, status, order_id, hold_entry_id FROM reservations")}
        refunds = {
            r["external_ref"] for r in tx.fetch("SELECT external_ref FROM ledger_entries WHERE entry_type = 'REFUND'")
        }
        paid = {r["payment_entry_id"] for r in tx.fetch("SELECT payment_entry_id FROM orders")}
        sums_ = ledger.sums(tx, member_id)
        card_stock = tx.fetch_value("SELECT stock FROM products WHERE id = :p", p=card)
    bought = [rid for rid, r in final.items() if r["status"] == "PURCHASED"]
    expired = [rid for rid, r in final.items() if r["status"] == "EXPIRED"]
    assert len(bought) + len(expired) == 24
    assert released == len(expired)
    for rid, row in final.items():
        won_purchase = results[rid] == "PURCHASED"
        assert won_purchase == (row["status"] == "PURCHASED")
        assert (row["hold_entry_id"] in paid) == won_purchase  # an order paid by this hold...
        assert (str(row["hold_entry_id"]) in refunds) != won_purchase  # ...xor its refund
    assert sums_["balance"] == sums_["ledger"] == sums_["lots"] == 1_000_000 - 100 * len(bought)
    assert card_stock == 1000 - len(bought)
