"""Fixtures of the suite (loaded by tests/conftest.py): a real PostgreSQL (embedded, or
TEST_DATABASE_URL), moto server for AWS only, real ID tokens from the emulated user pool, the app
through chalice's test client or behind a live threaded server.

Nothing here is autouse: unit tests never start a database; tests/integration/conftest.py resets
the tables before each of its tests.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import localaws  # sets moto's id strategies before moto loads
from tests.support.http import Api

ROOT = Path(__file__).resolve().parents[2]

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
    """The app connects as the least-privilege role the migration runner ensures, so a missing grant
    fails here, not in AWS."""
    from devtools.localdb import as_app_role

    return as_app_role(database_url)


@pytest.fixture(scope="session")
def owner_db(database_url: str) -> Iterator[Any]:
    """The schema owner's connection: migrations, TRUNCATE between tests, DDL a test needs."""
    from chalicelib.platform.config import Settings
    from chalicelib.platform.db import Database

    owner = Database(Settings(database_url=database_url))
    try:
        yield owner
    finally:
        owner.close()


@pytest.fixture(scope="session")
def environment(app_database_url: str, owner_db: Any, aws: localaws.LocalAws) -> Iterator[None]:
    env = {
        **aws.app_env(),
        "DATABASE_URL": app_database_url,
        "STAGE": "test",
        "LOG_LEVEL": "WARNING",
        "EMAIL_MODE": "log",
        "EMAIL_OUTBOX_DIR": tempfile.mkdtemp(prefix="xanadu-test-email-"),
        # Purchases credit at once, as before pending points existed; the pending-points tests turn
        # the return window on themselves (tests/support/points.py: settings_with / pending_days).
        "POINTS_PENDING_DAYS": "0",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from chalicelib.platform.config import reset_settings
    from chalicelib.platform.db import reset_database
    from chalicelib.platform.migrations import apply_all

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


def reset_database_state(owner_db: Any) -> None:
    """Empty every table (as the schema owner: the app's role may not TRUNCATE), seed the test catalog
    (as the app), forget what the container cached."""
    from chalicelib.container import reset_services
    from chalicelib.platform.db import get_database

    database = get_database()
    with owner_db.transaction() as tx:
        tables = [
            r["tablename"]
            for r in tx.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ]
        tx.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    seed_test_catalog(database)
    reset_services()


def seed_test_catalog(database: Any) -> None:
    from chalicelib.catalog import repository as products
    from chalicelib.catalog.models import NewProduct

    with database.transaction() as tx:
        for sku, name, category, points, stock in TEST_PRODUCTS:
            products.insert(
                tx,
                NewProduct(
                    sku=sku,
                    name=name,
                    description=f"{name} description",
                    category=category,
                    points_price=points,
                    usd_price=points / 100,
                    rating=4.0,
                    image_url=None,
                    stock=stock,
                ),
            )


@pytest.fixture
def db(environment: None) -> Any:
    from chalicelib.platform.db import get_database

    return get_database()


@pytest.fixture
def product_ids(db: Any) -> dict[str, str]:
    with db.reader() as tx:
        return {r["sku"]: str(r["id"]) for r in tx.fetch("SELECT sku, id FROM products")}


@pytest.fixture(scope="session")
def tokens(aws: localaws.LocalAws) -> Callable[..., str]:
    """token(email, admin=False) -> a real ID token from the emulated user pool (cached per user)."""
    cache: dict[tuple[str, bool], str] = {}
    lock = threading.Lock()

    def token(email: str = "alice@example.com", admin: bool = False) -> str:
        key = (email, admin)
        with lock:
            if key not in cache:
                localaws.ensure_user(aws.endpoint, aws.user_pool_id, email, groups=("admin",) if admin else ())
                cache[key] = localaws.id_token(aws.endpoint, aws.client_id, email)
            return cache[key]

    return token


@pytest.fixture(scope="session")
def chalice_client(environment: None) -> Iterator[Any]:
    from chalice.test import Client

    import app as app_module
    from devtools import gateway

    gateway.install()  # unknown paths answered as the deployed API Gateway does (as make run does)

    with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield client


@pytest.fixture
def api(chalice_client: Any, tokens: Callable[..., str]) -> Api:
    return Api(chalice_client, tokens)


@pytest.fixture(scope="session")
def live_server(environment: None) -> Iterator[str]:
    """The app behind chalice local's threaded HTTP server, for concurrency tests over real sockets."""
    from chalice.cli import factory
    from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer, create_local_server

    import app as app_module
    from devtools import gateway
    from devtools.localdb import free_port

    gateway.install()
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
