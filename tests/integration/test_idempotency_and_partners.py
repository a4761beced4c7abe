from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib.members.models import Profile
from chalicelib.platform.errors import IdempotencyKeyReused, InsufficientPoints, RequestInProgress
from chalicelib.platform.idempotency import IdempotencyService, fingerprint
from chalicelib.points import ledger_repository as ledger


def make_member(db, email: str, points: int = 1000):
    from chalicelib.members import repository as members

    with db.transaction() as tx:
        member_id = members.insert_customer(tx, email, Profile())
        ledger.credit(tx, member_id, "BONUS", points, "seed", lot_lifetime=timedelta(days=365))
    return member_id


def spend(member_id, points):
    def operation(tx):
        posting = ledger.debit(tx, member_id, "SPEND", points, "idempotent spend")
        return 201, {"entry_id": str(posting.entry.id), "balance": posting.balance}

    return operation


def test_32_concurrent_requests_with_one_key_have_one_effect_and_identical_bodies(db):
    member_id = make_member(db, "idem@example.com")
    service = IdempotencyService(db)
    barrier = threading.Barrier(32)

    def call(_):
        barrier.wait()
        return service.execute("member:idem", "key-1", fingerprint("POST", "/x", {"p": 10}), spend(member_id, 10))

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(call, range(32)))
    assert len({repr(o.body) for o in outcomes}) == 1
    assert {o.status for o in outcomes} == {201}
    assert sum(1 for o in outcomes if not o.replayed) == 1
    with db.reader() as tx:
        assert ledger.sums(tx, member_id) == {"balance": 990, "ledger": 990, "lots": 990}


def test_same_key_different_body_is_rejected(db):
    member_id = make_member(db, "reuse@example.com")
    service = IdempotencyService(db)
    service.execute("s", "k", fingerprint("POST", "/x", {"p": 10}), spend(member_id, 10))
    with pytest.raises(IdempotencyKeyReused):
        service.execute("s", "k", fingerprint("POST", "/x", {"p": 20}), spend(member_id, 20))
    # Scopes are separate: another caller may use the same key string.
    assert not service.execute("other", "k", fingerprint("POST", "/x", {"p": 20}), spend(member_id, 20)).replayed


def test_failed_attempt_records_nothing_and_retry_does_the_work(db):
    member_id = make_member(db, "retry@example.com", points=5)
    service = IdempotencyService(db)
    with pytest.raises(InsufficientPoints):
        service.execute("s", "k", fingerprint("POST", "/x", {}), spend(member_id, 10))
    with db.transaction() as tx:
        ledger.credit(tx, member_id, "ADJUST", 10, "top up", lot_lifetime=timedelta(days=1))
    outcome = service.execute("s", "k", fingerprint("POST", "/x", {}), spend(member_id, 10))
    assert not outcome.replayed and outcome.body["balance"] == 5


def test_key_held_longer_than_wait_budget_is_in_progress(db):
    member_id = make_member(db, "slow@example.com")
    slow = IdempotencyService(db)
    impatient = IdempotencyService(db, wait_seconds=0.2)
    started, release = threading.Event(), threading.Event()

    def slow_operation(tx):
        started.set()
        release.wait(5)
        return spend(member_id, 10)(tx)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(slow.execute, "s", "k", fingerprint("POST", "/x", {}), slow_operation)
        assert started.wait(5)
        with pytest.raises(RequestInProgress):
            impatient.execute("s", "k", fingerprint("POST", "/x", {}), spend(member_id, 10))
        release.set()
        assert first.result().status == 201
    assert impatient.execute("s", "k", fingerprint("POST", "/x", {}), spend(member_id, 10)).replayed


def test_admin_issues_and_revokes_partner_keys(api, db):
    created = api.post(
        "/admin/partners", as_user="boss@example.com", admin=True, json_body={"name": "Main St Store", "kind": "STORE"}
    )
    assert created.status_code == 201
    key = created.json_body["api_key"]
    partner_id = created.json_body["partner"]["id"]
    with db.reader() as tx:
        stored = tx.fetch_one("SELECT key_hash, key_prefix FROM partners WHERE id = :i", i=partner_id)
    assert key not in str(stored) and stored["key_hash"] != key

    from chalicelib.container import services

    assert services().partners.authenticate(key).name == "Main St Store"
    listed = api.get("/admin/partners", as_user="boss@example.com", admin=True).json_body["partners"]
    assert "api_key" not in listed[0] and listed[0]["revoked_at"] is None

    assert api.delete(f"/admin/partners/{partner_id}", as_user="boss@example.com", admin=True).status_code == 200
    from chalicelib.platform.errors import Unauthenticated

    with pytest.raises(Unauthenticated):
        services().partners.authenticate(key)


@pytest.mark.parametrize("key", [None, "", "garbage", "xp_nope_nope", "xp__"])
def test_bad_partner_keys_are_unauthenticated(key):
    from chalicelib.container import services
    from chalicelib.platform.errors import Unauthenticated

    with pytest.raises(Unauthenticated):
        services().partners.authenticate(key)


def test_partner_admin_routes_need_admin(api):
    assert (
        api.post("/admin/partners", as_user="member@example.com", json_body={"name": "x", "kind": "STORE"}).status_code
        == 403
    )
    assert api.post("/admin/partners", json_body={"name": "x", "kind": "STORE"}).status_code == 401
    bad = api.post("/admin/partners", as_user="boss@example.com", admin=True, json_body={"name": "x", "kind": "BANK"})
    assert bad.status_code == 400 and bad.json_body["code"] == "VALIDATION_ERROR"
