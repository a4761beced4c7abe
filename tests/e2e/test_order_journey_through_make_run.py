"""End to end through `make run` (python -m devtools.run): an order placed over HTTP is confirmed by the
app's own SQS handler, fed by the local worker from emulated SQS, then packed and delivered by partners."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools import localaws
from tests.support.http import http_call
from tests.support.stack import LocalStack, call


def _post(api: str, path: str, token: str | None = None, body=None, headers=None):

    status, _, parsed = http_call(api, "POST", path, token=token, body=body, headers=headers, timeout=30)
    return status, parsed


@pytest.mark.slow
def test_an_order_reaches_confirmed_packed_and_delivered_through_make_run(
    tmp_path: Path, launch: Callable[[Path], LocalStack]
) -> None:
    from devtools.run import StackInfo
    from devtools.token import token_for

    data_dir = tmp_path / "local"
    stack = launch(data_dir, "INFO")  # every line the stack logs, as `make run` shows it
    stack.wait_ready()
    info = StackInfo.load(data_dir)
    api = stack.api
    member = token_for(info, localaws.DEMO_MEMBER[0])
    admin = token_for(info, localaws.DEMO_ADMIN[0])

    keys = {}
    for kind in ("WAREHOUSE", "DELIVERY"):
        status, body = _post(api, "/admin/partners", admin, {"name": f"E2E {kind.lower()}", "kind": kind})
        assert status == 201, body
        keys[kind] = body["api_key"]

    products = call(api, "GET", "/prod/products")[1]["products"]
    cheapest = min(products, key=lambda p: p["points_price"])
    status, body = _post(
        api,
        "/prod/orders",
        member,
        {"items": [{"item_id": cheapest["id"], "quantity": 1}]},
        {"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, body
    order_id = body["order"]["id"]
    assert body["order"]["status"] == "PENDING"

    # The API relays OrderCreated right after its commit; the worker's poller hands it to
    # process_order_events, which confirms the order.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order = call(api, "GET", f"/prod/orders/{order_id}", member)[1]["order"]
        if order["status"] != "PENDING":
            break
        time.sleep(0.2)
    assert order["status"] == "CONFIRMED", stack.output()

    status, body = _post(api, f"/partner/orders/{order_id}/packed", headers={"X-Api-Key": keys["WAREHOUSE"]})
    assert status == 200 and body["order"]["status"] == "PACKED"
    status, body = _post(api, f"/partner/orders/{order_id}/delivered", headers={"X-Api-Key": keys["DELIVERY"]})
    assert status == 200 and body["order"]["status"] == "DELIVERED"
    assert [h["status"] for h in body["order"]["history"]] == ["PENDING", "CONFIRMED", "PACKED", "DELIVERED"]
    status, body = _post(api, f"/prod/orders/{order_id}/cancel", member)
    assert status == 409 and body["code"] == "INVALID_TRANSITION"

    status, body = call(api, "GET", "/admin/dead-letters", admin)
    assert status == 200 and body == {"dead_letters": []}
    # Issue 10 finding 8: the status emails went to the local outbox folder, and no line of the log (API,
    # worker, jobs, at INFO) carries the member's address.
    deadline = time.monotonic() + 30
    outbox = data_dir / "email-outbox"
    while time.monotonic() < deadline and len(list(outbox.glob("*.eml"))) < 3:
        time.sleep(0.2)
    assert len([p for p in outbox.glob("*.eml") if localaws.DEMO_MEMBER[0] in p.read_text()]) >= 3
    assert stack.interrupt() < 20
    log = [line for line in stack.output(tail=10**9).splitlines() if line.startswith("{")]  # the log, not the banner
    assert any('"message": "request"' in line for line in log)  # INFO lines were logged
    assert [line for line in log if localaws.DEMO_MEMBER[0] in line] == []
