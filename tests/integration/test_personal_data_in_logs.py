"""Issue 10 finding 8: a member's whole journey leaves no email address (nor name, phone, street) in the log:
as a deployed stage logs it (the personal-data filter on) and as make run logs it (filter off: the code
itself logs none, and member email goes to the local outbox folder, not the log)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from chalicelib.container import services
from chalicelib.events.relay import envelope
from chalicelib.platform import logs
from chalicelib.platform.config import get_settings
from tests.support.orders import issue_partner, place

EMAIL = "Journey.Person@Example.org"
PROFILE = {
    "firstName": "Zebulon",
    "lastName": "Quixworth",
    "phone": "+15555550123",
    "address": {"street": "77 Sunset Strip", "city": "Zanzibar", "state": "ZZ", "zipCode": "90210"},
}


def deliver_pending_events(db) -> None:
    """What the relay + SQS + the order-events handler do, for every event written so far."""
    from chalicelib.events.outbox import PendingEvent

    with db.reader() as tx:
        rows = tx.fetch(
            "SELECT id, event_type, aggregate_id, payload, request_id, created_at, attempts FROM outbox_events "
            "ORDER BY created_at"
        )
    for row in rows:
        payload = row["payload"]
        row["payload"] = json.loads(payload) if isinstance(payload, str) else payload
        event = PendingEvent(**row)
        services().order_events.process_record(
            {"messageId": f"m-{event.id}", "body": json.dumps(envelope(event), default=str), "attributes": {}}
        )


@pytest.mark.parametrize("deployed", [True, False], ids=["deployed stage (masked)", "make run (unmasked)"])
def test_a_members_journey_leaves_no_personal_data_in_the_log(api, db, product_ids, tokens, deployed):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    if deployed:
        handler.addFilter(logs.PersonalDataFilter())
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        me = api.get("/customer", as_user=EMAIL).json_body  # first sign-in: member and bonus
        assert api.put("/customer", as_user=EMAIL, json_body=PROFILE).status_code == 200
        api.post("/prod/cart/item", as_user=EMAIL, json_body={"id": product_ids["T-MUG"]})
        assert api.post("/prod/cart/checkout", as_user=EMAIL).json_body["success"] is True
        assert place(api, EMAIL, [(product_ids["T-CAP"], 1)]).status_code == 201
        store = issue_partner(api, "STORE")
        bought = api.post(
            "/partner/purchases",
            headers={"X-Api-Key": store},
            json_body={"email": EMAIL, "external_id": "J-1", "amount_usd": 10},
        )
        assert bought.status_code == 201
        # A duplicate in-store sign-up and a search by email: errors and queries that carry the address.
        admin = {"as_user": "journey-admin@example.com", "admin": True}
        dup = api.post("/customers", json_body={"email": EMAIL, "first_name": "Z", "last_name": "Q"}, **admin)
        assert dup.status_code == 409
        assert api.get(f"/customers?q={EMAIL.split('@')[0]}", **admin).status_code == 200
        assert api.get(f"/customers/{me['id']}", **admin).status_code == 200
        deliver_pending_events(db)  # confirmations (writing OrderStatusChanged)
        deliver_pending_events(db)  # -> status emails (the first pass is now a duplicate no-op)
        assert api.get("/prod/orders", as_user=EMAIL).json_body["orders"][0]["status"] == "CONFIRMED"
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)

    log = stream.getvalue()
    assert log.count("\n") > 10, log  # the journey was logged
    for secret in (EMAIL, EMAIL.lower(), "Zebulon", "Quixworth", "5555550123", "Sunset Strip", "Zanzibar"):
        assert secret not in log, f"{secret!r} in the log:\n" + "\n".join(
            line for line in log.splitlines() if secret in line
        )
    # The status emails were written to the local outbox folder instead.
    outbox = Path(get_settings().email_outbox_dir or "")
    assert any(EMAIL.lower() in p.read_text() for p in outbox.glob("*.eml"))
