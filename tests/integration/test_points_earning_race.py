"""A partner purchase's natural key under a race the member locks cannot serialise: the same
external_id reported for two members at the same instant. (main's hardening suite forces the race
with 20 members: tests/integration/test_points_earning.py finding 3; this is the small version that
runs on this branch.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.points import issue_partner, new_member, sums


@pytest.fixture
def store():
    return issue_partner("STORE")[1]


def test_the_same_external_id_for_two_members_at_once_is_409_never_500(live_server, db, store):
    """Two members, one external_id, at the same instant: they lock different member rows, so the
    ledger's unique natural key decides; the loser is 409 PURCHASE_CONFLICT, not a 500."""
    from tests.support.http import http_call

    members = [new_member(db, f"twin{i}@example.com") for i in range(2)]
    for attempt in range(5):

        def send(member, ref=f"TWIN-{attempt}"):
            body = {"customer_id": str(member), "external_id": ref, "amount_usd": "5.00"}
            return http_call(live_server, "POST", "/partner/purchases", None, body, {"X-Api-Key": store})[0]

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(send, members))
        assert statuses == [201, 409], statuses
    for member in members:
        sums(db, member)
