"""One warm Lambda container: this process imports `app` and calls `app.app(event, context)` directly.

Started by bench/lambda_load.py, one process per container (as Lambda gives every concurrent request
its own execution environment). Each request is an API Gateway REST proxy event; member routes carry
`requestContext.authorizer.claims` as API Gateway's Cognito authorizer passes them
(XANADU_AUTH_MODE=cognito), partner routes an X-Api-Key header. Like the Lambda runtime, the container
parses the event from JSON and serialises the response to JSON: both are counted as container time.
Building the event (API Gateway's work) is not.

Protocol (JSON lines on stdin/stdout):
  in:  {"scenario", "worker", "emails", "api_key", "products", "warmup", "variant", "record_times"}
  out: {"ready": true} after the warm-up
  in:  {"until": <time.monotonic() deadline>} or {"iterations": n}
  out: the results (per request kind: latencies, container CPU, outcomes; optional request intervals)
Setup mode (`--setup`): in {"emails", "admin"}; creates the members through the API (first call enrols
them with the signup bonus) and issues a STORE partner key through POST /admin/partners.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from typing import Any

from bench.common import FakeLambdaContext, api_gateway_event

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_BenchPool"
CLIENT_ID = "benchclient0000000000000000"


def claims_for(email: str, *, admin: bool = False) -> dict[str, Any]:
    """ID-token claims as API Gateway's Cognito authorizer hands them to the function (all strings)."""
    claims = {
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, "bench:" + email)),
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "auth_time": "1763808000",
        "exp": "Sat Nov 22 11:40:00 UTC 2025",
        "iat": "Sat Nov 22 10:40:00 UTC 2025",
        "cognito:username": email,
        "email": email,
        "email_verified": "true",
        "given_name": "Bench",
        "family_name": email.split("@")[0],
    }
    if admin:
        claims["cognito:groups"] = "admin"
    return claims


class Container:
    """The function's module, imported once; `call` is one invocation."""

    def __init__(self, variant: str = "today") -> None:
        if variant != "today":
            raise SystemExit(f"unknown variant {variant!r}")
        import app as module

        self.handler = module.app
        self.context = FakeLambdaContext(timeout_ms=600_000)
        self.cpu_ms = 0.0  # container CPU of the last call

    def call(self, method: str, path: str, *, claims: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None, resource: str | None = None,
             path_parameters: dict[str, str] | None = None) -> tuple[int, Any]:
        extra = {"Content-Type": "application/json", **(headers or {})}
        if claims is not None:
            extra["Authorization"] = "eyJraWQiOiJiZW5jaCJ9.e30.c2ln"  # API Gateway checked it; the app reads claims
        event = api_gateway_event(method, path, headers=extra, body=None if body is None else json.dumps(body),
                                  resource_path=resource, path_parameters=path_parameters)
        if claims is not None:
            event["requestContext"]["authorizer"] = {"claims": claims}
        raw = json.dumps(event)  # what the Lambda runtime receives
        cpu0 = time.process_time()
        response = self.handler(json.loads(raw), self.context)
        json.dumps(response)  # what the runtime sends back
        self.cpu_ms = (time.process_time() - cpu0) * 1000
        text = response.get("body")
        return int(response["statusCode"]), (json.loads(text) if text else None)


# -- scenarios ------------------------------------------------------------------------------------
class Scenario:
    """One business operation, repeated; `step` runs one iteration and records what it did."""

    def __init__(self, container: Container, config: dict[str, Any]) -> None:
        self.c = container
        self.worker = int(config.get("worker", 0))
        # Members taken in turn, so no one member's rows get hot (as in production, where a
        # container serves whoever calls); a checkout's add-to-cart and checkout are the same member's.
        self.emails = list(config.get("emails") or [None])
        self.api_key = config.get("api_key")
        self.products = config.get("products") or []
        self.rng = random.Random(self.worker)
        self.record_times = bool(config.get("record_times"))
        self.stats: dict[str, dict[str, Any]] = {}
        self.intervals: list[tuple[str, float, float]] = []
        self.seq = 0

    @property
    def email(self) -> str:
        return self.emails[self.seq % len(self.emails)]

    def timed(self, kind: str, expect: int, method: str, path: str, **kwargs: Any) -> tuple[bool, Any]:
        t0 = time.monotonic()
        status, body = self.c.call(method, path, **kwargs)
        t1 = time.monotonic()
        s = self.stats.setdefault(kind, {"ms": [], "cpu_ms": [], "ok": 0, "failed": {}})
        s["ms"].append((t1 - t0) * 1000)
        s["cpu_ms"].append(self.c.cpu_ms)
        ok = status == expect and not (isinstance(body, dict) and body.get("success") is False)
        if ok:
            s["ok"] += 1
        else:
            key = f"{status}:{(body or {}).get('error') if isinstance(body, dict) else body}"[:200]
            s["failed"][key] = s["failed"].get(key, 0) + 1
        if self.record_times:
            self.intervals.append((kind, t0, t1))
        return ok, body

    def step(self) -> None:
        raise NotImplementedError


class Checkout(Scenario):
    """The frontend's flow: add one random reward to the cart, then check out."""

    def step(self) -> None:
        self.seq += 1
        claims = claims_for(self.email)
        product = self.rng.choice(self.products)
        ok, _ = self.timed("add_to_cart", 201, "POST", "/prod/cart/item", claims=claims,
                           body={"id": product, "quantity": 1})
        if ok:
            self.timed("checkout", 200, "POST", "/prod/cart/checkout", claims=claims)


class OrderCreation(Scenario):
    """POST /prod/orders with a fresh Idempotency-Key (a first attempt, never a replay)."""

    def step(self) -> None:
        self.seq += 1
        product = self.rng.choice(self.products)
        self.timed("order", 201, "POST", "/prod/orders", claims=claims_for(self.email),
                   body={"items": [{"item_id": product, "quantity": 1}]},
                   headers={"Idempotency-Key": str(uuid.uuid4())})


class PartnerPurchase(Scenario):
    """A store reports a $25 purchase of this worker's member (a new external_id each time)."""

    def step(self) -> None:
        self.seq += 1
        self.timed("purchase", 201, "POST", "/partner/purchases", headers={"X-Api-Key": self.api_key},
                   body={"email": self.email, "external_id": f"bench-{self.worker}-{self.seq}-{uuid.uuid4().hex[:12]}",
                         "amount_usd": "25.00", "store_id": "bench-store"})


class ReservationPurchase(Scenario):
    """Hold one reward (POST /prod/reservations), then buy the hold (POST .../purchase, Idempotency-Key)."""

    def step(self) -> None:
        self.seq += 1
        claims = claims_for(self.email)
        ok, held = self.timed("reserve", 201, "POST", "/prod/reservations", claims=claims,
                              body={"item_id": self.rng.choice(self.products), "quantity": 1})
        if ok:
            rid = held["reservation"]["id"]
            self.timed("reservation_purchase", 201, "POST", f"/prod/reservations/{rid}/purchase", claims=claims,
                       headers={"Idempotency-Key": str(uuid.uuid4())},
                       resource="/prod/reservations/{reservation_id}/purchase",
                       path_parameters={"reservation_id": rid})


class CatalogRead(Scenario):
    """GET /prod/products (public)."""

    def step(self) -> None:
        self.seq += 1
        self.timed("catalog", 200, "GET", "/prod/products")


SCENARIOS: dict[str, type[Scenario]] = {
    "checkout": Checkout, "order": OrderCreation, "purchase": PartnerPurchase, "catalog": CatalogRead,
    "reservation": ReservationPurchase,
}


def _send(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def serve() -> int:
    config = json.loads(sys.stdin.readline())
    container = Container(config.get("variant", "today"))
    scenario = SCENARIOS[config["scenario"]](container, config)
    for _ in range(int(config.get("warmup", 5))):
        scenario.step()
    scenario.stats.clear()
    scenario.intervals.clear()
    _send({"ready": True, "pid": os.getpid()})
    command = json.loads(sys.stdin.readline())
    times0 = os.times()
    started = time.monotonic()
    if "iterations" in command:
        for _ in range(int(command["iterations"])):
            scenario.step()
    else:
        until = float(command["until"])
        while time.monotonic() < until:
            scenario.step()
    elapsed = time.monotonic() - started
    times1 = os.times()
    _send({"worker": scenario.worker, "elapsed_s": elapsed, "started": started,
           "process_cpu_s": (times1.user + times1.system) - (times0.user + times0.system),
           "stats": scenario.stats, "intervals": scenario.intervals})
    return 0


def setup() -> int:
    """Members enrolled through the API (each one's first call), and one STORE partner key."""
    config = json.loads(sys.stdin.readline())
    container = Container("today")
    for email in config["emails"]:
        status, body = container.call("GET", "/prod/points", claims=claims_for(email))
        if status != 200:
            raise SystemExit(f"GET /prod/points for {email} answered {status}: {body}")
    admin = claims_for(config["admin"], admin=True)
    status, body = container.call("POST", "/admin/partners", claims=admin,
                                  body={"name": "Bench Store", "kind": "STORE"})
    if status != 201:
        raise SystemExit(f"POST /admin/partners answered {status}: {body}")
    _send({"api_key": body["api_key"]})
    return 0


if __name__ == "__main__":
    sys.exit(setup() if "--setup" in sys.argv[1:] else serve())
