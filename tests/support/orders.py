"""Helpers shared by the order, reservation and SQS-processor tests (not a test module itself)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.ledger import member_id_of, stock, sums  # noqa: F401  (re-exported for the order tests)


def order_key() -> str:
    return f"test-{uuid.uuid4()}"


def place(api, user: str, items: list[tuple[str, int]], key: str | None = None):
    """POST /prod/orders with a fresh Idempotency-Key unless one is given."""
    return api.post(
        "/prod/orders",
        as_user=user,
        headers={"Idempotency-Key": key or order_key()},
        json_body={"items": [{"item_id": i, "quantity": q} for i, q in items]},
    )


def issue_partner(api, kind: str, name: str | None = None) -> str:
    created = api.post(
        "/admin/partners",
        as_user="ops-admin@example.com",
        admin=True,
        json_body={"name": name or f"{kind.title()} partner", "kind": kind},
    )
    assert created.status_code == 201, created.json_body
    return created.json_body["api_key"]


def partner_call(api, key: str | None, order_id: str, what: str):
    headers = {"X-Api-Key": key} if key is not None else {}
    return api.post(f"/partner/orders/{order_id}/{what}", headers=headers)


def status_of(db, order_id) -> str:
    with db.reader() as tx:
        return tx.fetch_value("SELECT status FROM orders WHERE id = :o", o=order_id)


def move(db, order_id, *actions: str) -> None:
    """Drive an order through the state machine (as the processor and partners would)."""
    from chalicelib.orders.lifecycle import Action, transition

    for action in actions:
        with db.transaction() as tx:
            transition(tx, uuid.UUID(str(order_id)), Action(action), read_back=False)


def settings(**overrides: Any):
    from chalicelib.platform.config import get_settings

    return get_settings().model_copy(update=overrides)


@dataclass
class FulfilmentStub:
    """A fulfilment partner on a local port: answers with the status `decide(order_id, attempt)` returns."""

    decide: Callable[[str, int], int] = lambda order_id, attempt: 200
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __enter__(self) -> FulfilmentStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                attempt = sum(1 for c in stub.calls if c["order_id"] == request["order_id"]) + 1
                stub.calls.append({**request, "idempotency_key": self.headers.get("Idempotency-Key")})
                status = stub.decide(request["order_id"], attempt)
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/fulfil"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
