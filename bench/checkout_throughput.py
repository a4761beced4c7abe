"""Checkout throughput: 8 members concurrently doing add-to-cart + checkout, against pgbench TPC-B.

Project: the app behind chalice local's threaded HTTP server in this process
(`chalice.local.create_local_server`, the same server as `make run` and the tests' `live_server`;
it makes `app.current_request` thread-local, which calling the Lambda handler from threads would not).
The load comes from a separate process (`--client`), so the client's Python does not compete with
the server for this process's GIL. Each of 8 client threads is one member with a real Cognito ID token
(moto, in its own process; verified by the app: XANADU_AUTH_MODE=verify) and a large top-up (a ledger credit), and loops
for the duration: POST /prod/cart/item {"id": random product, "quantity": 1}, then
POST /prod/cart/checkout, over a keep-alive connection. Counted: successful checkouts per second and
p50/p99 latency of the checkout call (add-to-cart reported too).

Two dev-server artefacts are switched off because API Gateway + Lambda has neither: chalice local's
per-request access log on stderr, and Nagle's algorithm on its sockets (it writes headers and body with
two send() calls, so with Nagle on every response body waits ~40 ms for the client's delayed ACK; set
BENCH_NAGLE=on to see it).

Baseline: pgbench's built-in TPC-B-like script (`pgbench -i -s 8`; `pgbench -c 8 -j 2 -T <s> -n`) in a
separate database on the same PostgreSQL server, in the same run. It runs in two halves, before and
after the project phase (A-B-A), and the baseline is their combined rate, so load drifting on the machine
hits both sides alike. A CHECKPOINT precedes each phase. CPU used by everything else on the machine during
each phase is reported ("other"): if it is large, the figures are disturbed.

Targets: project checkouts/s >= 0.3 x pgbench tps, and checkout p99 <= 50 ms.

Then, for information, one member alone for a few seconds: the uncontended latency, which is what one
Lambda container (one request at a time, its own process) would see on an idle database.

  python -m bench.checkout_throughput [--seconds 20] [--pgbench-seconds 20] [--clients 8] [--solo-seconds 5]
  env: BENCH_CHECKOUT_SECONDS, BENCH_PGBENCH_SECONDS (total of both halves), BENCH_CLIENTS, BENCH_SOLO_SECONDS,
       BENCH_NAGLE
"""
from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

TARGET_TPS_RATIO = 0.3
TARGET_P99_MS = 50.0
TOP_UP_POINTS = 1_000_000_000
PGBENCH_SCALE = 8


# -- the load generator (runs in its own process) ---------------------------------------------------
def _client_main() -> int:
    """Reads {"base", "tokens", "products", "seconds", "warmup_cycles"} on stdin; prints results JSON."""
    config = json.load(sys.stdin)
    host, port = config["base"].split("//", 1)[1].split(":")
    seconds = float(config["seconds"])
    warmed = threading.Barrier(len(config["tokens"]) + 1)
    go = threading.Event()
    window: dict[str, float] = {}
    per_thread: list[dict[str, Any]] = []
    lock = threading.Lock()

    def member(index: int, token: str) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        stats: dict[str, Any] = {"ok": 0, "failed": {}, "checkout_ms": [], "add_ms": [], "http_errors": 0}

        def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            nonlocal conn
            data = json.dumps(body).encode() if body is not None else b""
            for attempt in range(2):
                try:
                    conn.request(method, path, body=data, headers=headers)
                    response = conn.getresponse()
                    raw = response.read()
                    return response.status, (json.loads(raw) if raw else None)
                except (http.client.HTTPException, ConnectionError):
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=120)
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def cycle(record: bool) -> None:
            product = rng.choice(config["products"])
            t0 = time.perf_counter()
            status, _ = call("POST", "/prod/cart/item", {"id": product, "quantity": 1})
            t1 = time.perf_counter()
            if status != 201:
                stats["http_errors"] += record
                return
            status, out = call("POST", "/prod/cart/checkout")
            t2 = time.perf_counter()
            if not record:
                return
            stats["add_ms"].append((t1 - t0) * 1000)
            stats["checkout_ms"].append((t2 - t1) * 1000)
            if status == 200 and out and out.get("success"):
                stats["ok"] += 1
            else:
                key = f"{status}:{(out or {}).get('error')}"
                stats["failed"][key] = stats["failed"].get(key, 0) + 1

        for _ in range(int(config.get("warmup_cycles", 3))):
            cycle(record=False)
        warmed.wait()
        go.wait()
        deadline = window["end"]
        while time.perf_counter() < deadline:
            cycle(record=True)
        conn.close()
        with lock:
            per_thread.append(stats)

    threads = [threading.Thread(target=member, args=(i, t), daemon=True) for i, t in enumerate(config["tokens"])]
    for t in threads:
        t.start()
    warmed.wait()  # every member has done its warm-up cycles: open the measurement window
    cpu0 = os.times()
    window["start"] = time.perf_counter()
    window["end"] = window["start"] + seconds
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - window["start"]
    cpu1 = os.times()
    merged: dict[str, Any] = {"ok": 0, "failed": {}, "checkout_ms": [], "add_ms": [], "http_errors": 0,
                              "elapsed_s": elapsed, "per_thread_ok": [],
                              "client_cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)}
    for s in per_thread:
        merged["ok"] += s["ok"]
        merged["http_errors"] += s["http_errors"]
        merged["checkout_ms"] += s["checkout_ms"]
        merged["add_ms"] += s["add_ms"]
        merged["per_thread_ok"].append(s["ok"])
        for k, v in s["failed"].items():
            merged["failed"][k] = merged["failed"].get(k, 0) + v
    json.dump(merged, sys.stdout)
    return 0


# -- CPU accounting (Linux /proc; figures are informational) ----------------------------------------
class CpuMeter:
    """Cores used during a phase: whole machine, PostgreSQL, this process, and waited-for children."""

    def __init__(self, postmaster: int | None, pids: tuple[int, ...] = ()) -> None:
        self._postmaster = postmaster
        self._pid_cpu = {pid: _pid_cpu(pid) for pid in pids}
        self._machine = _machine_jiffies()
        self._pg = _postgres_cpu(postmaster)
        self._own = os.times()
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._t = time.perf_counter()

    def stop(self) -> dict[str, float]:
        if self._postmaster:
            # Backends that just exited (pgbench's) count only once the postmaster has reaped them; until
            # then their time is in neither place. Wait (briefly) for the tree to shrink back.
            deadline = time.monotonic() + 3
            while _zombie_children(self._postmaster) and time.monotonic() < deadline:
                time.sleep(0.05)
        seconds = time.perf_counter() - self._t
        machine = _machine_jiffies()
        own = os.times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
        ncpu = os.cpu_count() or 1
        return {
            "seconds": seconds,
            "machine_cores": (busy / total * ncpu) if total else float("nan"),
            "postgres_cores": (_cpu_delta(self._pg, _postgres_cpu(self._postmaster)) / seconds
                               if self._postmaster else float("nan")),
            "this_process_cores": ((own.user + own.system) - (self._own.user + self._own.system)) / seconds,
            "children_cores": ((children.ru_utime + children.ru_stime)
                               - (self._children.ru_utime + self._children.ru_stime)) / seconds,
            "pids_cores": sum(_pid_cpu(pid) - before for pid, before in self._pid_cpu.items()) / seconds,
        }


def _pid_cpu(pid: int) -> float:
    """CPU seconds (user+system) of one process, 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _postgres_cpu(postmaster: int | None) -> dict[int, float]:
    """CPU seconds of our PostgreSQL server's processes by pid: the postmaster (its own time plus that of
    its reaped children, so backends that exit mid-phase still count) and its live children. Only our
    server's tree: other PostgreSQL servers on the machine (say, a test run's) are "other"."""
    if postmaster is None:
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            out[pid] = sum(int(x) for x in fields[11:15]) / ticks
        elif ppid == postmaster and fields[0] != "Z":  # a zombie's time is not yet in the postmaster's
            out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _zombie_children(postmaster: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            count += fields[0] == "Z" and int(fields[1]) == postmaster
    return count


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # Totals, not per-pid deltas: a backend that exits moves its CPU time into the postmaster's cutime,
    # so the sum over the tree is continuous while per-pid differences would count it twice.
    return sum(after.values()) - sum(before.values())


def _postmaster_pid(db: Any) -> int | None:
    """Our embedded server's postmaster (first line of postmaster.pid); None for BENCH_DATABASE_URL."""
    if db.pg is None:
        return None
    try:
        return int((db.pg.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


# -- pgbench baseline -------------------------------------------------------------------------------
class PgBench:
    """pgbench's TPC-B-like workload in its own database on the benchmark's server."""

    NAME = "xanadu_bench_pgbench"

    def __init__(self, db: Any, clients: int, scale: int = PGBENCH_SCALE):
        self.db, self.clients, self.scale = db, clients, scale
        self.exe = str(db.bin_dir / "pgbench")
        self.conn_args, self.env = db.pgbench_args()
        self.phases: list[dict[str, Any]] = []
        self.latencies: list[float] = []

    def init(self) -> float:
        self.db.create_database(self.NAME)
        started = time.perf_counter()
        subprocess.run([self.exe, *self.conn_args, "-i", "-s", str(self.scale), "-q", self.NAME], env=self.env,
                       check=True, capture_output=True, text=True)
        return time.perf_counter() - started

    @property
    def command(self) -> str:
        return f"pgbench -c {self.clients} -j {min(2, self.clients)} -T <s> -n (scale {self.scale})"

    def run(self, seconds: int) -> dict[str, Any]:
        self.db.checkpoint()
        logdir = Path(tempfile.mkdtemp(prefix="xanadu-pgbench-"))
        meter = CpuMeter(_postmaster_pid(self.db))
        done = subprocess.run(
            [self.exe, *self.conn_args, "-c", str(self.clients), "-j", str(min(2, self.clients)), "-T", str(seconds),
             "-n", "-l", "--log-prefix", str(logdir / "pgbench_log"), self.NAME],
            env=self.env, capture_output=True, text=True, cwd=str(logdir),
        )
        cpu = meter.stop()
        try:
            if done.returncode != 0:
                raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
            tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
            count = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
            if not tps or not count:
                raise RuntimeError(f"could not parse pgbench output:\n{done.stdout}")
            for path in glob.glob(str(logdir / "pgbench_log*")):
                with open(path) as fh:
                    for line in fh:
                        parts = line.split()
                        if len(parts) >= 3:
                            self.latencies.append(int(parts[2]) / 1000.0)  # microseconds -> ms
        finally:
            shutil.rmtree(logdir, ignore_errors=True)
        phase = {"tps": float(tps.group(1)), "transactions": int(count.group(1)), "seconds": seconds,
                 "cpu": cpu, "output": done.stdout.strip()}
        self.phases.append(phase)
        return phase

    def combined_tps(self) -> float:
        # Transactions over time across the halves (each half's tps excludes connection set-up).
        return sum(p["transactions"] for p in self.phases) / sum(p["transactions"] / p["tps"] for p in self.phases)

    def drop(self) -> None:
        self.db.drop_database(self.NAME)


# -- the benchmark ----------------------------------------------------------------------------------
def run(seconds: int | None = None, clients: int | None = None, pgbench_seconds: int | None = None,
        solo_seconds: int | None = None, pg_stats: bool = False) -> Any:
    from bench.common import ROOT, Result, app_env, apply_env, env_int, local_aws, median, percentile, postgres

    seconds = seconds or env_int("BENCH_CHECKOUT_SECONDS", 20)
    pgbench_seconds = pgbench_seconds or env_int("BENCH_PGBENCH_SECONDS", seconds)
    clients = clients or env_int("BENCH_CLIENTS", 8)
    solo_seconds = env_int("BENCH_SOLO_SECONDS", 5) if solo_seconds is None else solo_seconds
    nagle = os.environ.get("BENCH_NAGLE", "off") == "on"
    pg_stats = pg_stats or os.environ.get("BENCH_PG_STATS") == "1"
    result = Result("checkout_throughput", f"Checkout throughput: {clients} members, add-to-cart + checkout")
    print(f"[checkout_throughput] setting up ({clients} members; pgbench {pgbench_seconds}s in two halves "
          f"around the app's {seconds}s)")
    with postgres("xanadu_bench_checkout", stock=1_000_000_000, statement_stats=pg_stats) as db, \
            local_aws(separate_process=True) as aws:
        from devtools import localaws

        apply_env(app_env(db.url, aws))
        emails = [f"bench-member-{i}@xanadu.example" for i in range(clients)]
        tokens = []
        for email in emails:
            localaws.ensure_user(aws.endpoint, aws.user_pool_id, email)
            tokens.append(localaws.id_token(aws.endpoint, aws.client_id, email))

        import app as app_module
        from chalice.cli import factory
        from chalice.local import ChaliceRequestHandler, create_local_server

        from chalicelib.platform.db import get_database, reset_database
        from chalicelib.points import ledger_repository as ledger
        from devtools.localdb import free_port

        ChaliceRequestHandler.log_message = lambda self, *args: None  # type: ignore[method-assign]
        ChaliceRequestHandler.disable_nagle_algorithm = not nagle
        config = factory.CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
        port = free_port()
        server = create_local_server(app_module.app, config, "127.0.0.1", port)
        serving = threading.Thread(target=server.server.serve_forever, daemon=True)  # no "Serving on" banner
        serving.start()
        pgbench = PgBench(db, clients)
        try:
            # Members are created on their first authenticated call (signup bonus), then topped up.
            for token in tokens:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/prod/points", headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                body = response.read()
                conn.close()
                if response.status != 200:
                    raise RuntimeError(f"GET /prod/points answered {response.status}: {body[:500]!r}")
            database = get_database()
            with database.transaction() as tx:
                member_ids = [r["id"] for r in tx.fetch("SELECT id FROM members WHERE email = ANY(:e)", e=emails)]
                for member_id in member_ids:
                    ledger.credit(tx, member_id, "ADJUST", TOP_UP_POINTS, "benchmark top-up",
                                  lot_lifetime=timedelta(days=365))
                product_ids = [str(r["id"]) for r in tx.fetch("SELECT id FROM products WHERE active")]
            assert len(member_ids) == clients, member_ids

            init_s = pgbench.init()
            first_half = pgbench_seconds // 2
            print(f"  pgbench initialised in {init_s:.1f}s; first half ({first_half}s) ...")
            pgbench.run(first_half)

            print(f"  project add-to-cart + checkout ({seconds}s) ...")
            db.checkpoint()
            db.reset_statement_stats()
            moto_pid = getattr(aws, "bench_pid", None)
            meter = CpuMeter(_postmaster_pid(db), (moto_pid,) if moto_pid else ())
            client = subprocess.run(
                [sys.executable, "-m", "bench.checkout_throughput", "--client"],
                input=json.dumps({"base": f"http://127.0.0.1:{port}", "tokens": tokens, "products": product_ids,
                                  "seconds": seconds, "warmup_cycles": 3}),
                capture_output=True, text=True, cwd=str(ROOT), timeout=seconds + 300,
            )
            app_cpu = meter.stop()
            if client.returncode != 0:
                raise RuntimeError(f"load generator failed:\n{client.stderr}")
            load = json.loads(client.stdout)
            statements = db.top_statements()

            print(f"  pgbench second half ({pgbench_seconds - first_half}s) ...")
            pgbench.run(pgbench_seconds - first_half)

            solo: dict[str, Any] | None = None
            if solo_seconds > 0:
                print(f"  one member alone ({solo_seconds}s, uncontended latency) ...")
                done = subprocess.run(
                    [sys.executable, "-m", "bench.checkout_throughput", "--client"],
                    input=json.dumps({"base": f"http://127.0.0.1:{port}", "tokens": tokens[:1],
                                      "products": product_ids, "seconds": solo_seconds, "warmup_cycles": 3}),
                    capture_output=True, text=True, cwd=str(ROOT), timeout=solo_seconds + 300,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"load generator failed:\n{done.stderr}")
                solo = json.loads(done.stdout)

            with database.reader() as tx:
                sums = [ledger.sums(tx, m) for m in member_ids]
                spends = tx.fetch_value(
                    "SELECT count(*) FROM ledger_entries WHERE entry_type = 'SPEND' AND member_id = ANY(:m)",
                    m=member_ids)
            pgbench.drop()
        finally:
            server.shutdown()
            reset_database()

    consistent = all(s["balance"] == s["ledger"] == s["lots"] for s in sums)
    base_tps = pgbench.combined_tps()
    tps = load["ok"] / load["elapsed_s"]
    co, add = load["checkout_ms"], load["add_ms"]
    p50, p99 = median(co), percentile(co, 99)
    failed = sum(load["failed"].values()) + load["http_errors"]
    # The client's CPU is also in children_cores (it was waited for), so subtract it from there.
    app_cores = app_cpu["this_process_cores"]
    client_cores = load["client_cpu_s"] / app_cpu["seconds"]
    moto_cores = app_cpu["pids_cores"]
    app_other = app_cpu["machine_cores"] - app_cores - client_cores - app_cpu["postgres_cores"] - moto_cores
    pg_phases = [f"{p['tps']:.0f}" for p in pgbench.phases]
    pg_other = [p["cpu"]["machine_cores"] - p["cpu"]["postgres_cores"] - p["cpu"]["children_cores"]
                for p in pgbench.phases]
    result.rows += [
        ("baseline (pgbench)", f"{base_tps:.1f} tps (halves: {' / '.join(pg_phases)}); latency "
                               f"p50 {median(pgbench.latencies):.2f} ms, p99 {percentile(pgbench.latencies, 99):.2f} ms"),
        ("project", f"{tps:.1f} checkouts/s; checkout p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
                    f"add-to-cart p50 {median(add):.2f} ms, p99 {percentile(add, 99):.2f} ms"),
        ("project detail", f"{load['ok']} checkouts in {load['elapsed_s']:.1f}s by {clients} members (per member "
                           f"{min(load['per_thread_ok'])}..{max(load['per_thread_ok'])}), {failed} failed; "
                           f"Nagle {'on' if nagle else 'off'}"),
        ("CPU, app phase", f"{app_cpu['machine_cores']:.2f} of {os.cpu_count()} cores busy: app server {app_cores:.2f}, "
                           f"load client {client_cores:.2f}, postgres {app_cpu['postgres_cores']:.2f}, "
                           f"moto {moto_cores:.2f}, other {app_other:.2f}"),
        ("CPU, pgbench", " / ".join(
            f"{p['cpu']['machine_cores']:.2f} busy: postgres {p['cpu']['postgres_cores']:.2f}, pgbench "
            f"{p['cpu']['children_cores']:.2f}, other {o:.2f}" for p, o in zip(pgbench.phases, pg_other))),
        ("ledger check", f"{'balance == ledger == lots for every member' if consistent else 'MISMATCH'}; "
                         f"{spends} SPEND rows (incl. warm-up)"),
    ]
    if solo is not None:
        result.rows.append(("one member alone", (
            f"{solo['ok'] / solo['elapsed_s']:.1f} checkouts/s; checkout p50 {median(solo['checkout_ms']):.2f} ms, "
            f"p99 {percentile(solo['checkout_ms'], 99):.2f} ms; add-to-cart p50 {median(solo['add_ms']):.2f} ms "
            f"(no concurrency: what one Lambda container serving one request at a time would see)")))
        result.data["solo"] = {"tps": solo["ok"] / solo["elapsed_s"], "checkout_p50_ms": median(solo["checkout_ms"]),
                               "checkout_p99_ms": percentile(solo["checkout_ms"], 99),
                               "add_p50_ms": median(solo["add_ms"]), "add_p99_ms": percentile(solo["add_ms"], 99)}
    if statements:
        total_ms = sum(st["total_ms"] for st in statements)
        per = load["ok"] + sum(load["failed"].values())
        result.rows.append(("top statements", f"app phase, by plan+exec time; per checkout cycle {total_ms / max(per, 1):.2f} ms "
                                              "in these (ms total / calls / mean ms / plan ms):"))
        for st in statements:
            result.rows.append(("", f"{st['total_ms']:9.0f} {st['calls']:7d} {st['mean_ms']:7.3f} {st['plan_ms']:6.3f}  "
                                    f"{st['query'][:100]}"))
        result.data["top_statements"] = statements
    if max([app_other, *pg_other]) > 0.25:
        result.rows.append(("warning", "other processes used > 0.25 cores during a phase: figures are disturbed"))
    result.check("tps ratio", tps / base_tps, f">= {TARGET_TPS_RATIO}", tps / base_tps >= TARGET_TPS_RATIO)
    result.check("checkout p99 ms", p99, f"<= {TARGET_P99_MS:g}", p99 <= TARGET_P99_MS)
    if failed or not consistent:
        result.check("failed checkouts", failed, "0, ledger consistent", False)
    result.data = {
        "pgbench_tps": base_tps, "pgbench_phases": [{k: v for k, v in p.items() if k != "output"} for p in pgbench.phases],
        "pgbench_p50_ms": median(pgbench.latencies), "pgbench_p99_ms": percentile(pgbench.latencies, 99),
        "pgbench_command": pgbench.command, "pgbench_output": [p["output"] for p in pgbench.phases],
        "project_tps": tps, "checkout_p50_ms": p50, "checkout_p99_ms": p99,
        "add_p50_ms": median(add), "add_p99_ms": percentile(add, 99),
        "checkouts": load["ok"], "failed": load["failed"], "http_errors": load["http_errors"],
        "elapsed_s": load["elapsed_s"], "per_member": load["per_thread_ok"], "nagle": nagle,
        "cpu_app_phase": {**app_cpu, "app_server_cores": app_cores, "client_cores": client_cores,
                          "moto_cores": moto_cores, "other_cores": app_other},
        "ledger_consistent": consistent, "tps_ratio": tps / base_tps,
        "targets": {"tps_ratio": TARGET_TPS_RATIO, "p99_ms": TARGET_P99_MS},
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=None, help="app phase (default $BENCH_CHECKOUT_SECONDS or 20)")
    parser.add_argument("--pgbench-seconds", type=int, default=None,
                        help="baseline, split in two halves around the app phase (default: same as --seconds)")
    parser.add_argument("--clients", type=int, default=None, help="members / pgbench clients (default 8)")
    parser.add_argument("--solo-seconds", type=int, default=None,
                        help="then one member alone, for uncontended latency (default $BENCH_SOLO_SECONDS or 5; 0 skips)")
    parser.add_argument("--pg-stats", action="store_true",
                        help="load pg_stat_statements and print the app phase's top statements (or BENCH_PG_STATS=1)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)  # the load-generator process
    parser.add_argument("--json", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    if args.client:
        return _client_main()
    from bench.common import finish

    return finish(run(args.seconds, args.clients, args.pgbench_seconds, args.solo_seconds, args.pg_stats), args.json)


if __name__ == "__main__":
    sys.exit(main())
