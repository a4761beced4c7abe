"""Test harness: a real PostgreSQL (embedded, or TEST_DATABASE_URL) and moto server for AWS only.

Every test starts from empty tables plus a small catalog; tokens are real Cognito ID tokens
issued by the emulated user pool and verified by the app against its JWKS.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The app reads this at import to decide whether API Gateway's authorizer is in front of it.
os.environ.setdefault("XANADU_AUTH_MODE", "verify")

from devtools import localaws  # noqa: E402  (sets moto's id strategies before moto loads)

logging.getLogger("werkzeug").setLevel(logging.ERROR)

TEST_PRODUCTS = [
    # sku, name, category, points, stock
    ("T-TEE", "Test Tee", "Apparel", 300, 100),
    ("T-CAP", "Test Cap", "Apparel", 200, 100),
    ("T-MUG", "Test Mug", "Home & Kitchen", 150, 100),
    ("T-LAMP", "Test Lamp", "Electronics", 700, 3),
    ("T-CARD", "Test Gift Card", "Gift Cards", 100, 1000),
]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The schema owner's URL (migrations, truncation, DDL in tests). The app uses `app_database_url`."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    from devtools.localdb import LocalPostgres, free_port

    data_dir = Path(tempfile.mkdtemp(prefix="xanadu-test-pg-"))
    pg = LocalPostgres(data_dir, free_port()).start()
    try:
        yield pg.create_database("xanadu_test", drop=True)
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def aws() -> Iterator[localaws.LocalAws]:
    server, endpoint = localaws.start_server(port=0)
    try:
        yield localaws.bootstrap(endpoint)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_database_url(database_url: str) -> str:
    """The app connects as the least-privilege role the migration runner ensures (issue 8), so a
    missing grant fails here, not in AWS."""
    from devtools.localdb import as_app_role

    return as_app_role(database_url)


@pytest.fixture(scope="session")
def owner_db(database_url: str) -> Iterator[Any]:
    """The schema owner's connection: migrations, TRUNCATE between tests, DDL a test needs."""
    from chalicelib.config import Settings
    from chalicelib.db import Database

    owner = Database(Settings(database_url=database_url))
    try:
        yield owner
    finally:
        owner.close()


@pytest.fixture(scope="session", autouse=True)
def environment(database_url: str, app_database_url: str, owner_db: Any, aws: localaws.LocalAws) -> Iterator[None]:
    env = {**aws.app_env(), "DATABASE_URL": app_database_url, "STAGE": "test", "LOG_LEVEL": "WARNING",
           "EMAIL_MODE": "log"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from chalicelib.config import reset_settings
    from chalicelib.db import reset_database
    from chalicelib.migrations import apply_all

    reset_settings()
    reset_database()
    apply_all(owner_db)
    yield
    reset_database()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def reset_app_state() -> None:
    import app as app_module

    app_module._singletons.clear()


@pytest.fixture()
def db():
    from chalicelib.db import get_database

    return get_database()


@pytest.fixture(autouse=True)
def clean_database(environment: None, owner_db: Any) -> Iterator[None]:
    from chalicelib.db import get_database

    database = get_database()
    with owner_db.transaction() as tx:
        tables = [r["tablename"] for r in tx.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")]
        tx.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    seed_test_catalog(database)
    reset_app_state()
    yield


def seed_test_catalog(database) -> None:
    from chalicelib.repositories import products

    with database.transaction() as tx:
        for sku, name, category, points, stock in TEST_PRODUCTS:
            products.insert_if_absent(tx, sku=sku, name=name, description=f"{name} description", category=category,
                                      points_price=points, usd_price=points / 100, rating=4.0,
                                      image_url=None, stock=stock)


@pytest.fixture()
def product_ids(db) -> dict[str, str]:
    with db.reader() as tx:
        return {r["sku"]: str(r["id"]) for r in tx.fetch("SELECT sku, id FROM products")}


@pytest.fixture(scope="session")
def tokens(aws: localaws.LocalAws):
    """token(email, admin=False) -> a real ID token from the emulated user pool (cached per user)."""
    cache: dict[tuple[str, bool], str] = {}
    lock = threading.Lock()

    def token(email: str = "alice@example.com", admin: bool = False) -> str:
        key = (email, admin)
        with lock:
            if key not in cache:
                localaws.ensure_user(aws.endpoint, aws.user_pool_id, email,
                                     groups=("admin",) if admin else ())
                cache[key] = localaws.id_token(aws.endpoint, aws.client_id, email)
            return cache[key]

    return token


class Api:
    """The chalice test client (same LocalGateway as `chalice local`) with JSON conveniences."""

    def __init__(self, client: Any, tokens: Any):
        self._client = client
        self._tokens = tokens

    def request(self, method: str, path: str, *, as_user: str | None = None, admin: bool = False,
                token: str | None = None, json_body: Any = None, raw: bytes | None = None,
                headers: dict[str, str] | None = None):
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is None and as_user is not None:
            token = self._tokens(as_user, admin)
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else (json.dumps(json_body).encode() if json_body is not None else b"")
        return self._client.http.request(method, path, headers=all_headers, body=body)

    def get(self, path: str, **kw: Any):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any):
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any):
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def chalice_client(environment: None):
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield client


@pytest.fixture()
def api(chalice_client: Any, tokens: Any) -> Api:
    return Api(chalice_client, tokens)


@pytest.fixture(scope="session")
def live_server(environment: None) -> Iterator[str]:
    """The app behind chalice local's threaded HTTP server, for concurrency tests over real sockets."""
    from chalice.cli import factory
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer, create_local_server

    import app as app_module
    from devtools.localdb import free_port

    ChaliceRequestHandler.disable_nagle_algorithm = True  # as devtools/run.py does: no 40 ms ACK stalls
    # The default listen backlog of 5 resets connections when 32 clients connect at once.
    ThreadedHTTPServer.request_queue_size = 128
    config = factory.CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
    port = free_port()
    server = create_local_server(app_module.app, config, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def http_call(base: str, method: str, path: str, token: str | None = None, body: Any = None,
              headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, dict[str, str], Any]:
    """Plain urllib call for live-server tests: (status, headers, parsed JSON or None)."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return err.code, dict(err.headers), parsed
