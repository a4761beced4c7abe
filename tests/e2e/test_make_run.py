"""The whole system as `make run` starts it: the frontend journey over HTTP, a clean Ctrl-C, a restart."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools import localaws, ops
from tests.support.stack import LocalStack, call, refuses_connections


@pytest.mark.slow
def test_make_run_serves_the_frontend_journey_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
    launch: Callable[[Path], LocalStack],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from devtools import token as token_cli
    from devtools.localdb import LocalPostgres
    from devtools.run import StackInfo

    data_dir = tmp_path / "local"
    stack = launch(data_dir)
    stack.wait_ready()
    monkeypatch.setenv("XANADU_DATA_DIR", str(data_dir))
    assert token_cli.main([]) == 0
    token = capsys.readouterr().out.strip()
    info = StackInfo.load(data_dir)
    api = stack.api

    status, body = call(api, "GET", "/prod/products")
    products = body["products"]
    assert status == 200 and len(products) >= 24
    assert len({p["category"] for p in products}) >= 4
    assert products[0]["image_url"].startswith(info.images_url)
    with urllib.request.urlopen(products[0]["image_url"], timeout=5) as image:
        assert image.status == 200 and image.headers["Content-Type"] == "image/svg+xml"
    status, body = call(api, "GET", "/prod/products/categories")
    assert status == 200 and len(body["categories"]) >= 4 and body["categories"] == sorted(body["categories"])

    status, body = call(api, "GET", "/customer", token)
    assert status == 200 and body["email"] == localaws.DEMO_MEMBER[0]
    status, body = call(api, "GET", "/prod/points", token)
    assert status == 200 and body["points"] == 1000

    # A cart worth more than the signup bonus fails and is emptied (frontend contract)...
    priciest = max(products, key=lambda p: p["points_price"])
    assert call(api, "POST", "/prod/cart/item", token, {"id": priciest["id"], "quantity": 1})[0] == 201
    assert call(api, "POST", "/prod/cart/checkout", token) == (
        200,
        {"success": False, "error": f"Insufficient points. Required: {priciest['points_price']}"},
    )
    assert call(api, "GET", "/prod/cart", token)[1] == {"items": []}

    # ...and the re-posted cart of the two cheapest rewards succeeds.
    cheapest = sorted(products, key=lambda p: p["points_price"])[:2]
    for product in cheapest:
        assert call(api, "POST", "/prod/cart/item", token, {"id": product["id"], "quantity": 1})[0] == 201
    status, placed = call(api, "POST", "/prod/cart/checkout", token)
    assert status == 200 and placed["success"] is True and placed["previousBalance"] == 1000
    spent = sum(p["points_price"] for p in cheapest)
    assert placed["totalPoints"] == spent
    balance = 1000 - spent
    assert call(api, "GET", "/prod/points", token)[1]["points"] == balance

    history = call(api, "GET", "/prod/points/tx", token)[1]["transactions"]
    assert [t["tx_type"] for t in history] == ["SPEND", "BONUS"]
    assert history[0]["id"] == placed["txId"] and history[0]["points"] == -spent
    status, body = call(api, "GET", f"/prod/points/tx/{placed['txId']}", token)
    assert status == 200
    assert sorted((i["cat_item_id"], i["unit_cnt"]) for i in body["transaction"]["items"]) == sorted(
        (p["id"], 1) for p in cheapest
    )
    # The order is confirmed asynchronously: order-events -> the worker -> app.py's SQS handler.
    deadline = time.monotonic() + 20
    while call(api, "GET", f"/prod/orders/{placed['orderId']}", token)[1]["order"]["status"] == "PENDING":
        assert time.monotonic() < deadline, "the worker did not deliver the order event"
        time.sleep(0.3)
    assert call(api, "GET", f"/prod/orders/{placed['orderId']}", token)[1]["order"]["status"] == "CONFIRMED"

    assert ops.main(["dead-letters"]) == 0
    assert "0 dead letter(s)" in capsys.readouterr().err

    assert stack.interrupt() < 20
    assert stack.process.returncode == 0
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()
    assert not LocalPostgres(data_dir / "postgres", stack.ports["DB"]).is_running()
    assert all(refuses_connections(port) for port in stack.ports.values())

    again = launch(data_dir)
    again.wait_ready()
    token = token_cli.token_for(StackInfo.load(data_dir), localaws.DEMO_MEMBER[0])
    assert call(again.api, "GET", "/prod/points", token)[1]["points"] == balance, "the balance must persist"
    assert again.interrupt() < 20
