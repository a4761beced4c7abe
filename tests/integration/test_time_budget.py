"""Issue 8, point 4: a database or AWS endpoint that accepts connections and never answers ends as our
503 body well inside API Gateway's 29 s (and a request's waits are capped by its deadline)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.container import reset_services
from chalicelib.platform import db as db_module
from chalicelib.platform.config import Settings
from chalicelib.platform.db import Database
from chalicelib.platform.deadline import request_deadline
from chalicelib.platform.errors import DatabaseUnavailable

GATEWAY_TIMEOUT_S = 29.0


class BlackHole:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop = True
        self._sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


def _use(database: Database, monkeypatch: Any) -> None:
    monkeypatch.setattr(db_module, "_database", database)
    reset_services()


def test_database_that_never_answers_is_our_503_within_the_budget(api, tokens, black_hole, monkeypatch):
    token = tokens("hole@example.com")
    # The default settings (DB_CONNECT_TIMEOUT 3 s), only the address changed.
    _use(Database(Settings(database_url=f"postgresql://xanadu_app@127.0.0.1:{black_hole.port}/xanadu")), monkeypatch)
    for method, path in (("GET", "/prod/products"), ("GET", "/prod/points"), ("POST", "/prod/cart/checkout")):
        started = time.monotonic()
        response = api.request(method, path, token=token)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, path
        assert response.json_body == {
            "error": response.json_body["error"],
            "code": "DATABASE_UNAVAILABLE",
            "details": [],
        }
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert elapsed < 10, f"{path} took {elapsed:.1f} s"  # connect timeout, no retry storm
    assert black_hole.accepted >= 3  # the connections really were accepted (not refused)
    reset_services()


def test_secrets_manager_that_never_answers_is_our_503_within_the_budget(api, black_hole, monkeypatch):
    settings = Settings(
        db_host="db.internal.example",
        db_auth="secret",
        db_secret_id="xanadu/test/app",
        aws_endpoint_url=f"http://127.0.0.1:{black_hole.port}",
    )
    _use(Database(settings), monkeypatch)
    started = time.monotonic()
    response = api.get("/prod/products")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json_body["code"] == "DATABASE_UNAVAILABLE"
    # ON_REQUEST: (1 s connect + 3 s read) x 2 attempts, plus backoff.
    assert elapsed < 12, f"took {elapsed:.1f} s"
    reset_services()


def test_the_request_deadline_caps_a_slow_statement(db):
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        with request_deadline(0.5):
            with db.reader() as tx:
                tx.fetch("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 2.5
    with db.reader() as tx:  # the pool is healthy afterwards
        assert tx.fetch_value("SELECT 1") == 1


def test_worst_case_budget_is_below_the_gateway_timeout():
    """The arithmetic the docs state (docs/operations.md, "Time budget")."""
    from chalicelib.platform.aws import ON_REQUEST
    from chalicelib.platform.deadline import API_REQUEST_BUDGET_SECONDS

    settings = Settings()
    one_request = (
        ON_REQUEST.worst_case_seconds
        + 2 * settings.db_connect_timeout
        + settings.db_statement_timeout_ms / 1000
        + db_module.READ_TIMEOUT_MARGIN_S
    )
    assert one_request < GATEWAY_TIMEOUT_S
    assert API_REQUEST_BUDGET_SECONDS < GATEWAY_TIMEOUT_S


def test_health_reports_a_deployed_stage_without_email_sender(api, monkeypatch):
    """Issue 8, point 8: EMAIL_SENDER is required in deployed stages, and /health says so (503)."""
    from chalicelib.platform.config import get_settings

    deployed = get_settings().model_copy(
        update={
            "stage": "prod",
            "auth_mode": "cognito",
            "email_mode": "ses",
            "email_sender": None,
            "aws_endpoint_url": None,
            "order_events_queue_url": "https://sqs.example/q",
        }
    )
    database = Database(deployed.model_copy(update={"database_url": get_settings().database_url}))
    _use(database, monkeypatch)
    response = api.get("/health")
    assert response.status_code == 503
    assert response.json_body["configuration"] == "invalid"
    assert "EMAIL_SENDER is required in deployed stages" in response.json_body["configuration_problems"]
    assert response.json_body["database"] == "up"
    database.close()
    reset_services()
