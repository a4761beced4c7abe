"""Is the prototype the same program? The same journey through today's code and through the prototype,
then every response and every row it wrote, compared.

Each variant runs in its own process (the prototype is installed per process) against one database,
with its own member, partner and products (same names, prices and stock, so the expected answers are
identical). Responses are compared after replacing ids and timestamps by placeholders numbered in
order of appearance; so are the rows each member ends up with (ledger entries, lots, allocations,
orders, lines, history, outbox events, cart, idempotency keys, purchases, reservations, product stock).

The journey covers: empty cart; checkout success; out of stock (name in the message, stock and points
untouched, cart emptied); insufficient points; a lapsed lot expired before a spend (EXPIRE row,
allocation, PointsExpired event); a spend that would need lapsed points (refused, nothing expired);
FIFO over lots with different expiries; add-to-cart errors (unknown item 404, line over the limit 400);
order creation with a fresh key, a replay (identical body, Idempotency-Replay), the same key with
another body (409), an unknown item (404 with details), out of stock and insufficient points (409);
partner purchases: credit, replay (200, same body), conflicting repeat (409), unknown member (404),
tier upgrade and the next purchase at the new multiplier; reservations: a hold bought, the purchase
replayed, bought again under a new key (409), a released hold (409), an unknown one (404).

  python -m bench.prototypes.check            (sets up its own PostgreSQL; or called by lambda_load)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import uuid
from typing import Any

VARIANTS = ("today", "prototype")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?")

# Products each variant gets (same names in both, so messages match): (key, name, price, stock).
PRODUCTS = (
    ("cheap", "Bench Mug", 100, 1000),
    ("second", "Bench Pen", 250, 1000),
    ("soldout", "Bench Sold Out Lamp", 100, 0),
    ("pricey", "Bench Yacht", 5_000_000, 10),
    ("held", "Bench Tent", 300, 10),
)


class Normaliser:
    """Ids and timestamps -> <id1>, <t> (ids numbered by first appearance, so structure still counts)."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def text(self, value: str) -> str:
        value = _UUID.sub(lambda m: self.ids.setdefault(m.group(0), f"<id{len(self.ids) + 1}>"), value)
        return _TIME.sub("<t>", value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, uuid.UUID):
            return self.text(str(value))
        if hasattr(value, "isoformat"):
            return "<t>"
        if value.__class__.__name__ == "Decimal":
            return str(value)
        return value


# -- the journey (runs in a child process per variant) -------------------------------------------------
def journey(config: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.lambda_worker import Container, claims_for

    container = Container(config["variant"])
    products = config["products"]
    member = claims_for(config["email"])
    steps: list[dict[str, Any]] = []
    sql = _sql(config["database_url"])

    def call(name: str, method: str, path: str, **kwargs: Any) -> Any:
        status, body = container.call(method, path, **kwargs)
        steps.append({"step": name, "status": status, "body": body})
        return body

    def member_id() -> str:
        return str(sql.run("SELECT id FROM members WHERE email = :e", e=config["email"])[0][0])

    call("enrol", "GET", "/prod/points", claims=member)
    me = member_id()
    post = {"claims": member}
    call("checkout empty", "POST", "/prod/cart/checkout", **post)
    call("add cheap x2", "POST", "/prod/cart/item", body={"id": products["cheap"], "quantity": 2}, **post)
    call("add second", "POST", "/prod/cart/item", body={"id": products["second"]}, **post)
    call("checkout ok", "POST", "/prod/cart/checkout", **post)
    call("cart after ok", "GET", "/prod/cart", **post)
    call("add soldout", "POST", "/prod/cart/item", body={"id": products["soldout"]}, **post)
    call("add cheap", "POST", "/prod/cart/item", body={"id": products["cheap"]}, **post)
    call("checkout out of stock", "POST", "/prod/cart/checkout", **post)
    call("cart after out of stock", "GET", "/prod/cart", **post)
    call("add pricey", "POST", "/prod/cart/item", body={"id": products["pricey"]}, **post)
    call("checkout insufficient", "POST", "/prod/cart/checkout", **post)
    call("points after refusals", "GET", "/prod/points", **post)
    call("add unknown", "POST", "/prod/cart/item", body={"id": str(uuid.UUID(int=7))}, **post)
    call("add over limit", "POST", "/prod/cart/item", body={"id": products["cheap"], "quantity": 100}, **post)
    call("add to limit+1", "POST", "/prod/cart/item", body={"id": products["cheap"], "quantity": 1}, **post)
    call("clear cart", "DELETE", "/prod/cart", **post)

    # Lots: one lapsed yesterday (300), one expiring in 10 days (200), one in 100 days (400).
    for points, days in ((300, -1), (200, 10), (400, 100)):
        sql.run(_LOT_SQL, m=me, p=points, d=days)
    call("points with lapsed lot", "GET", "/prod/points", **post)
    # Needs more than balance minus lapsed points: refused, and the lapsed lot must still be there.
    balance = int(sql.run("SELECT balance FROM members WHERE id = :m", m=me)[0][0])
    sql.run("UPDATE products SET points_price = :p WHERE id = :id", p=balance - 300 + 50, id=products["held"])
    call("add held (needs lapsed)", "POST", "/prod/cart/item", body={"id": products["held"]}, **post)
    call("checkout needing lapsed points", "POST", "/prod/cart/checkout", **post)
    sql.run("UPDATE products SET points_price = 300 WHERE id = :id", id=products["held"])
    # A spend that expires the lapsed lot first and then takes the 10-day lot before the 100-day one.
    call("add second again", "POST", "/prod/cart/item", body={"id": products["second"]}, **post)
    call("checkout expiring lapsed lot", "POST", "/prod/cart/checkout", **post)

    key = {"Idempotency-Key": "order-key-1"}
    order = {"items": [{"item_id": products["second"], "quantity": 1}, {"item_id": products["cheap"], "quantity": 3}]}
    call("order", "POST", "/prod/orders", body=order, headers=key, **post)
    call("order replay", "POST", "/prod/orders", body=order, headers=key, **post)
    call("order key reused", "POST", "/prod/orders", body={"items": [{"item_id": products["cheap"], "quantity": 1}]},
         headers=key, **post)
    call("order unknown item", "POST", "/prod/orders",
         body={"items": [{"item_id": products["cheap"], "quantity": 1}, {"item_id": str(uuid.UUID(int=9)), "quantity": 1}]},
         headers={"Idempotency-Key": "order-key-2"}, **post)
    call("order out of stock", "POST", "/prod/orders", body={"items": [{"item_id": products["soldout"], "quantity": 1}]},
         headers={"Idempotency-Key": "order-key-3"}, **post)
    call("order insufficient", "POST", "/prod/orders", body={"items": [{"item_id": products["pricey"], "quantity": 1}]},
         headers={"Idempotency-Key": "order-key-4"}, **post)
    call("order after failure, same key", "POST", "/prod/orders",
         body={"items": [{"item_id": products["pricey"], "quantity": 1}]}, headers={"Idempotency-Key": "order-key-4"}, **post)

    partner = {"headers": {"X-Api-Key": config["api_key"]}}
    purchase = {"email": config["email"], "external_id": "receipt-1", "amount_usd": "19.99", "store_id": "s1"}
    call("purchase", "POST", "/partner/purchases", body=purchase, **partner)
    call("purchase replay", "POST", "/partner/purchases", body=purchase, **partner)
    call("purchase conflict", "POST", "/partner/purchases", body={**purchase, "amount_usd": "20.00"}, **partner)
    call("purchase unknown member", "POST", "/partner/purchases",
         body={**purchase, "email": "nobody@bench.example", "external_id": "receipt-x"}, **partner)
    call("purchase to silver", "POST", "/partner/purchases",
         body={"customer_id": me, "external_id": "receipt-2", "amount_usd": "600.00"}, **partner)
    call("purchase at silver", "POST", "/partner/purchases",
         body={"email": config["email"], "external_id": "receipt-3", "amount_usd": "10.01"}, **partner)
    call("purchase tiny", "POST", "/partner/purchases",
         body={"email": config["email"], "external_id": "receipt-4", "amount_usd": "0.05"}, **partner)

    held = call("reserve", "POST", "/prod/reservations", body={"item_id": products["held"], "quantity": 2}, **post)
    rid = held["reservation"]["id"]
    route = {"resource": "/prod/reservations/{reservation_id}/purchase", "path_parameters": {"reservation_id": rid}}
    path = f"/prod/reservations/{rid}/purchase"
    call("reservation purchase", "POST", path, headers={"Idempotency-Key": "res-key-1"}, **route, **post)
    call("reservation purchase replay", "POST", path, headers={"Idempotency-Key": "res-key-1"}, **route, **post)
    call("reservation purchased again, new key", "POST", path, headers={"Idempotency-Key": "res-key-2"}, **route, **post)
    released = call("reserve another", "POST", "/prod/reservations", body={"item_id": products["held"], "quantity": 1},
                    **post)["reservation"]["id"]
    call("release it", "DELETE", f"/prod/reservations/{released}", resource="/prod/reservations/{reservation_id}",
         path_parameters={"reservation_id": released}, **post)
    call("purchase the released hold", "POST", f"/prod/reservations/{released}/purchase",
         headers={"Idempotency-Key": "res-key-3"}, resource="/prod/reservations/{reservation_id}/purchase",
         path_parameters={"reservation_id": released}, **post)
    unknown = str(uuid.UUID(int=11))
    call("purchase an unknown hold", "POST", f"/prod/reservations/{unknown}/purchase",
         headers={"Idempotency-Key": "res-key-4"}, resource="/prod/reservations/{reservation_id}/purchase",
         path_parameters={"reservation_id": unknown}, **post)
    call("final points", "GET", "/prod/points", **post)
    sql.close()
    return steps


# -- concurrency (runs in a child process per variant; threads share one warm container) -------------------
def concurrency(config: dict[str, Any]) -> dict[str, Any]:
    """The races the tests pin down, through the handler from many threads at once (current_request made
    thread-local, as chalice local does). Outcomes are checked here; both variants must pass."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chalice.local import CustomLocalChalice, LocalChalice

    from bench.lambda_worker import Container, claims_for

    container = Container(config["variant"])
    app = container.handler
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    sql = _sql(config["database_url"])
    products, variant = config["products"], config["variant"]
    checks: dict[str, Any] = {}

    def together(n: int, fn: Any) -> list[Any]:
        barrier = threading.Barrier(n)

        def run(i: int) -> Any:
            barrier.wait()
            return fn(i)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(run, range(n)))

    def sums(email: str) -> tuple[int, int, int]:
        row = sql.run("SELECT m.balance, (SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id), "
                      "(SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id) "
                      "FROM members m WHERE m.email = :e", e=email)[0]
        return int(row[0]), int(row[1]), int(row[2])

    def count(query: str, email: str) -> int:
        return int(sql.run(query, e=email)[0][0])

    orders_of = "SELECT count(*) FROM orders o JOIN members m ON m.id = o.member_id WHERE m.email = :e"

    # 1. Twelve concurrent checkouts of one cart: one order, eleven "Cart is empty".
    email = f"race-cart-{variant}@bench.example"
    me = claims_for(email)
    container.call("GET", "/prod/points", claims=me)
    container.call("POST", "/prod/cart/item", claims=me, body={"id": products["cheap"], "quantity": 3})
    bodies = together(12, lambda i: container.call("POST", "/prod/cart/checkout", claims=me))
    ok = sum(1 for status, body in bodies if status == 200 and body["success"])
    empty = sum(1 for status, body in bodies if status == 200 and body == {"success": False, "error": "Cart is empty"})
    checks["12 checkouts of one cart -> 1 order"] = (ok == 1 and empty == 11 and count(orders_of, email) == 1
                                                     and sums(email) == (700, 700, 700), [ok, empty, sums(email)])

    # 2. Promise 1, with orders: 64 concurrent POST /prod/orders (own keys), points for 10 -> exactly 10.
    email = f"race-points-{variant}@bench.example"
    me = claims_for(email)
    container.call("GET", "/prod/points", claims=me)  # 1000 points = 10 x 100
    results = together(64, lambda i: container.call(
        "POST", "/prod/orders", claims=me, body={"items": [{"item_id": products["cheap"], "quantity": 1}]},
        headers={"Idempotency-Key": f"race-{variant}-{i}"}))
    created = sum(1 for status, _ in results if status == 201)
    refused = sum(1 for status, body in results if status == 409 and body["code"] == "INSUFFICIENT_POINTS")
    checks["64 orders, points for 10 -> 10"] = (created == 10 and refused == 54 and count(orders_of, email) == 10
                                               and sums(email) == (0, 0, 0), [created, refused, sums(email)])

    # 3. Promise 2: 32 concurrent POST /prod/orders with one key -> one order, 32 identical bodies.
    email = f"race-key-{variant}@bench.example"
    me = claims_for(email)
    container.call("GET", "/prod/points", claims=me)
    payload = {"items": [{"item_id": products["second"], "quantity": 1}, {"item_id": products["cheap"], "quantity": 2}]}
    results = together(32, lambda i: container.call("POST", "/prod/orders", claims=me, body=payload,
                                                   headers={"Idempotency-Key": f"one-key-{variant}"}))
    statuses = sorted({status for status, _ in results})
    distinct = len({json.dumps(body, sort_keys=True) for _, body in results})
    checks["32 orders with one key -> 1"] = (statuses == [201] and distinct == 1 and count(orders_of, email) == 1
                                            and sums(email) == (550, 550, 550), [statuses, distinct, sums(email)])

    # 4. Sixteen concurrent reports of one purchase: one credit, one 201, fifteen 200 with the same body.
    email = f"race-purchase-{variant}@bench.example"
    container.call("GET", "/prod/points", claims=claims_for(email))
    report = {"email": email, "external_id": f"race-receipt-{variant}", "amount_usd": "12.34"}
    results = together(16, lambda i: container.call("POST", "/partner/purchases", body=report,
                                                   headers={"X-Api-Key": config["api_key"]}))
    statuses = sorted(status for status, _ in results)
    distinct = len({json.dumps(body, sort_keys=True) for _, body in results})
    earns = count("SELECT count(*) FROM ledger_entries l JOIN members m ON m.id = l.member_id "
                  "WHERE m.email = :e AND l.entry_type = 'EARN'", email)
    checks["16 reports of one purchase -> 1 credit"] = (statuses == [200] * 15 + [201] and distinct == 1 and earns == 1
                                                      and sums(email) == (1123, 1123, 1123),
                                                      [statuses.count(201), distinct, earns, sums(email)])
    # 5. Promise 5's second half: pooled connections killed while idle (failover, proxy idle timeout);
    #    the next requests must succeed, not 503: each path replaces a dead connection before writing.
    email = f"race-kill-{variant}@bench.example"
    me = claims_for(email)
    container.call("GET", "/prod/points", claims=me)
    outcomes = []
    for step in ("checkout", "order", "purchase"):
        killed = sql.run("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                         "WHERE application_name = 'xanadu-rewards' AND pid <> pg_backend_pid()")[0][0]
        if step == "checkout":
            container.call("POST", "/prod/cart/item", claims=me, body={"id": products["cheap"]})  # reconnects
            sql.run("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                    "WHERE application_name = 'xanadu-rewards' AND pid <> pg_backend_pid()")
            status, body = container.call("POST", "/prod/cart/checkout", claims=me)
            outcomes.append((step, killed, status, bool(body and body.get("success"))))
        elif step == "order":
            status, body = container.call("POST", "/prod/orders", claims=me,
                                          body={"items": [{"item_id": products["cheap"], "quantity": 1}]},
                                          headers={"Idempotency-Key": f"after-kill-{variant}"})
            outcomes.append((step, killed, status, status == 201))
        else:
            status, body = container.call("POST", "/partner/purchases", headers={"X-Api-Key": config["api_key"]},
                                          body={"email": email, "external_id": f"after-kill-{variant}", "amount_usd": "1"})
            outcomes.append((step, killed, status, status == 201))
    checks["killed idle connections -> next request ok"] = (all(o[3] for o in outcomes), outcomes)
    sql.close()
    return {name: {"ok": bool(ok), "detail": detail} for name, (ok, detail) in checks.items()}


_LOT_SQL = """
WITH e AS (
    INSERT INTO ledger_entries (member_id, entry_type, points, description, created_by, created_at)
    VALUES (:m, 'ADJUST', :p, 'check lot', 'bench', now() - interval '400 days' + make_interval(days => CAST(:d AS int)))
    RETURNING id, created_at
), l AS (
    INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
    SELECT :m, id, :p, :p, created_at, now() + make_interval(days => CAST(:d AS int)) FROM e
)
UPDATE members SET balance = balance + :p WHERE id = :m
"""


def _sql(url: str) -> Any:
    from urllib.parse import unquote, urlparse

    import pg8000.native

    parts = urlparse(url)
    return pg8000.native.Connection(user=unquote(parts.username or "postgres"), host=parts.hostname or "127.0.0.1",
                                    port=parts.port or 5432, database=parts.path.lstrip("/"),
                                    password=unquote(parts.password) if parts.password else None)


# -- what each member ended up with ----------------------------------------------------------------------
_SNAPSHOT = {
    "member": "SELECT balance, lifetime_earned, tier FROM members WHERE id = :m",
    "ledger": "SELECT entry_type, points, description, external_ref, created_by, order_id IS NOT NULL AS has_order "
              "FROM ledger_entries WHERE member_id = :m ORDER BY created_at, entry_type, points",
    "lots": "SELECT points_earned, points_remaining, expiry_count, expires_at > now() AS live "
            "FROM point_lots WHERE member_id = :m ORDER BY expires_at, points_earned",
    "allocations": "SELECT e.entry_type, e.points AS entry_points, a.points, l.points_earned AS lot "
                   "FROM lot_allocations a JOIN ledger_entries e ON e.id = a.ledger_entry_id "
                   "JOIN point_lots l ON l.id = a.lot_id WHERE e.member_id = :m "
                   "ORDER BY e.created_at, l.expires_at, a.points",
    "orders": "SELECT status, source, total_points, payment_entry_id IS NOT NULL AS paid FROM orders "
              "WHERE member_id = :m ORDER BY created_at",
    "order_lines": "SELECT product_name, description, image_url, quantity, unit_points_price FROM order_lines ol "
                   "JOIN orders o ON o.id = ol.order_id WHERE o.member_id = :m ORDER BY o.created_at, ol.product_id",
    "history": "SELECT h.status FROM order_status_history h JOIN orders o ON o.id = h.order_id "
               "WHERE o.member_id = :m ORDER BY o.created_at, h.at",
    "payments": "SELECT e.points FROM orders o JOIN ledger_entries e ON e.id = o.payment_entry_id "
                "WHERE o.member_id = :m ORDER BY o.created_at",
    "outbox": "SELECT event_type, payload FROM outbox_events WHERE aggregate_id = :m "
              "OR aggregate_id IN (SELECT id FROM orders WHERE member_id = :m) ORDER BY created_at",
    "cart": "SELECT product_id, quantity FROM cart_items WHERE member_id = :m ORDER BY product_id",
    # Completed keys only: today's code commits a key's registration on its own, so a failed attempt
    # leaves an uncompleted row (harmless: the next attempt does the work); the prototype registers
    # the key in the attempt's own transaction, so a failure leaves nothing. Counted, not compared.
    "idempotency": "SELECT scope, idem_key, status_code, response_body FROM idempotency_keys "
                   "WHERE scope LIKE '%' || CAST(:m AS text) || '%' AND completed_at IS NOT NULL ORDER BY idem_key",
    "purchases": "SELECT external_id, amount_usd, tier, multiplier, points, balance_after, tier_after, store_id, "
                 "ledger_entry_id IS NOT NULL AS credited FROM partner_purchases WHERE member_id = :m ORDER BY created_at",
    "reservations": "SELECT quantity, points, status, order_id IS NOT NULL AS ordered FROM reservations WHERE member_id = :m",
    "sums": "SELECT m.balance = (SELECT COALESCE(SUM(points), 0) FROM ledger_entries WHERE member_id = m.id) "
            "AND m.balance = (SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots WHERE member_id = m.id) AS ok "
            "FROM members m WHERE m.id = :m",
}


def snapshot(conn: Any, member_id: str, product_ids: dict[str, str]) -> dict[str, Any]:
    norm = Normaliser()
    norm.ids.update({v: f"<product:{k}>" for k, v in product_ids.items()})
    norm.ids[member_id] = "<member>"
    out: dict[str, Any] = {}
    for name, query in _SNAPSHOT.items():
        rows = conn.run(query, m=member_id)
        names = [c["name"] for c in conn.columns]
        out[name] = norm([dict(zip(names, r)) for r in rows])
    stock = conn.run("SELECT sku, stock FROM products WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY sku",
                     ids=list(product_ids.values()))
    out["stock"] = [[re.sub(r"-(today|prototype)$", "", sku), s] for sku, s in stock]
    return out


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: today {json.dumps(a, default=str)[:300]} | prototype {json.dumps(b, default=str)[:300]}"]


def run(db: Any, app_url: str, env: dict[str, str]) -> dict[str, Any]:
    """Both journeys against `db` (migrated, prototype installed); returns {"ok", "steps", "diffs"}."""
    from bench.lambda_worker import claims_for  # noqa: F401  (fail early if the worker module is broken)

    conn = db.conn()
    results: dict[str, Any] = {}
    abandoned: dict[str, int] = {}
    races: dict[str, Any] = {}
    try:
        for variant in VARIANTS:
            ids = {}
            for index, (key, name, price, stock) in enumerate(PRODUCTS):
                # Ids in the same relative order for both variants (lines are sorted by product id).
                product_id = f"{index + 1:08x}-0000-4000-8000-{VARIANTS.index(variant) + 1:012x}"
                ids[key] = str(conn.run(
                    "INSERT INTO products (id, sku, name, description, category, points_price, stock) "
                    "VALUES (:id, :sku, :name, 'for the equivalence check', 'Bench', :price, :stock) RETURNING id",
                    id=product_id, sku=f"bench-check-{key}-{variant}", name=name, price=price, stock=stock)[0][0])
            email = f"check-{variant}@bench.example"
            setup = subprocess.run([sys.executable, "-m", "bench.lambda_worker", "--setup"],
                                   input=json.dumps({"emails": [], "admin": f"admin-{variant}@bench.example"}),
                                   capture_output=True, text=True, env={**env, "DATABASE_URL": app_url}, check=False)
            if setup.returncode != 0:
                raise RuntimeError(f"setup failed: {setup.stderr[-2000:]}")
            api_key = json.loads(setup.stdout.strip().splitlines()[-1])["api_key"]
            config = {"variant": variant, "email": email, "products": ids, "api_key": api_key, "database_url": db.url}
            done = subprocess.run([sys.executable, "-m", "bench.prototypes.check", "--journey"],
                                  input=json.dumps(config), capture_output=True, text=True,
                                  env={**env, "DATABASE_URL": app_url}, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{variant} journey failed:\n{done.stderr[-4000:]}")
            steps = json.loads(done.stdout.strip().splitlines()[-1])
            member = str(conn.run("SELECT id FROM members WHERE email = :e", e=email)[0][0])
            norm = Normaliser()
            norm.ids.update({v: f"<product:{k}>" for k, v in ids.items()})
            norm.ids[member] = "<member>"
            results[variant] = {"steps": norm(steps), "rows": snapshot(conn, member, ids)}
            raced = subprocess.run([sys.executable, "-m", "bench.prototypes.check", "--concurrency"],
                                   input=json.dumps(config), capture_output=True, text=True,
                                   env={**env, "DATABASE_URL": app_url}, check=False)
            if raced.returncode != 0:
                raise RuntimeError(f"{variant} concurrency checks failed to run:\n{raced.stderr[-4000:]}")
            races[variant] = json.loads(raced.stdout.strip().splitlines()[-1])
            abandoned[variant] = int(conn.run(
                "SELECT count(*) FROM idempotency_keys WHERE scope LIKE '%' || CAST(:m AS text) || '%' "
                "AND completed_at IS NULL", m=member)[0][0])
    finally:
        conn.close()
    diffs = _diff(results["today"], results["prototype"])
    consistent = all(r["rows"]["sums"] == [{"ok": True}] for r in results.values())
    races_ok = all(c["ok"] for checks in races.values() for c in checks.values())
    return {"ok": not diffs and consistent and races_ok, "steps": len(results["today"]["steps"]), "diffs": diffs,
            "ledger_consistent": consistent, "abandoned_keys": abandoned, "races": races, "races_ok": races_ok,
            "today": results["today"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journey", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--show", action="store_true", help="print today's normalised responses")
    parser.add_argument("--concurrency", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.journey:
        print(json.dumps(journey(json.loads(sys.stdin.readline())), default=str))
        return 0
    if args.concurrency:
        print(json.dumps(concurrency(json.loads(sys.stdin.readline())), default=str))
        return 0
    from bench.common import app_env, postgres
    from bench.lambda_load import app_database_url, lambda_env
    from bench.prototypes.patch import install_sql

    with postgres("xanadu_bench_check") as db:
        conn = db.conn()
        install_sql(conn)
        conn.close()
        app_url, role = app_database_url(db)
        env = {**os.environ, **app_env(app_url), **lambda_env()}
        outcome = run(db, app_url, env)
    if args.show:
        for step in outcome["today"]["steps"]:
            print(json.dumps(step)[:400])
    print(f"prototype vs today: {outcome['steps']} steps, role {role}: "
          + ("identical responses and rows" if outcome["ok"] else f"{len(outcome['diffs'])} differences")
          + f"; uncompleted Idempotency-Key rows left by failed attempts: {outcome['abandoned_keys']}")
    for line in outcome["diffs"][:50]:
        print("  " + line)
    for variant, checks in outcome["races"].items():
        for name, check in checks.items():
            print(f"  {variant:<9} {name:<42} {'ok' if check['ok'] else 'FAILED'}  {check['detail']}")
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
