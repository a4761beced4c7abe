"""Lambda-shaped benchmarks: N warm "containers" (processes) calling the api handler, against pgbench.

What one run measures, on one PostgreSQL server, with today's code (the round-trip design of
docs/performance.md is in chalicelib since issue 11; the prototype it was measured with is gone, and
its equivalence check lives on as integration tests):

1. **Throughput** with N workers (default 8), each one process that imported `app` and calls
   `app.app(event, context)` with API Gateway REST proxy events (bench/lambda_worker.py;
   XANADU_AUTH_MODE=cognito with authorizer claims, OUTBOX_PUBLISH_AFTER_COMMIT=false), for
   checkout (add-to-cart + checkout), order creation (POST /prod/orders, a fresh Idempotency-Key
   each), partner purchase (POST /partner/purchases with an X-Api-Key) and catalog read. An
   operation ("op") is one iteration: for checkout, one add-to-cart plus one checkout.
   Baseline: pgbench's TPC-B with the same number of clients on the same server, run before and after
   the app phases (the halves are reported too). Per phase: operations/s, p50/p99 per request kind,
   CPU per operation of the app processes and of PostgreSQL (from /proc), and everything else on the
   machine ("other").
2. **Round trips per request, counted**: one worker through a counting relay (bench/pgrelay.py,
   no delay): a flight is what the app sends before PostgreSQL's next reply; each flight is attributed
   to the request that was running when it left. Cross-check: pg_stat_statements calls per
   operation (statements, so BEGIN and COMMIT count even when they share a flight).
3. **Latency through a simulated RDS Proxy hop**: one worker through the relay with 0.5 ms added per
   direction (BENCH_RELAY_DELAY_MS), against the same worker connected directly.

Targets (issue 11): checkout >= 0.35 x pgbench tps with 8 workers; partner purchase >= 0.35 x;
checkout p50 through the 0.5 ms relay <= 8 ms.

  python -m bench.lambda_load [--workers 8] [--seconds 20] [--quick] [--only checkout,purchase] [--promotions]
                              [--variants today]
  env: BENCH_LAMBDA_WORKERS, BENCH_LAMBDA_SECONDS, BENCH_PGBENCH_SECONDS (total of both halves),
       BENCH_COUNT_ITERATIONS, BENCH_LATENCY_SECONDS, BENCH_RELAY_DELAY_MS, BENCH_DB_ROLE (default
       xanadu_app when that role exists, else the server's admin user), BENCH_DB_PASSWORD (for that role
       on a BENCH_DATABASE_URL server), BENCH_QUICK=1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

from bench.common import ROOT, Result, app_env, env_float, env_int, median, percentile, postgres
from bench.sysstat import CpuMeter, PgBench, postmaster_pid

TARGET_TPS_RATIO = {"checkout": 0.35, "purchase": 0.35}
TARGET_RELAY_P50_MS = {"checkout": 8.0}
TOP_UP_POINTS = 1_000_000_000
SCENARIOS = ("checkout", "order", "purchase", "catalog", "reservation")
PRIMARY = {"checkout": "checkout", "order": "order", "purchase": "purchase", "catalog": "catalog",
           "reservation": "reservation_purchase"}
PROTOTYPED = ("checkout", "order", "purchase", "reservation")  # (no variant other than today remains)
COUNT_ONLY = ("reservation",)  # round trips only
LATENCY_SCENARIOS = ("checkout", "order", "purchase")


def lambda_env() -> dict[str, str]:
    """What the deployed function's environment says about auth and publishing."""
    from bench.lambda_worker import CLIENT_ID

    return {"XANADU_AUTH_MODE": "cognito", "OUTBOX_PUBLISH_AFTER_COMMIT": "false", "LOG_LEVEL": "WARNING",
            "COGNITO_USER_POOL_ID": "us-east-1_BenchPool", "COGNITO_CLIENT_ID": CLIENT_ID}


def app_database_url(db: Any) -> tuple[str, str]:
    """The app connects as BENCH_DB_ROLE (default: the least-privilege `xanadu_app`, when the migrations
    created it), else as the server's admin user, as older code did. Returns (url, role)."""
    wanted = os.environ.get("BENCH_DB_ROLE", "xanadu_app")
    conn = db.conn()
    try:
        exists = conn.run("SELECT 1 FROM pg_roles WHERE rolname = :r AND rolcanlogin", r=wanted)
    finally:
        conn.close()
    parts = urlparse(db.url)
    if not exists:
        if "BENCH_DB_ROLE" in os.environ:
            raise SystemExit(f"BENCH_DB_ROLE={wanted}: no such login role on the server")
        return db.url, f"{parts.username or 'postgres'} (no {wanted} role in this code)"
    password = os.environ.get("BENCH_DB_PASSWORD")
    userinfo = quote(wanted) + (":" + quote(password) if password else "")
    netloc = f"{userinfo}@{parts.hostname or '127.0.0.1'}" + (f":{parts.port}" if parts.port else "")
    return urlunparse(parts._replace(netloc=netloc)), wanted


# -- worker processes -----------------------------------------------------------------------------
class Workers:
    """N containers for one phase: started, warmed up, released together, results collected."""

    def __init__(self, scenario: str, variant: str, count: int, database_url: str, env: dict[str, str],
                 shared: dict[str, Any], warmup: int, record_times: bool = False) -> None:
        self.logs = [tempfile.TemporaryFile(mode="w+") for _ in range(count)]
        self.procs: list[subprocess.Popen[str]] = []
        try:
            self._start(scenario, variant, count, database_url, env, shared, warmup, record_times)
        except BaseException:
            self.close()
            raise

    def _start(self, scenario: str, variant: str, count: int, database_url: str, env: dict[str, str],
               shared: dict[str, Any], warmup: int, record_times: bool) -> None:
        for i in range(count):
            proc = subprocess.Popen([sys.executable, "-m", "bench.lambda_worker"], cwd=str(ROOT),
                                    env={**env, "DATABASE_URL": database_url}, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=self.logs[i], text=True, bufsize=1)
            config = {"scenario": scenario, "variant": variant, "worker": i, "emails": shared["emails"][i],
                      "api_key": shared["api_key"], "products": shared["products"], "warmup": warmup,
                      "record_times": record_times}
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(config) + "\n")
            proc.stdin.flush()
            self.procs.append(proc)
        self.pids = []
        for i, proc in enumerate(self.procs):
            line = self._line(i)
            self.pids.append(int(json.loads(line)["pid"]))

    def _line(self, i: int) -> str:
        proc = self.procs[i]
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            self.logs[i].seek(0)
            raise RuntimeError(f"worker {i} exited ({proc.returncode}):\n{self.logs[i].read()[-4000:]}")
        return line

    def go(self, *, seconds: float | None = None, iterations: int | None = None) -> list[dict[str, Any]]:
        command = {"iterations": iterations} if iterations else {"until": time.monotonic() + 0.05 + float(seconds or 0)}
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
        results = [json.loads(self._line(i)) for i in range(len(self.procs))]
        for proc in self.procs:
            proc.wait(30)
        return results

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for log in self.logs:
            log.close()


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    for r in results:
        for kind, s in r["stats"].items():
            k = kinds.setdefault(kind, {"ms": [], "cpu_ms": [], "ok": 0, "failed": {}, "rate": 0.0})
            k["ms"] += s["ms"]
            k["cpu_ms"] += s["cpu_ms"]
            k["ok"] += s["ok"]
            k["rate"] += s["ok"] / r["elapsed_s"] if r["elapsed_s"] else 0.0
            for key, n in s["failed"].items():
                k["failed"][key] = k["failed"].get(key, 0) + n
    return kinds


# -- the benchmark ----------------------------------------------------------------------------------
class Bench:
    def __init__(self, db: Any, workers: int, variants: list[str], log=print, promotions: bool = False) -> None:
        self.db, self.n, self.variants, self.log = db, workers, variants, log
        self.promotions = promotions
        self.app_url, self.role = app_database_url(db)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTHONPROFILE")},
                    **app_env(self.app_url), **lambda_env()}
        self.postmaster = postmaster_pid(db)
        self.shared: dict[str, Any] = {}
        self.members_per_worker = env_int("BENCH_MEMBERS_PER_WORKER", 10 if os.environ.get("BENCH_QUICK") == "1" else 25)
        self.slices: list[list[list[str]]] = []

    def setup(self, phase_workers: list[int]) -> None:
        """Members for each phase, in order (each phase gets fresh ones: rows a previous phase updated
        thousands of times would make the next phase pay for their dead versions), a partner key, points."""
        self.slices = [[[f"bench-s{s}-w{i}-m{j}@bench.example" for j in range(self.members_per_worker)]
                        for i in range(count)] for s, count in enumerate(phase_workers)]
        emails = [e for phase in self.slices for worker in phase for e in worker]
        done = subprocess.run([sys.executable, "-m", "bench.lambda_worker", "--setup"], cwd=str(ROOT),
                              input=json.dumps({"emails": emails, "admin": "bench-admin@bench.example"}),
                              capture_output=True, text=True, env={**self.env, "DATABASE_URL": self.app_url})
        if done.returncode != 0:
            raise RuntimeError(f"setup failed:\n{done.stderr[-4000:]}")
        api_key = json.loads(done.stdout.strip().splitlines()[-1])["api_key"]
        conn = self.db.conn()
        try:
            # Plain SQL top-up with the ledger's invariants: an ADJUST entry, its lot, the balance.
            conn.run(
                "WITH m AS (SELECT id FROM members WHERE email = ANY(CAST(:emails AS text[]))), "
                "e AS (INSERT INTO ledger_entries (member_id, entry_type, points, description, created_by) "
                "  SELECT id, 'ADJUST', :p, 'benchmark top-up', 'bench' FROM m RETURNING id, member_id, created_at), "
                "l AS (INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, "
                "  expires_at) SELECT member_id, id, :p, :p, created_at, created_at + interval '365 days' FROM e) "
                "UPDATE members SET balance = balance + :p WHERE id IN (SELECT id FROM m)",
                emails=emails, p=TOP_UP_POINTS)
            if self.promotions:
                # Issue 12's promotions, running for the whole benchmark: a stackable double-points
                # multiplier without a budget, and a stackable bonus with a (never exhausted) budget, whose
                # row every purchase locks and updates: the hot row a budgeted promotion is.
                conn.run(
                    "INSERT INTO promotions (name, kind, multiplier, bonus_points, starts_at, ends_at, budget_points, "
                    "  stacking, created_by) VALUES "
                    "('bench double points', 'MULTIPLIER', 2.0, NULL, now() - interval '1 day', now() + interval '1 day', "
                    "  NULL, 'STACKABLE', 'bench'), "
                    "('bench bonus', 'BONUS', NULL, 5, now() - interval '1 day', now() + interval '1 day', "
                    "  1000000000000, 'STACKABLE', 'bench')")
            products = [str(r[0]) for r in conn.run("SELECT id FROM products WHERE active AND sku NOT LIKE 'bench-%'")]
            members = [str(r[0]) for r in conn.run("SELECT id FROM members WHERE email = ANY(CAST(:e AS text[]))", e=emails)]
        finally:
            conn.close()
        assert len(members) == len(emails), (len(members), len(emails))
        self.shared = {"api_key": api_key, "products": products}

    def workers(self, scenario: str, variant: str, count: int, url: str | None = None,
                record_times: bool = False) -> Workers:
        """Fresh containers with the next slice of members; the warm-up reaches every member once."""
        shared = {**self.shared, "emails": self.slices.pop(0)}
        warmup = max(5, self.members_per_worker)
        return Workers(scenario, variant, count, url or self.app_url, self.env, shared, warmup, record_times)

    # -- phases ---------------------------------------------------------------------------------
    def throughput(self, scenario: str, variant: str, seconds: float) -> dict[str, Any]:
        pool = self.workers(scenario, variant, self.n)
        try:
            self.db.checkpoint()
            meter = CpuMeter(self.postmaster, tuple(pool.pids))
            results = pool.go(seconds=seconds)
            cpu = meter.stop()
        finally:
            pool.close()
        kinds = _merge(results)
        primary = kinds.get(PRIMARY[scenario], {"ok": 0, "rate": 0.0, "ms": [], "cpu_ms": [], "failed": {}})
        ops = primary["ok"]
        window = max(r["elapsed_s"] for r in results)
        app_cpu_s = sum(r["process_cpu_s"] for r in results)
        container_cpu_ms = sum(sum(k["cpu_ms"]) for k in kinds.values())
        pg_cpu_s = cpu["postgres_cores"] * cpu["seconds"]
        other = cpu["machine_cores"] - app_cpu_s / cpu["seconds"] - cpu["postgres_cores"] - cpu["this_process_cores"]
        return {
            "scenario": scenario, "variant": variant, "workers": self.n, "ops": ops, "ops_per_s": primary["rate"],
            "window_s": window,
            "latency": {kind: {"p50_ms": median(k["ms"]), "p99_ms": percentile(k["ms"], 99), "n": len(k["ms"]),
                               "ok": k["ok"], "failed": k["failed"]} for kind, k in kinds.items()},
            "app_cpu_ms_per_op": app_cpu_s * 1000 / ops if ops else float("nan"),
            "container_cpu_ms_per_op": container_cpu_ms / ops if ops else float("nan"),
            "pg_cpu_ms_per_op": pg_cpu_s * 1000 / ops if ops else float("nan"),
            "cores": {"machine": cpu["machine_cores"], "app": app_cpu_s / cpu["seconds"],
                      "postgres": cpu["postgres_cores"], "other": other},
            "failed": sum(sum(k["failed"].values()) for k in kinds.values()),
        }

    def count(self, scenario: str, variant: str, relay: Any, iterations: int) -> dict[str, Any]:
        """One worker through the counting relay: flights per request kind, and pg_stat_statements calls."""
        pool = self.workers(scenario, variant, 1, url=relay.url(self.app_url), record_times=True)
        try:
            relay.reset()
            self.db.reset_statement_stats()
            [result] = pool.go(iterations=iterations)
            wire = relay.stats()
            statements = self._statement_calls()
        finally:
            pool.close()
        intervals = sorted(result["intervals"], key=lambda x: x[1])
        per_kind: dict[str, list[int]] = {}
        unattributed = 0
        flights = sorted(wire["flight_times"])
        j = 0
        for kind, t0, t1 in intervals:
            n = 0
            while j < len(flights) and flights[j] < t0:
                unattributed += 1
                j += 1
            while j < len(flights) and flights[j] <= t1:
                n += 1
                j += 1
            per_kind.setdefault(kind, []).append(n)
        unattributed += len(flights) - j
        ops = result["stats"].get(PRIMARY[scenario], {}).get("ok", 0)
        nested = sorted((s for s in statements if not s["toplevel"]), key=lambda s: -s["exec_ms"])
        statements = [s for s in statements if s["toplevel"]]
        calls = sum(s["calls"] for s in statements)
        return {
            "scenario": scenario, "variant": variant, "iterations": iterations, "ops": ops,
            "flights": {kind: {"mean": sum(v) / len(v), "min": min(v), "max": max(v)} for kind, v in per_kind.items()},
            "flights_per_op": (len(flights) - unattributed) / ops if ops else float("nan"),
            "unattributed_flights": unattributed,
            "statements_per_op": calls / ops if ops else float("nan"),
            "top_statements": [{**s, "per_op": s["calls"] / ops if ops else None,
                                "exec_ms_per_op": s["exec_ms"] / ops if ops else None} for s in statements[:14]],
            "exec_ms_per_op": sum(s["exec_ms"] for s in statements) / ops if ops else float("nan"),
            "nested_statements": [{**s, "exec_ms_per_op": s["exec_ms"] / ops if ops else None} for s in nested[:10]],
            "bytes_per_op": {"up": wire["bytes_up"] / ops if ops else None,
                             "down": wire["bytes_down"] / ops if ops else None},
            "failed": {k: v["failed"] for k, v in result["stats"].items() if v["failed"]},
        }

    def _statement_calls(self) -> list[dict[str, Any]]:
        if not self.db.statement_stats:
            return []
        conn = self.db.conn()
        try:
            rows = conn.run(
                "SELECT toplevel, calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') AS query "
                "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND query NOT ILIKE '%pg_stat_statements%' ORDER BY toplevel DESC, calls DESC, query")
        finally:
            conn.close()
        return [{"toplevel": bool(t), "calls": int(c), "exec_ms": float(ms), "query": q[:160]} for t, c, ms, q in rows]

    def latency(self, scenario: str, variant: str, seconds: float, relay: Any | None) -> dict[str, Any]:
        url = relay.url(self.app_url) if relay is not None else self.app_url
        pool = self.workers(scenario, variant, 1, url=url)
        try:
            [result] = pool.go(seconds=seconds)
        finally:
            pool.close()
        return {kind: {"p50_ms": median(s["ms"]), "p99_ms": percentile(s["ms"], 99), "n": len(s["ms"]),
                       "failed": s["failed"]} for kind, s in result["stats"].items()}

    def hop_calibration(self, relay: Any, samples: int = 300) -> dict[str, float]:
        """What the relay itself adds to one round trip (`SELECT 1`, simple protocol): its nominal cost is
        2 x delay; thread hand-offs and sleep granularity add a little, which this measures."""
        import pg8000.native

        def rtt(port: int) -> float:
            parts = urlparse(self.db.url)
            conn = pg8000.native.Connection(user=parts.username or "postgres", host="127.0.0.1", port=port,
                                            database=parts.path.lstrip("/"), password=parts.password)
            try:
                for _ in range(30):
                    conn.run("SELECT 1")
                times = []
                for _ in range(samples):
                    t0 = time.perf_counter()
                    conn.run("SELECT 1")
                    times.append((time.perf_counter() - t0) * 1000)
                return median(times)
            finally:
                conn.close()

        direct = rtt(urlparse(self.db.url).port or 5432)
        relayed = rtt(relay.port)
        return {"direct_ms": direct, "relay_ms": relayed, "added_ms": relayed - direct}

    def ledger_consistent(self) -> bool:
        conn = self.db.conn()
        try:
            bad = conn.run(
                "SELECT count(*) FROM members m WHERE m.balance <> (SELECT COALESCE(SUM(points), 0) FROM ledger_entries "
                "WHERE member_id = m.id) OR m.balance <> (SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots "
                "WHERE member_id = m.id)")[0][0]
        finally:
            conn.close()
        return int(bad) == 0


def run(workers: int | None = None, seconds: float | None = None, quick: bool | None = None,
        only: list[str] | None = None, variants: list[str] | None = None, promotions: bool = False) -> Result:
    from bench.pgrelay import RelayProcess

    quick = quick if quick is not None else os.environ.get("BENCH_QUICK") == "1"
    workers = workers or env_int("BENCH_LAMBDA_WORKERS", 8)
    seconds = seconds or env_float("BENCH_LAMBDA_SECONDS", 5 if quick else 20)
    pgbench_seconds = env_int("BENCH_PGBENCH_SECONDS", 6 if quick else 20)
    iterations = env_int("BENCH_COUNT_ITERATIONS", 20 if quick else 100)
    latency_seconds = env_float("BENCH_LATENCY_SECONDS", 2 if quick else 6)
    delay_ms = env_float("BENCH_RELAY_DELAY_MS", 0.5)
    scenarios = [s for s in SCENARIOS if not only or s in only]
    variants = variants or ["today"]
    result = Result("lambda_load", f"Lambda-shaped: {workers} containers calling the handler, vs pgbench TPC-B")
    data: dict[str, Any] = {"workers": workers, "seconds": seconds, "quick": quick, "delay_ms": delay_ms,
                            "promotions": promotions,
                            "throughput": [], "counts": [], "latency": []}
    print(f"[lambda_load] {workers} workers, {seconds:g}s per throughput phase, scenarios {','.join(scenarios)}, "
          f"variants {','.join(variants)}{' (quick)' if quick else ''}{', two promotions running' if promotions else ''}")
    with postgres("xanadu_bench_lambda", stock=1_000_000_000, statement_stats=True, track_planning=False,
                  track_nested=True) as db:
        bench = Bench(db, workers, variants, promotions=promotions)
        data["role"] = bench.role
        plan = [(s, v) for s in scenarios for v in variants if v == "today" or s in PROTOTYPED]
        latency_scenarios = [s for s in LATENCY_SCENARIOS if s in scenarios and (not quick or s in TARGET_TPS_RATIO)]
        latency_plan = [(s, v) for s in latency_scenarios for v in variants for _ in (0, 1)]
        print(f"  app connects as {bench.role}; {bench.members_per_worker} members per worker, fresh ones each phase")
        bench.setup([workers] * len([p for p in plan if p[0] not in COUNT_ONLY]) + [1] * (len(plan) + len(latency_plan)))
        pgbench = PgBench(db, workers)
        pgbench.init()
        first = max(1, pgbench_seconds // 2)
        print(f"  pgbench TPC-B, {workers} clients, first half ({first}s) ...")
        pgbench.run(first)
        for scenario, variant in plan:
            if scenario in COUNT_ONLY:
                continue
            print(f"  throughput: {scenario} / {variant} ({seconds:g}s) ...")
            data["throughput"].append(bench.throughput(scenario, variant, seconds))
        print(f"  pgbench second half ({pgbench_seconds - first}s) ...")
        pgbench.run(max(1, pgbench_seconds - first))
        counter = RelayProcess("127.0.0.1", urlparse(db.url).port or 5432, 0.0)
        hop = RelayProcess("127.0.0.1", urlparse(db.url).port or 5432, delay_ms)
        try:
            for scenario, variant in plan:
                print(f"  round trips: {scenario} / {variant} ({iterations} iterations, counting relay) ...")
                data["counts"].append(bench.count(scenario, variant, counter, iterations))
            data["hop"] = bench.hop_calibration(hop)
            for scenario in latency_scenarios:
                for variant in variants:
                    print(f"  latency: {scenario} / {variant}, direct and through the {delay_ms:g} ms relay "
                          f"({latency_seconds:g}s each) ...")
                    direct = bench.latency(scenario, variant, latency_seconds, None)
                    relayed = bench.latency(scenario, variant, latency_seconds, hop)
                    data["latency"].append({"scenario": scenario, "variant": variant, "direct": direct,
                                            "relay": relayed})
        finally:
            counter.close()
            hop.close()
        data["ledger_consistent"] = bench.ledger_consistent()
        pgbench.drop()
    _report(result, data, pgbench, workers, delay_ms)
    return result


def _report(result: Result, data: dict[str, Any], pgbench: PgBench, workers: int, delay_ms: float) -> None:
    base = pgbench.combined_tps()
    halves = " / ".join(f"{p['tps']:.0f}" for p in pgbench.phases)
    pg_phase = pgbench.phases[0]["cpu"]
    pg_ms = pg_phase["postgres_cores"] * 1000 / pgbench.phases[0]["tps"]
    client_ms = pg_phase["children_cores"] * 1000 / pgbench.phases[0]["tps"]
    result.rows.append(("baseline", f"pgbench TPC-B, {workers} clients: {base:.0f} tps (before / after: {halves}); "
                                    f"p50 {median(pgbench.latencies):.2f} ms, p99 {percentile(pgbench.latencies, 99):.2f} ms; "
                                    f"CPU per txn: postgres {pg_ms:.2f} ms, pgbench {client_ms:.2f} ms"))
    data["pgbench"] = {"tps": base, "halves": [p["tps"] for p in pgbench.phases], "p50_ms": median(pgbench.latencies),
                       "p99_ms": percentile(pgbench.latencies, 99), "pg_cpu_ms_per_txn": pg_ms,
                       "client_cpu_ms_per_txn": client_ms, "command": pgbench.command}
    counts = {(c["scenario"], c["variant"]): c for c in data["counts"]}
    for t in data["throughput"]:
        s, v = t["scenario"], t["variant"]
        ratio = t["ops_per_s"] / base if base else float("nan")
        t["tps_ratio"] = ratio
        lat = "; ".join(f"{kind} p50 {x['p50_ms']:.2f} / p99 {x['p99_ms']:.2f} ms" for kind, x in t["latency"].items())
        c = counts.get((s, v))
        trips = ""
        if c:
            trips = "; round trips " + ", ".join(f"{kind} {f['mean']:.1f}" for kind, f in c["flights"].items()) \
                    + f" (statements/op {c['statements_per_op']:.1f})"
        result.rows.append((f"{s} / {v}", (
            f"{t['ops_per_s']:.1f}/s = {ratio:.3f} x pgbench; {lat}; CPU/op app {t['app_cpu_ms_per_op']:.2f} ms "
            f"(handler {t['container_cpu_ms_per_op']:.2f}), postgres {t['pg_cpu_ms_per_op']:.2f} ms; cores app "
            f"{t['cores']['app']:.2f} pg {t['cores']['postgres']:.2f} other {t['cores']['other']:.2f}"
            f"{trips}{'; FAILED ' + str(t['failed']) if t['failed'] else ''}")))
        target = TARGET_TPS_RATIO.get(s)
        if target is not None and v == "today":
            result.check(f"{s} tps ratio ({workers} workers)", ratio, f">= {target}", ratio >= target)
        elif target is not None:
            result.rows.append((f"  {s} prototype ratio", f"{ratio:.3f} (target {target} for adoption)"))
    hop = data.get("hop")
    if hop:
        result.rows.append(("relay hop", f"SELECT 1 round trip direct {hop['direct_ms']:.3f} ms, through the relay "
                                         f"{hop['relay_ms']:.3f} ms: +{hop['added_ms']:.2f} ms per round trip "
                                         f"(nominal {2 * delay_ms:g})"))
    for lat in data["latency"]:
        s, v = lat["scenario"], lat["variant"]
        kind = PRIMARY[s]
        d, r = lat["direct"].get(kind), lat["relay"].get(kind)
        if not d or not r:
            continue
        c = counts.get((s, v))
        per_trip = hop["added_ms"] if hop else 2 * delay_ms
        expected = c["flights"][kind]["mean"] * per_trip if c and kind in c["flights"] else float("nan")
        result.rows.append((f"{s} latency / {v}", (
            f"direct p50 {d['p50_ms']:.2f} / p99 {d['p99_ms']:.2f} ms; through {delay_ms:g} ms relay p50 "
            f"{r['p50_ms']:.2f} / p99 {r['p99_ms']:.2f} ms (+{r['p50_ms'] - d['p50_ms']:.2f} ms; expected from "
            f"round trips x hop: {expected:.1f} ms)")))
        target = TARGET_RELAY_P50_MS.get(s)
        if target is not None and v == "today":
            result.check(f"{s} p50 via {delay_ms:g} ms relay (ms)", r["p50_ms"], f"<= {target:g}", r["p50_ms"] <= target)
        elif target is not None:
            result.rows.append((f"  {s} prototype relay p50", f"{r['p50_ms']:.2f} ms (target {target:g} ms)"))
    for c in data["counts"]:
        if c["scenario"] in COUNT_ONLY:
            trips = ", ".join(f"{kind} {f['mean']:.1f}" for kind, f in c["flights"].items())
            result.rows.append((f"{c['scenario']} / {c['variant']}", f"round trips {trips} "
                                                                     f"(statements/op {c['statements_per_op']:.1f})"))
    for c in data["counts"]:
        top = "; ".join(f"{st['per_op']:.2f}x {st['exec_ms_per_op']:.3f} ms {st['query'][:60]}"
                        for st in c["top_statements"][:8])
        result.rows.append((f"statements {c['scenario']} / {c['variant']}",
                            f"server execution {c['exec_ms_per_op']:.2f} ms/op (one worker, counted phase): {top}"))
        if c["nested_statements"]:
            inner = "; ".join(f"{st['exec_ms_per_op']:.3f} ms {st['query'][:60]}" for st in c["nested_statements"][:6])
            result.rows.append((f"  inside functions", inner))
    result.rows.append(("ledger check", "balance == sum(ledger) == sum(lots) for every member"
                        if data["ledger_consistent"] else "MISMATCH"))
    if not data["ledger_consistent"]:
        result.check("ledger consistent", 0, "1", False)
    others = [t["cores"]["other"] for t in data["throughput"]]
    if others and max(others) > 0.25:
        result.rows.append(("warning", f"other processes used up to {max(others):.2f} cores during a phase: "
                                       "figures are disturbed"))
    result.data = data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--quick", action="store_true", default=None)
    parser.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--variants", help="today (the only one since the prototype was adopted)")
    parser.add_argument("--json", help="also write the result as JSON to this path")
    parser.add_argument("--promotions", action="store_true",
                        help="run with two promotions active (a 2x multiplier, a budgeted bonus): issue 12")
    args = parser.parse_args(argv)
    from bench.common import finish

    only = [s for s in (args.only or "").split(",") if s] or None
    variants = [v for v in (args.variants or "").split(",") if v] or None
    return finish(run(args.workers, args.seconds, args.quick, only, variants, args.promotions), args.json)


if __name__ == "__main__":
    sys.exit(main())
