"""Soak: N minutes of mixed member, partner and admin traffic through Lambda-shaped containers, with the
SQS processor and the schedules running as they would, then the invariants checked in SQL.

Not a test and not in CI (issue 10 item 6). `make soak` runs 10 minutes; `--minutes 1` is a smoke run.

Shape (everything on one machine, set up from nothing and torn down again):
- an embedded PostgreSQL 18 with the migrations and the demo catalog (stock raised so the run does not
  sell out), moto (SQS order-events + DLQ, S3 data bucket) in its own process;
- `--workers` traffic containers (default 4): each a process that imported `app` and calls
  `app.app(event, context)` with API Gateway REST proxy events, member routes with the Cognito
  authorizer's claims (XANADU_AUTH_MODE=cognito), partner routes with an X-Api-Key (bench/lambda_worker.py's
  Container does the call). Each container serves its own members (`--members` each, enrolled through the
  API, then topped up with plain SQL that keeps the ledger invariants) and picks a weighted random
  operation per step: browse the catalog, cart add + checkout, order create/list/get/cancel, points and
  history, reservation hold + buy or release, partner purchase (pending points with the default
  POINTS_PENDING_DAYS) and returns of it, order packed (WAREHOUSE) and delivered (DELIVERY), admin
  adjustments and listings. `--think-ms` pauses between steps (default 0: as fast as the machine goes).
- one event-source process: it imported `app` too; a thread long-polls order-events and invokes
  `app.process_order_events` with SQS-shaped events, deleting what succeeded (devtools.worker.poll_once,
  the same rules as Lambda's event source mapping); one thread per `rate(...)` schedule invokes its
  handler on its rate with an EventBridge-shaped event (relay_outbox, resume_imports every minute,
  release_expired_reservations and recover_stalled_orders every 5, ...). The daily and weekly `cron(...)`
  jobs (expiry, tiers, reconciliation, the event export, expiring-points notices) are fired once, half way
  through the traffic (`--daily-at`, a fraction of the run; negative: never), as if midnight fell in the run.
- The app's deployed defaults otherwise: OUTBOX_PUBLISH_AFTER_COMMIT on (one SQS call after each write
  commit), no FULFILMENT_URL (orders confirm without a partner call), EMAIL_MODE=log into a temp outbox.

After the traffic stops, the event source keeps running until no order is PENDING and no outbox event is
unpublished (at most `--settle-seconds`, default 180), then it stops and the invariants are checked with
SQL as the owner: balance = Σ ledger = Σ lots >= 0 per member, no lot outside [0, earned], stock >= 0,
every order paid by its SPEND and every CANCELLED/FAILED order refunded exactly once, purchase credits
and returns adding up (the extended invariant of docs/points.md §13), every order CONFIRMED or final
(none PENDING after the settle time, and none that took longer than the documented bound
ORDER_FAIL_AFTER_SECONDS + the recovery job's 5 minutes), nothing left in the dead-letter queue, and no
5xx answer. Any violation: exit status 1.

Report: requests, requests/s, answers by status, per operation count, p50/p99 and the statuses other than
the expected ones, the event source's batches and the schedules' invocations, time from order placement
to CONFIRMED (p50/p99/max), and the invariants.

  python -m bench.soak [--minutes 10] [--workers 4] [--members 30] [--think-ms 0] [--seed 1]
                       [--daily-at 0.5] [--settle-seconds 180] [--json PATH]
  Run it under `flock /work/bench.lock` on a shared machine (one benchmark at a time).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, Result, app_env, local_aws, machine_info, percentile, postgres, write_json

TOP_UP_POINTS = 100_000_000
STOCK = 10_000_000
RECOVERY_PERIOD_S = 300  # recover_stalled_orders runs every 5 minutes (app.py)

# operation -> (weight, statuses that are a normal business answer)
OPERATIONS: dict[str, tuple[int, frozenset[int]]] = {
    "catalog": (14, frozenset({200})),
    "product": (5, frozenset({200})),
    "categories": (2, frozenset({200})),
    "cart_view": (3, frozenset({200})),
    "cart_checkout": (12, frozenset()),  # two requests: cart_add, checkout
    "order_create": (6, frozenset({201})),
    "order_list": (5, frozenset({200})),
    "order_get": (2, frozenset({200})),
    "order_cancel": (3, frozenset({200, 409})),
    "points": (5, frozenset({200})),
    "points_history": (3, frozenset({200})),
    "reservation": (3, frozenset()),  # reserve, then reservation_buy or reservation_release
    "purchase": (10, frozenset({201})),
    "purchase_return": (3, frozenset({201, 409})),
    "packed": (4, frozenset({200, 409})),
    "delivered": (3, frozenset({200, 409})),
    "admin_adjust": (2, frozenset({201, 409})),
    "admin_orders": (2, frozenset({200})),
    "admin_customers": (1, frozenset({200})),
    "admin_customer": (1, frozenset({200})),
    "admin_liability": (1, frozenset({200})),
    "admin_partners": (1, frozenset({200})),
}
# request kinds recorded (what the report lists) -> expected statuses
EXPECTED: dict[str, frozenset[int]] = {
    **{op: ok for op, (_, ok) in OPERATIONS.items() if ok},
    "cart_add": frozenset({201}),
    "checkout": frozenset({200}),
    "reserve": frozenset({201}),
    "reservation_buy": frozenset({201}),
    "reservation_release": frozenset({200}),
}


# -- child protocol: the app logs to stdout as in Lambda, so our replies carry a marker ------------
MARKER = "@@soak "


def _reply(text: str) -> None:
    sys.stdout.write(MARKER + text + "\n")
    sys.stdout.flush()


# -- the traffic container ------------------------------------------------------------------------
class Traffic:
    """One container's loop: weighted random operations for its own members."""

    def __init__(self, config: dict[str, Any]) -> None:
        from bench.lambda_worker import Container, claims_for

        self.c = Container("today")
        self.claims_for = claims_for
        self.rng = random.Random(int(config["seed"]))
        self.worker = int(config["worker"])
        self.members: list[tuple[str, str]] = [tuple(m) for m in config["members"]]  # (email, id)
        self.products: list[str] = config["products"]
        self.keys: dict[str, str] = config["keys"]
        self.admin = claims_for(config["admin"], admin=True)
        self.think = float(config.get("think_ms", 0)) / 1000
        self.orders: dict[str, list[str]] = {email: [] for email, _ in self.members}
        self.packed: list[str] = []
        self.to_pack: list[tuple[float, str]] = []
        self.purchases: list[tuple[str, int]] = []  # (external_id, cents)
        self.stats: dict[str, dict[str, Any]] = {}
        self.weights = [(op, w) for op, (w, _) in OPERATIONS.items()]
        self.seq = 0

    def call(self, kind: str, method: str, path: str, *, claims: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None, resource: str | None = None,
             params: dict[str, str] | None = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        t0 = time.monotonic()
        if query:
            # Container.call builds the event without a query string; API Gateway passes it separately.
            status, body_out = self._call_with_query(method, path, claims, query)
        else:
            status, body_out = self.c.call(method, path, claims=claims, body=body, headers=headers,
                                           resource=resource, path_parameters=params)
        ms = (time.monotonic() - t0) * 1000
        s = self.stats.setdefault(kind, {"ms": [], "status": {}, "samples": {}})
        s["ms"].append(round(ms, 3))
        label = str(status)
        if status == 200 and isinstance(body_out, dict) and body_out.get("success") is False:
            label = "200-declined"
        s["status"][label] = s["status"].get(label, 0) + 1
        if status not in EXPECTED.get(kind, frozenset()) or label == "200-declined":
            s["samples"].setdefault(label, f"{method} {path}: {json.dumps(body_out)[:300]}")
        return status, body_out

    def _call_with_query(self, method: str, path: str, claims: dict[str, Any] | None,
                         query: dict[str, str]) -> tuple[int, Any]:
        from bench.common import api_gateway_event

        headers = {"Content-Type": "application/json"}
        if claims is not None:
            headers["Authorization"] = "eyJraWQiOiJiZW5jaCJ9.e30.c2ln"
        event = api_gateway_event(method, path, headers=headers)
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        if claims is not None:
            event["requestContext"]["authorizer"] = {"claims": claims}
        response = self.c.handler(json.loads(json.dumps(event)), self.c.context)
        json.dumps(response)
        text = response.get("body")
        return int(response["statusCode"]), (json.loads(text) if text else None)

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> None:
        self.seq += 1
        op = self.rng.choices([o for o, _ in self.weights], [w for _, w in self.weights])[0]
        email, member_id = self.members[self.rng.randrange(len(self.members))]
        me = self.claims_for(email)
        getattr(self, "op_" + op)(email, member_id, me)

    def op_catalog(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("catalog", "GET", "/prod/products")

    def op_product(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        pid = self.rng.choice(self.products)
        self.call("product", "GET", f"/prod/products/{pid}", resource="/prod/products/{item_id}",
                  params={"item_id": pid})

    def op_categories(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("categories", "GET", "/prod/products/categories")

    def op_cart_view(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("cart_view", "GET", "/prod/cart", claims=me)

    def op_cart_checkout(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        for pid in self.rng.sample(self.products, self.rng.choice((1, 1, 2))):
            status, _ = self.call("cart_add", "POST", "/prod/cart/item", claims=me,
                                  body={"id": pid, "quantity": self.rng.randint(1, 2)})
            if status != 201:
                return
        status, out = self.call("checkout", "POST", "/prod/cart/checkout", claims=me)
        if status == 200 and isinstance(out, dict) and out.get("success"):
            self._placed(email, str(out["orderId"]))

    def op_order_create(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        status, out = self.call("order_create", "POST", "/prod/orders", claims=me,
                                body={"items": [{"item_id": self.rng.choice(self.products), "quantity": 1}]},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
        if status == 201:
            self._placed(email, out["order"]["id"])

    def _placed(self, email: str, order_id: str) -> None:
        self.orders[email] = [*self.orders[email], order_id][-20:]
        self.to_pack.append((time.monotonic(), order_id))
        del self.to_pack[:-200]

    def op_order_list(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("order_list", "GET", "/prod/orders", claims=me, query={"limit": "10"})

    def op_order_get(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        if self.orders[email]:
            oid = self.rng.choice(self.orders[email])
            self.call("order_get", "GET", f"/prod/orders/{oid}", claims=me, resource="/prod/orders/{order_id}",
                      params={"order_id": oid})

    def op_order_cancel(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        if self.orders[email]:
            oid = self.orders[email].pop(self.rng.randrange(len(self.orders[email])))
            self.call("order_cancel", "POST", f"/prod/orders/{oid}/cancel", claims=me,
                      resource="/prod/orders/{order_id}/cancel", params={"order_id": oid})

    def op_points(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("points", "GET", "/prod/points", claims=me)

    def op_points_history(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("points_history", "GET", "/prod/points/tx", claims=me, query={"limit": "20"})

    def op_reservation(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        status, held = self.call("reserve", "POST", "/prod/reservations", claims=me,
                                 body={"item_id": self.rng.choice(self.products), "quantity": 1})
        if status != 201:
            return
        rid = held["reservation"]["id"]
        if self.rng.random() < 0.7:
            status, out = self.call("reservation_buy", "POST", f"/prod/reservations/{rid}/purchase", claims=me,
                                    headers={"Idempotency-Key": str(uuid.uuid4())},
                                    resource="/prod/reservations/{reservation_id}/purchase",
                                    params={"reservation_id": rid})
            if status == 201:
                self._placed(email, out["order"]["id"])
        else:
            self.call("reservation_release", "DELETE", f"/prod/reservations/{rid}", claims=me,
                      resource="/prod/reservations/{reservation_id}", params={"reservation_id": rid})

    def op_purchase(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        cents = self.rng.randint(100, 20_000)
        external = f"soak-{self.worker}-{self.seq}-{uuid.uuid4().hex[:8]}"
        who = {"email": email} if self.rng.random() < 0.5 else {"customer_id": member_id}
        status, _ = self.call("purchase", "POST", "/partner/purchases", headers={"X-Api-Key": self.keys["STORE"]},
                              body={**who, "external_id": external, "amount_usd": f"{cents / 100:.2f}",
                                    "store_id": "soak-store"})
        if status == 201:
            self.purchases = [*self.purchases, (external, cents)][-100:]

    def op_purchase_return(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        if not self.purchases:
            return
        external, cents = self.purchases[self.rng.randrange(len(self.purchases))]
        amount = self.rng.randint(1, max(1, cents // 2))
        self.call("purchase_return", "POST", f"/partner/purchases/{external}/returns",
                  headers={"X-Api-Key": self.keys["STORE"]},
                  body={"return_id": uuid.uuid4().hex, "amount_usd": f"{amount / 100:.2f}"},
                  resource="/partner/purchases/{external_id}/returns", params={"external_id": external})

    def op_packed(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        # The oldest order placed at least 2 s ago (its OrderCreated has most likely been processed).
        if self.to_pack and time.monotonic() - self.to_pack[0][0] > 2:
            _, oid = self.to_pack.pop(0)
            status, _ = self.call("packed", "POST", f"/partner/orders/{oid}/packed",
                                  headers={"X-Api-Key": self.keys["WAREHOUSE"]},
                                  resource="/partner/orders/{order_id}/packed", params={"order_id": oid})
            if status == 200:
                self.packed = [*self.packed, oid][-200:]

    def op_delivered(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        if self.packed:
            oid = self.packed.pop(0)
            self.call("delivered", "POST", f"/partner/orders/{oid}/delivered",
                      headers={"X-Api-Key": self.keys["DELIVERY"]},
                      resource="/partner/orders/{order_id}/delivered", params={"order_id": oid})

    def op_admin_adjust(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("admin_adjust", "POST", "/prod/points/tx", claims=self.admin,
                  headers={"Idempotency-Key": str(uuid.uuid4())},
                  body={"customer_id": member_id, "points": self.rng.choice([-500, -50, 25, 100, 1000]),
                        "description": "soak adjustment"})

    def op_admin_orders(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        query = {"limit": "20"}
        if self.rng.random() < 0.5:
            query["status"] = self.rng.choice(["PENDING", "CONFIRMED", "PACKED", "DELIVERED", "CANCELLED"])
        self.call("admin_orders", "GET", "/admin/orders", claims=self.admin, query=query)

    def op_admin_customers(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("admin_customers", "GET", "/customers", claims=self.admin, query={"limit": "20"})

    def op_admin_customer(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("admin_customer", "GET", f"/customers/{member_id}", claims=self.admin,
                  resource="/customers/{customer_id}", params={"customer_id": member_id})

    def op_admin_liability(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("admin_liability", "GET", "/admin/reports/liability", claims=self.admin)

    def op_admin_partners(self, email: str, member_id: str, me: dict[str, Any]) -> None:
        self.call("admin_partners", "GET", "/admin/partners", claims=self.admin)


def traffic_main() -> int:
    config = json.loads(sys.stdin.readline())
    traffic = Traffic(config)
    for _ in range(int(config.get("warmup", 20))):
        traffic.step()
    traffic.stats.clear()
    _reply(json.dumps({"ready": True, "pid": os.getpid()}))
    until = float(json.loads(sys.stdin.readline())["until"])
    times0, started = os.times(), time.monotonic()
    while time.monotonic() < until:
        traffic.step()
        if traffic.think:
            time.sleep(traffic.think)
    times1 = os.times()
    _reply(json.dumps({"worker": traffic.worker, "elapsed_s": time.monotonic() - started,
                      "cpu_s": (times1.user + times1.system) - (times0.user + times0.system),
                      "stats": traffic.stats}))
    return 0


# -- the event sources (SQS + schedules) ------------------------------------------------------------
def events_main(pollers: int) -> int:
    """Until a line arrives on stdin: order-events polled into the SQS handler, rate schedules on their rates,
    and the cron jobs once when "daily" arrives. Then prints what ran."""
    import boto3

    import app as app_module
    from devtools.worker import RateSchedule, discover, parse_schedule, poll_once, run_scheduled

    sources = discover(app_module.app, stage="bench")
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
    stop = threading.Event()
    lock = threading.Lock()
    sqs_stats: dict[str, Any] = {"polls": 0, "batches": 0, "received": 0, "deleted": 0, "retried": 0,
                                 "handler_errors": 0, "poll_errors": 0, "batch_ms": [], "handler_ms": []}
    jobs: dict[str, dict[str, Any]] = {}

    def record_job(name: str, seconds: float, result: Any, error: str | None) -> None:
        with lock:
            j = jobs.setdefault(name, {"runs": 0, "seconds": [], "errors": [], "last": None})
            j["runs"] += 1
            j["seconds"].append(round(seconds, 3))
            if error:
                j["errors"].append(error[:500])
            else:
                j["last"] = json.loads(json.dumps(result, default=str))

    def invoke(source: Any) -> None:
        t0 = time.perf_counter()
        try:
            result, error = run_scheduled(source.function, datetime.now(UTC)), None
        except Exception as exc:
            result, error = None, f"{type(exc).__name__}: {exc}"
        record_job(source.function.name, time.perf_counter() - t0, result, error)

    def timed(handler: Any) -> Any:
        def invoke_handler(event: dict[str, Any], context: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                with lock:
                    sqs_stats["handler_ms"].append(round((time.perf_counter() - t0) * 1000, 2))
        return invoke_handler

    def poll(source: Any, queue_url: str, arn: str) -> None:
        source = dataclasses.replace(source, function=dataclasses.replace(
            source.function, handler=timed(source.function.handler)))
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                outcome = poll_once(sqs, queue_url, source.function, source.batch_size, queue_arn=arn,
                                    wait_seconds=1, retry_delay=5)
            except Exception:  # the emulator hiccuped: back off, as the devtools worker does
                with lock:
                    sqs_stats["poll_errors"] += 1
                stop.wait(1)
                continue
            with lock:
                sqs_stats["polls"] += 1
                if outcome.received:
                    sqs_stats["batches"] += 1
                    sqs_stats["batch_ms"].append(round((time.perf_counter() - t0) * 1000, 2))
                for key in ("received", "deleted", "retried"):
                    sqs_stats[key] += getattr(outcome, key)
                sqs_stats["handler_errors"] += int(outcome.handler_error)

    def tick(source: Any, interval: float) -> None:
        while not stop.wait(interval):
            invoke(source)

    threads = []
    for source in sources.sqs:
        queue_url = sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        threads += [threading.Thread(target=poll, args=(source, queue_url, arn), daemon=True)
                    for _ in range(pollers)]
    crons = []
    for source in sources.schedules:
        schedule = parse_schedule(source.expression)
        if isinstance(schedule, RateSchedule):
            threads.append(threading.Thread(target=tick, args=(source, schedule.interval.total_seconds()),
                                            daemon=True))
        else:
            crons.append(source)
    for thread in threads:
        thread.start()
    _reply(json.dumps({"ready": True, "pid": os.getpid(), "crons": [s.function.name for s in crons]}))
    for line in sys.stdin:
        command = line.strip()
        if command == "daily":
            for source in crons:
                invoke(source)
            _reply(json.dumps({"daily": "done"}))
        elif command == "relay":  # settling: what the next relay_outbox fire would do, now
            for source in sources.schedules:
                if source.function.name == "relay_outbox":
                    invoke(source)
            _reply(json.dumps({"relay": "done"}))
        elif command == "depth":
            _reply(json.dumps({"depth": _queue_depth(sqs, os.environ.get("ORDER_EVENTS_QUEUE_URL"))}))
        elif command == "stop":
            break
    stop.set()
    for thread in threads:
        thread.join(30)
    sqs_stats["dlq_messages"] = _queue_depth(sqs, os.environ.get("ORDER_EVENTS_DLQ_URL"))
    sqs_stats["queue_messages"] = _queue_depth(sqs, os.environ.get("ORDER_EVENTS_QUEUE_URL"))
    _reply(json.dumps({"sqs": sqs_stats, "jobs": jobs}))
    return 0


def _queue_depth(sqs: Any, url: str | None) -> int | None:
    if not url:
        return None
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


# -- the orchestrator -------------------------------------------------------------------------------
class Child:
    def __init__(self, role: str, env: dict[str, str], config: dict[str, Any] | None = None,
                 extra: list[str] | None = None) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.logged: list[str] = []
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.soak", "--role", role, *(extra or [])],
                                     cwd=str(ROOT), env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)
        threading.Thread(target=self._drain, daemon=True).start()
        if config is not None:
            self.send(json.dumps(config))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _drain(self) -> None:
        """A thread per child reads its stdout (so the pipe never fills): replies to the queue, the rest kept."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARKER):
                self.replies.put(dict(json.loads(line[len(MARKER):])))
            else:
                self.logged.append(line.rstrip("\n"))
        self.replies.put(None)

    def read(self) -> dict[str, Any]:
        """The next reply; lines the app logged to stdout on the way are kept in `logged`."""
        reply = self.replies.get()
        if reply is None:
            self.proc.wait(10)
            self.log.seek(0)
            raise RuntimeError(f"child exited ({self.proc.returncode}):\n{self.log.read()[-4000:]}")
        return reply

    def stderr_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read()[-chars:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def setup_members(db: Any, env: dict[str, str], workers: int, per_worker: int) -> dict[str, Any]:
    """Members enrolled through the API (first call: signup bonus), partner keys, a points top-up."""
    os.environ.update(env)
    from bench.lambda_worker import Container, claims_for
    from bench.project import reset_database, reset_settings

    reset_settings()
    reset_database()
    container = Container("today")
    emails = [[f"soak-w{w}-m{m}@soak.example" for m in range(per_worker)] for w in range(workers)]
    for email in (e for group in emails for e in group):
        status, body = container.call("GET", "/prod/points", claims=claims_for(email))
        if status != 200:
            raise SystemExit(f"GET /prod/points for {email} answered {status}: {body}")
    admin_email = "soak-admin@soak.example"
    keys = {}
    for kind in ("STORE", "WAREHOUSE", "DELIVERY"):
        status, body = container.call("POST", "/admin/partners", claims=claims_for(admin_email, admin=True),
                                      body={"name": f"Soak {kind.lower()}", "kind": kind})
        if status != 201:
            raise SystemExit(f"POST /admin/partners ({kind}) answered {status}: {body}")
        keys[kind] = body["api_key"]
    flat = [e for group in emails for e in group]
    conn = db.conn()
    try:
        conn.run(
            "WITH m AS (SELECT id FROM members WHERE email = ANY(CAST(:emails AS text[]))), "
            "e AS (INSERT INTO ledger_entries (member_id, entry_type, points, description, created_by) "
            "  SELECT id, 'ADJUST', :p, 'soak top-up', 'bench' FROM m RETURNING id, member_id, created_at), "
            "l AS (INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, "
            "  expires_at) SELECT member_id, id, :p, :p, created_at, created_at + interval '365 days' FROM e) "
            "UPDATE members SET balance = balance + :p WHERE id IN (SELECT id FROM m)",
            emails=flat, p=TOP_UP_POINTS)
        ids = dict(conn.run("SELECT email, id::text FROM members WHERE email = ANY(CAST(:e AS text[]))", e=flat))
        products = [str(r[0]) for r in conn.run("SELECT id FROM products WHERE active ORDER BY sku")]
    finally:
        conn.close()
    reset_database()
    return {"members": [[(e, ids[e]) for e in group] for group in emails], "keys": keys, "admin": admin_email,
            "products": products}


INVARIANT_SQL: dict[str, str] = {
    "members whose balance, ledger sum and lot sum differ, or are negative": (
        "SELECT m.id, m.balance, COALESCE(l.s, 0) AS ledger, COALESCE(p.s, 0) AS lots FROM members m "
        "LEFT JOIN (SELECT member_id, SUM(points) s FROM ledger_entries GROUP BY 1) l ON l.member_id = m.id "
        "LEFT JOIN (SELECT member_id, SUM(points_remaining) s FROM point_lots GROUP BY 1) p ON p.member_id = m.id "
        "WHERE m.balance <> COALESCE(l.s, 0) OR m.balance <> COALESCE(p.s, 0) OR m.balance < 0"),
    "lots outside [0, earned]": (
        "SELECT id, points_remaining, points_earned FROM point_lots "
        "WHERE points_remaining < 0 OR points_remaining > points_earned"),
    "products with negative stock": "SELECT id, stock FROM products WHERE stock < 0",
    "orders without their SPEND": (
        "SELECT o.id FROM orders o LEFT JOIN ledger_entries l ON l.id = o.payment_entry_id "
        "AND l.entry_type = 'SPEND' AND l.points = -o.total_points WHERE l.id IS NULL"),
    "CANCELLED/FAILED orders not refunded exactly once": (
        "SELECT o.id FROM orders o WHERE o.status IN ('CANCELLED', 'FAILED') AND (SELECT count(*) FROM "
        "ledger_entries r WHERE r.entry_type = 'REFUND' AND r.external_ref = o.payment_entry_id::text) <> 1"),
    "orders still PENDING after settling": "SELECT id, created_at FROM orders WHERE status = 'PENDING'",
    "orders that left PENDING later than the documented bound": (
        "SELECT o.id, EXTRACT(EPOCH FROM (h.at - o.created_at))::float8 AS seconds FROM orders o "
        "JOIN LATERAL (SELECT min(at) AS at FROM order_status_history x WHERE x.order_id = o.id "
        "  AND x.status <> 'PENDING') h ON true WHERE h.at - o.created_at > make_interval(secs => :bound)"),
    "outbox events never published": "SELECT id, event_type FROM outbox_events WHERE published_at IS NULL",
}


def check_invariants(db: Any, bound_s: float) -> dict[str, Any]:
    """Every invariant as SQL (the owner's connection); name -> {"count", "sample"}. Plus the extended
    invariant of docs/points.md §13 (purchase credits, returns, pending points, promotions)."""
    from bench.project import Database, Settings

    out: dict[str, Any] = {}
    conn = db.conn()
    try:
        for name, sql in INVARIANT_SQL.items():
            params = {"bound": bound_s} if ":bound" in sql else {}
            rows = conn.run(sql, **params)
            out[name] = {"count": len(rows), "sample": [[str(v) for v in r] for r in rows[:5]]}
    finally:
        conn.close()
    from chalicelib.points import integrity_repository as integrity

    database = Database(Settings(database_url=db.url))
    try:
        with database.reader() as tx:
            ids = [r["id"] for r in tx.fetch("SELECT id FROM members")]
            checks = integrity.member_checks(tx, ids)
            promotions = integrity.promotion_problems(tx)
    finally:
        database.close()
    bad = [[str(m), c] for m, c in checks.items() if c["bad_credits"] or c["bad_purchases"] or c["pending"] < 0]
    out["members whose purchase credits, returns or pending points do not add up"] = {"count": len(bad),
                                                                                    "sample": bad[:5]}
    out["promotions over budget or cap"] = {"count": len(promotions), "sample": [str(p) for p in promotions[:5]]}
    return out


def summarise(db: Any) -> dict[str, Any]:
    conn = db.conn()
    try:
        orders = dict(conn.run("SELECT status, count(*)::int FROM orders GROUP BY 1 ORDER BY 1"))
        confirm = [float(r[0]) for r in conn.run(
            "SELECT EXTRACT(EPOCH FROM (h.at - o.created_at))::float8 FROM orders o JOIN order_status_history h "
            "ON h.order_id = o.id AND h.status = 'CONFIRMED'")]
        ledger = dict(conn.run("SELECT entry_type, count(*)::int FROM ledger_entries GROUP BY 1 ORDER BY 1"))
        members = conn.run("SELECT count(*)::int FROM members")[0][0]
        events = dict(conn.run("SELECT event_type, count(*)::int FROM outbox_events GROUP BY 1 ORDER BY 1"))
    finally:
        conn.close()
    return {"orders": orders, "ledger_entries": ledger, "members": members, "outbox_events": events,
            "confirm_s": {"n": len(confirm), "p50": percentile(confirm, 50), "p99": percentile(confirm, 99),
                          "max": max(confirm) if confirm else None}}


def run(args: argparse.Namespace) -> tuple[Result, bool]:
    minutes = float(args.minutes)
    result = Result("soak", f"Soak: {minutes:g} min of mixed traffic through {args.workers} Lambda-shaped containers")
    say = lambda m: print(f"[soak] {m}", flush=True)  # noqa: E731
    with postgres("xanadu_soak", stock=STOCK, log=say) as db, local_aws(separate_process=True) as aws:
        from bench.lambda_load import app_database_url, lambda_env

        app_url, role = app_database_url(db)
        outbox_dir = tempfile.mkdtemp(prefix="xanadu-soak-email-")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHONPROFILE")},
               **app_env(app_url, aws), **lambda_env(), "DATABASE_URL": app_url,
               "OUTBOX_PUBLISH_AFTER_COMMIT": "true" if args.publish_after_commit else "false",
               "EMAIL_MODE": "log", "EMAIL_OUTBOX_DIR": outbox_dir, "LOG_LEVEL": "ERROR"}
        say(f"app connects as {role}; setting up {args.workers} x {args.members} members and partner keys")
        shared = setup_members(db, env, args.workers, args.members)
        from bench.project import get_settings

        settings = get_settings()
        bound_s = float(settings.order_fail_after_seconds + RECOVERY_PERIOD_S)
        events = Child("events", env, extra=["--sqs-pollers", str(args.sqs_pollers)])
        traffic: list[Child] = []
        try:
            ready = events.read()
            say(f"event source ready (cron jobs fired once in the run: {', '.join(ready['crons'])})")
            for w in range(args.workers):
                traffic.append(Child("traffic", env, {
                    "worker": w, "seed": args.seed * 1000 + w, "members": shared["members"][w],
                    "products": shared["products"], "keys": shared["keys"], "admin": shared["admin"],
                    "think_ms": args.think_ms, "warmup": 20}))
            for child in traffic:
                child.read()
            seconds = minutes * 60
            machine = machine_info()
            say(f"traffic for {seconds:.0f} s (load average at start {machine['loadavg_at_start']})")
            started = time.monotonic()
            until = started + seconds
            for child in traffic:
                child.send(json.dumps({"until": until}))
            daily_done = args.daily_at < 0
            while time.monotonic() < until:
                if not daily_done and time.monotonic() >= started + seconds * args.daily_at:
                    events.send("daily")
                    t0 = time.monotonic()
                    events.read()
                    daily_done = True
                    say(f"daily and weekly jobs fired at {t0 - started:.0f} s, took {time.monotonic() - t0:.1f} s")
                time.sleep(0.5)
            results = [child.read() for child in traffic]
            say(f"traffic done; settling (at most {args.settle_seconds} s)")
            settle_started = time.monotonic()
            settled = False
            while time.monotonic() - settle_started < args.settle_seconds:
                conn = db.conn()
                try:
                    pending = conn.run("SELECT count(*) FROM orders WHERE status = 'PENDING'")[0][0]
                    unpublished = conn.run("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")[0][0]
                finally:
                    conn.close()
                if pending == 0 and unpublished == 0:
                    events.send("depth")
                    if events.read()["depth"] == 0:
                        settled = True
                        break
                if unpublished:
                    events.send("relay")
                    events.read()
                time.sleep(2)
            settle_s = time.monotonic() - settle_started
            events.send("stop")
            event_stats = events.read()
        finally:
            logged = [line for child in [*traffic, events] for line in child.logged]
            for child in [*traffic, events]:
                child.close()
        say(f"settled in {settle_s:.1f} s" if settled else "did not settle")
        invariants = check_invariants(db, bound_s)
        summary = summarise(db)
        # the daily jobs' results (reconciliation drift in particular)
    report_ok = _report(result, args, results, event_stats, invariants, summary, seconds, settle_s, bound_s,
                        machine, role, logged)
    return result, report_ok


def _report(result: Result, args: argparse.Namespace, results: list[dict[str, Any]], event_stats: dict[str, Any],
            invariants: dict[str, Any], summary: dict[str, Any], seconds: float, settle_s: float, bound_s: float,
            machine: dict[str, Any], role: str, logged: list[str]) -> bool:
    kinds: dict[str, dict[str, Any]] = {}
    for r in results:
        for kind, s in r["stats"].items():
            k = kinds.setdefault(kind, {"ms": [], "status": Counter(), "samples": {}})
            k["ms"] += s["ms"]
            k["status"].update(s["status"])
            for label, sample in s["samples"].items():
                k["samples"].setdefault(label, sample)
    total = sum(len(k["ms"]) for k in kinds.values())
    statuses: Counter[str] = Counter()
    for k in kinds.values():
        statuses.update(k["status"])
    server_errors = sum(n for label, n in statuses.items() if label.startswith("5"))
    unexpected = 0
    per_op = {}
    for kind in sorted(kinds, key=lambda k: -len(kinds[k]["ms"])):
        k = kinds[kind]
        ok = EXPECTED.get(kind, frozenset())
        other = {label: n for label, n in k["status"].items() if label not in {str(s) for s in ok}}
        unexpected += sum(other.values())
        per_op[kind] = {"count": len(k["ms"]), "p50_ms": percentile(k["ms"], 50), "p99_ms": percentile(k["ms"], 99),
                        "status": dict(k["status"]), "other": other, "samples": k["samples"]}
    app_cpu = sum(r["cpu_s"] for r in results)
    result.rows += [
        ("machine", f"{machine['nproc']} vCPU {machine['cpu']}, load average at start {machine['loadavg_at_start']}"),
        ("shape", f"{args.workers} containers x {args.members} members, think {args.think_ms} ms, app as {role}, "
                  f"after-commit publish {'on' if args.publish_after_commit else 'off'}"),
        ("requests", f"{total:,} in {seconds:.0f} s = {total / seconds:,.1f}/s; containers' CPU "
                     f"{app_cpu / total * 1000 if total else 0:.2f} ms per request"),
        ("answers by status", ", ".join(f"{label}: {n:,}" for label, n in sorted(statuses.items()))),
        ("5xx", f"{server_errors} ({server_errors / total * 100 if total else 0:.3f} %)"),
        ("other than the expected answer", f"{unexpected} ({unexpected / total * 100 if total else 0:.3f} %)"),
    ]
    for kind, o in per_op.items():
        extra = f"; other: {o['other']}" if o["other"] else ""
        result.rows.append((f"  {kind}", f"{o['count']:>7,}  p50 {o['p50_ms']:7.2f} ms  p99 {o['p99_ms']:8.2f} ms{extra}"))
    sqs = event_stats["sqs"]
    batch_ms, handler_ms = sqs.pop("batch_ms"), sqs.pop("handler_ms")
    result.rows += [
        ("order-events -> process_order_events", (
         f"{args.sqs_pollers} pollers: {sqs['batches']} batches, {sqs['received']} messages, {sqs['deleted']} deleted, "
         f"{sqs['retried']} retried, {sqs['handler_errors']} handler errors, {sqs['poll_errors']} poll errors; "
         f"left on queue {sqs['queue_messages']}, in DLQ {sqs['dlq_messages']}")),
        ("  per batch", (
         f"handler p50 {percentile(handler_ms, 50):.1f} ms p99 {percentile(handler_ms, 99):.1f} ms; whole poll "
         f"(receive, handler, delete on the emulator) p50 {percentile(batch_ms, 50):.1f} ms "
         f"p99 {percentile(batch_ms, 99):.1f} ms")),
    ]
    job_errors = 0
    for name, j in sorted(event_stats["jobs"].items()):
        job_errors += len(j["errors"])
        result.rows.append((f"  schedule {name}", f"{j['runs']} runs, max {max(j['seconds']):.2f} s"
                                                  + (f", errors: {j['errors'][:2]}" if j["errors"] else "")
                                                  + (f", last: {json.dumps(j['last'])[:160]}" if j["last"] else "")))
    c = summary["confirm_s"]
    result.rows += [
        ("orders", ", ".join(f"{s}: {n:,}" for s, n in summary["orders"].items())),
        ("placed -> CONFIRMED", f"n {c['n']:,}, p50 {c['p50']:.2f} s, p99 {c['p99']:.2f} s, max {c['max'] or 0:.2f} s "
                                f"(documented bound {bound_s:.0f} s)"),
        ("ledger entries", ", ".join(f"{t}: {n:,}" for t, n in summary["ledger_entries"].items())),
        ("settled after the traffic", f"{settle_s:.1f} s"),
    ]
    levels: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for line in logged:
        try:
            entry = json.loads(line)
            level = str(entry.get("level", "?")) if isinstance(entry, dict) else "text"
        except ValueError:
            level = "text"
        levels[level] += 1
        samples.setdefault(level, line[:400])
    result.rows.append(("log lines on stdout (LOG_LEVEL=ERROR)",
                        ", ".join(f"{lv}: {n}" for lv, n in levels.items()) or "none"))
    for level, line in samples.items():
        result.rows.append((f"  first {level}", line))
    violations = 0
    for name, found in invariants.items():
        violations += found["count"]
        result.rows.append((f"invariant: {name}", "none" if not found["count"] else
                            f"{found['count']} VIOLATION(S), e.g. {found['sample']}"))
    dlq = sqs["dlq_messages"] or 0
    result.check("5xx answers", server_errors, "== 0", server_errors == 0)
    result.check("invariant violations", violations, "== 0", violations == 0)
    result.check("messages in the dead-letter queue", dlq, "== 0", dlq == 0)
    result.check("scheduled handler errors", job_errors, "== 0", job_errors == 0)
    result.data = {"machine": machine, "args": vars(args), "requests": total, "seconds": seconds,
                   "statuses": dict(statuses), "per_operation": per_op, "sqs": sqs, "jobs": event_stats["jobs"],
                   "summary": summary, "invariants": invariants, "settle_s": settle_s, "bound_s": bound_s,
                   "logged": logged[:200], "logged_lines": len(logged),
                   "app_cpu_s": app_cpu}
    return result.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=("traffic", "events"), help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4, help="traffic containers (processes)")
    parser.add_argument("--members", type=int, default=30, help="members per container")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a container's steps")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqs-pollers", type=int, default=5,
                        help="concurrent batches on order-events (Lambda's event source mapping starts with 5)")
    parser.add_argument("--daily-at", type=float, default=0.5,
                        help="fire the cron jobs once at this fraction of the run (negative: never)")
    parser.add_argument("--settle-seconds", type=float, default=180.0)
    parser.add_argument("--no-publish-after-commit", dest="publish_after_commit", action="store_false",
                        help="OUTBOX_PUBLISH_AFTER_COMMIT=false: only the relay schedule publishes")
    parser.add_argument("--json", help="also write the result as JSON here (default bench/results/soak-<UTC>.json)")
    args = parser.parse_args(argv)
    if args.role == "traffic":
        return traffic_main()
    if args.role == "events":
        return events_main(args.sqs_pollers)
    result, ok = run(args)
    result.print()
    path = Path(args.json) if args.json else ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    write_json(path, result.to_json())
    print(f"\n  written to {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
