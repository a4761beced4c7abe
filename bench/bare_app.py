"""Cold-start baseline: the smallest honest Chalice app serving the catalog.

One route, one lazily opened pg8000.native connection, the same SQL as the project's catalog
repository, rows turned into dicts and `json.dumps`-ed. No settings model, no pydantic, no
middleware, no services: what any Chalice + PostgreSQL Lambda pays at minimum.
"""
import json
import os
from urllib.parse import unquote, urlparse

import pg8000.native
from chalice import Chalice, Response

app = Chalice(app_name="bare-catalog")

PRODUCTS_SQL = (
    "SELECT id, name, description, category, points_price, usd_price::float8, sku, rating::float8, image_url "
    "FROM products WHERE active ORDER BY name, id"
)
_conn = None


def connection():
    global _conn
    if _conn is None:
        url = urlparse(os.environ["DATABASE_URL"])
        _conn = pg8000.native.Connection(
            user=unquote(url.username or "postgres"),
            password=unquote(url.password) if url.password else None,
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            database=unquote(url.path.lstrip("/")),
            # Plain TCP on loopback, as the project connects there (platform/db.py): pg8000's default
            # (None) would first build a TLS context and ask the server for TLS, ~20 ms the project skips.
            ssl_context=False,
        )
    return _conn


@app.route("/prod/products")
def products():
    conn = connection()
    rows = conn.run(PRODUCTS_SQL)
    names = [c["name"] for c in conn.columns]
    body = json.dumps({"products": [dict(zip(names, row)) for row in rows]}, default=str)
    return Response(body=body, status_code=200,
                    headers={"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"})
