"""The lean cold path (issue 11): importing app.py builds no HTTP model and imports no pydantic, routes name
their models and those names resolve to the models the document always described, and the catalog body
built from its rows is byte for byte what its schema gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_app_and_the_catalog_read_imports_no_pydantic_schemas_authenticator_or_row_classes():
    probe = (
        "import sys, app, chalicelib.catalog.service, chalicelib.catalog.repository\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'jwt')"
        " or m.endswith('schemas') or m in ('chalicelib.platform.auth', 'chalicelib.platform.openapi',"
        " 'chalicelib.catalog.rows'))\n"
        "print(','.join(heavy))\n"
    )
    env = {**os.environ, "XANADU_AUTH_MODE": "cognito"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_every_model_a_route_names_resolves_to_a_pydantic_model():
    import app  # noqa: F401  (registers every route)
    from chalicelib.platform.routing import ROUTE_TABLE

    named = 0
    for route in ROUTE_TABLE:
        models = [route.request] if route.request is not None else []
        for spec in route.responses.values():
            models += list(spec) if isinstance(spec, tuple) else [spec] if spec is not None else []
        for model in models:
            assert isinstance(model, type) and issubclass(model, BaseModel), (route.method, route.path, model)
            named += 1
    assert named > 50


def test_the_document_is_the_same_whether_routes_name_their_models_or_pass_the_classes():
    import app  # noqa: F401
    from chalicelib.platform.openapi import build_spec
    from chalicelib.platform.routing import ROUTE_TABLE

    named = [
        r
        for r in ROUTE_TABLE
        if isinstance(r.request_ref, str)
        or any(
            isinstance(s, str) or (isinstance(s, tuple) and any(isinstance(m, str) for m in s))
            for s in r.response_refs.values()
        )
    ]
    assert len(named) > 50  # the routes really declare names
    as_classes = [r._replace(request_ref=r.request, response_refs=r.responses) for r in ROUTE_TABLE]
    lazy, eager = build_spec(ROUTE_TABLE), build_spec(as_classes)
    assert json.dumps(lazy) == json.dumps(eager)


def test_a_model_of_another_domain_is_named_by_module():
    import app  # noqa: F401
    from chalicelib.orders.schemas import OrderEnvelope
    from chalicelib.platform.routing import ROUTE_TABLE

    purchase = next(r for r in ROUTE_TABLE if r.path == "/prod/reservations/{reservation_id}/purchase")
    assert purchase.response_refs[201] == "orders.schemas:OrderEnvelope"
    assert purchase.responses[201] is OrderEnvelope


PRODUCTS = [
    {
        "id": UUID("00000000-0000-4000-8000-000000000001"),
        "name": "Tee",
        "description": "",
        "category": "Apparel",
        "points_price": 1,
        "usd_price": None,
        "sku": "T-1",
        "rating": None,
        "image_url": None,
    },
    {
        "id": UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"),
        "name": 'Caf\u00e9 \u2615 "quoted" \\ back',
        "description": "line\nbreak\ttab \u00a0 \U0001f600",
        "category": "Food & drink",
        "points_price": 10_000_000,
        "usd_price": 0.1 + 0.2,
        "sku": "C.2_x-3",
        "rating": 4.75,
        "image_url": "https://example.com/i.png?a=1&b=2",
    },
    {
        "id": UUID("12345678-1234-4234-8234-123456789abc"),
        "name": "Zero",
        "description": "d",
        "category": "c",
        "points_price": 5,
        "usd_price": 0.0,
        "sku": "Z",
        "rating": 0.0,
        "image_url": "",
    },
    {
        "id": UUID("12345678-1234-4234-8234-123456789abd"),
        "name": "Big",
        "description": "d",
        "category": "c",
        "points_price": 7,
        "usd_price": 1e6,
        "sku": "B",
        "rating": 5.0,
        "image_url": None,
    },
]


@pytest.mark.parametrize("count", [0, 1, len(PRODUCTS)])
def test_the_catalog_body_built_from_rows_is_byte_identical_to_its_schema(count):
    from chalicelib.catalog.models import ListedProduct
    from chalicelib.catalog.routes import product_list
    from chalicelib.catalog.schemas import ProductList
    from chalicelib.platform.http import json_response

    rows = [ListedProduct(**{**p, "id": str(p["id"])}) for p in PRODUCTS[:count]]  # uuid::text is canonical
    fast = json_response(product_list(rows))
    modelled = json_response(ProductList.model_validate({"products": rows}))
    assert fast.body == modelled.body
    assert fast.headers == modelled.headers and fast.status_code == modelled.status_code
    assert ProductList.model_validate_json(fast.body).model_dump(mode="json") == json.loads(fast.body)


def test_settings_keep_their_bounds_types_and_rules_without_pydantic():
    from chalicelib.platform.config import ConfigurationError, Settings, settings_from_env

    s = settings_from_env(
        {
            "DB_CONNECT_TIMEOUT": "1.5",
            "OUTBOX_PUBLISH_AFTER_COMMIT": "off",
            "DB_PORT": " 6432 ",
            "GOLD_MULTIPLIER": "2.125",
            "RETURN_POLICY": "block",
        }
    )
    assert (s.db_connect_timeout, s.outbox_publish_after_commit, s.db_port) == (1.5, False, 6432)
    assert s.gold_multiplier == Decimal("2.125") and s.return_policy == "block"
    for bad in (
        {"DB_CONNECT_TIMEOUT": "0"},
        {"DB_CONNECT_TIMEOUT": "11"},
        {"GOLD_MULTIPLIER": "1.2345"},
        {"DB_PORT": "5432.5"},
        {"OUTBOX_PUBLISH_AFTER_COMMIT": "maybe"},
        {"EXPIRY_BATCH_SIZE": "0"},
        {"ORDER_FAIL_AFTER_SECONDS": "300"},
        {"MAX_PURCHASE_USD": "nan"},
    ):
        with pytest.raises(ConfigurationError):
            settings_from_env(bad)
    with pytest.raises(ConfigurationError):
        Settings(no_such_setting=1)
    with pytest.raises(AttributeError):
        s.db_port = 1  # type: ignore[misc]
    changed = s.model_copy(update={"points_per_usd": 20})
    assert (changed.points_per_usd, s.points_per_usd, changed.db_port) == (20, 10, 6432)
    with pytest.raises(ConfigurationError):
        s.model_copy(update={"silver_threshold": 10**9})
    assert "password" not in repr(Settings(database_url="postgresql://u:password@h/d"))
