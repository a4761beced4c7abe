"""Shared set-up for the benchmarks: a throw-away PostgreSQL, migrations, seed data, moto, events, stats.

Every benchmark sets itself up from nothing: an embedded PostgreSQL 18 in a temp dir on a free port
(or the server named by BENCH_DATABASE_URL), a fresh database with the project's migrations and the
demo catalog, and, when it needs identities, moto server with the local Cognito user pool.
"""
from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The catalog query both sides of the catalog benchmarks run (the project's repository runs the same).
PRODUCTS_SQL = (
    "SELECT id, name, description, category, points_price, usd_price::float8, sku, rating::float8, image_url "
    "FROM products WHERE active ORDER BY name, id"
)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


# -- database -------------------------------------------------------------------------------------
@dataclass
class BenchDb:
    """A PostgreSQL server for one benchmark and the app database created on it."""

    server_url: str  # any database on the server, for admin statements
    url: str  # the app database (migrated, seeded)
    pg: Any = None  # devtools.localdb.LocalPostgres when we started one
    statement_stats: bool = False  # pg_stat_statements is loaded and created in the app database

    def reset_statement_stats(self) -> None:
        if self.statement_stats:
            conn = self.conn()
            try:
                conn.run("SELECT pg_stat_statements_reset()")
            finally:
                conn.close()

    def top_statements(self, limit: int = 15) -> list[dict[str, Any]]:
        """The app database's statements by total (plan + execution) time since the last reset."""
        if not self.statement_stats:
            return []
        conn = self.conn()
        try:
            rows = conn.run(
                "SELECT calls, total_plan_time + total_exec_time AS total_ms, "
                " (total_plan_time + total_exec_time) / GREATEST(calls, 1) AS mean_ms, "
                " total_plan_time / GREATEST(calls, 1) AS plan_ms, rows, "
                " regexp_replace(query, '\\s+', ' ', 'g') AS query "
                "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY total_plan_time + total_exec_time DESC LIMIT :n", n=limit)
            names = [c["name"] for c in conn.columns]
            return [dict(zip(names, r)) for r in rows]
        finally:
            conn.close()

    def active_products(self) -> int:
        """How many rows the catalog query returns (the demo catalog, plus whatever migrations seed)."""
        conn = self.conn()
        try:
            return int(conn.run("SELECT count(*) FROM products WHERE active")[0][0])
        finally:
            conn.close()

    def database_url(self, name: str) -> str:
        parts = urlparse(self.server_url)
        return urlunparse(parts._replace(path="/" + name))

    def conn(self, database: str | None = None):
        """A plain pg8000.native connection to the app database (or another one on the server)."""
        return _admin_conn(self.database_url(database) if database else self.url)

    def create_database(self, name: str) -> str:
        conn = _admin_conn(self.server_url)
        try:
            conn.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.run(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        conn = _admin_conn(self.server_url)
        try:
            conn.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()

    def pgbench_args(self) -> tuple[list[str], dict[str, str]]:
        """Connection arguments and environment for pgbench/psql against this server."""
        url = urlparse(self.server_url)
        args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", unquote(url.username or "postgres")]
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = unquote(url.password)
        return args, env

    @property
    def bin_dir(self) -> Path:
        from devtools.localdb import LocalPostgres

        return LocalPostgres(Path("/nonexistent"), 0).bin

    def server_version(self) -> str:
        conn = _admin_conn(self.server_url)
        try:
            return str(conn.run("SHOW server_version")[0][0])
        finally:
            conn.close()

    def checkpoint(self) -> None:
        """Flush dirty buffers so one phase does not pay for the previous phase's writes."""
        conn = _admin_conn(self.server_url)
        try:
            conn.run("CHECKPOINT")
        except Exception:
            pass  # needs superuser (or pg_checkpoint) on an external server; only a nicety
        finally:
            conn.close()


def _admin_conn(server_url: str):
    import pg8000.native

    url = urlparse(server_url)
    return pg8000.native.Connection(
        user=unquote(url.username or "postgres"),
        password=unquote(url.password) if url.password else None,
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        database=unquote(url.path.lstrip("/")) or "postgres",
    )


@contextmanager
def postgres(database: str = "xanadu_bench", *, stock: int | None = None, log=print,
             statement_stats: bool = False, track_planning: bool = True,
             track_nested: bool = False) -> Iterator[BenchDb]:
    """A server (embedded, or BENCH_DATABASE_URL) with `database` created, migrated and seeded.

    statement_stats: preload pg_stat_statements (embedded server only) for per-statement diagnostics;
    track_planning=False keeps its overhead (a spinlock per planned statement) off throughput runs;
    track_nested=True also records statements run inside functions (the `toplevel` column tells them apart).
    """
    external = os.environ.get("BENCH_DATABASE_URL")
    pg = None
    data_dir = None
    if external:
        server_url = external
        log(f"  using BENCH_DATABASE_URL server {urlparse(external).hostname}:{urlparse(external).port}")
    else:
        from devtools.localdb import LocalPostgres, free_port

        data_dir = Path(tempfile.mkdtemp(prefix="xanadu-bench-pg-"))
        started = time.perf_counter()
        pg = LocalPostgres(data_dir, free_port()).start()
        if statement_stats:
            with open(pg.data_dir / "pgdata" / "postgresql.conf", "a") as conf:
                conf.write("shared_preload_libraries = 'pg_stat_statements'\n"
                           f"pg_stat_statements.track_planning = {'on' if track_planning else 'off'}\n"
                           f"pg_stat_statements.track = {'all' if track_nested else 'top'}\n")
            pg.stop()
            pg.start()
        server_url = pg.url("postgres")
        log(f"  embedded PostgreSQL on port {pg.port} ({time.perf_counter() - started:.1f}s to start)")
    bench_db = BenchDb(server_url=server_url, url="", pg=pg)
    try:
        bench_db.url = bench_db.create_database(database)
        prepare_app_database(bench_db.url, stock=stock)
        if statement_stats and pg is not None:
            conn = bench_db.conn()
            try:
                conn.run("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            finally:
                conn.close()
            bench_db.statement_stats = True
        yield bench_db
    finally:
        if pg is not None:
            pg.destroy()
        elif external:
            try:
                bench_db.drop_database(database)
            except Exception:
                pass


def prepare_app_database(url: str, *, stock: int | None = None) -> None:
    """Migrations and the demo catalog (28 products); optionally a huge stock for write benchmarks."""
    from bench.project import Database, Settings, apply_all
    from devtools.seed import seed_catalog

    db = Database(Settings(database_url=url))
    try:
        apply_all(db)
        seed_catalog(db, None)
        if stock is not None:
            with db.transaction() as tx:
                tx.execute("UPDATE products SET stock = :s", s=stock)
    finally:
        db.close()


# -- emulated AWS -----------------------------------------------------------------------------------
@contextmanager
def local_aws(separate_process: bool = False) -> Iterator[Any]:
    """moto server with the local user pool and queues (devtools.localaws.bootstrap).

    separate_process=True runs moto in its own interpreter, so that when the app calls AWS inside a
    request (SQS, SES) the emulator's Python does not compete with the app's for one GIL, as the real
    services would not. The LocalAws object then carries the pid as `bench_pid` (for CPU accounting).
    """
    from devtools import localaws
    from devtools.localdb import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    if not separate_process:
        server, endpoint = localaws.start_server(0)
        try:
            yield localaws.bootstrap(endpoint)
        finally:
            server.stop()
        return
    import socket

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.1)
        aws = localaws.bootstrap(f"http://127.0.0.1:{port}")
        object.__setattr__(aws, "bench_pid", proc.pid)
        yield aws
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def app_env(database_url: str, aws: Any = None) -> dict[str, str]:
    """The environment tests/conftest.py gives the app, to be set before `import app`.

    Like the tests, the app connects as the least-privilege role the migration runner ensures."""
    from devtools.localdb import as_app_role

    env = {
        "DATABASE_URL": as_app_role(database_url),
        "STAGE": "bench",
        "LOG_LEVEL": "WARNING",
        "EMAIL_MODE": "log",
        "XANADU_AUTH_MODE": "verify",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    if aws is not None:
        env.update(aws.app_env())
    return env


def cold_env(app: dict[str, str]) -> dict[str, str]:
    """The environment of a cold-start child: ours, minus what would distort it, plus the app's and what
    the deployed function sets (.chalice/config.json: PYDANTIC_DISABLE_PLUGINS).

    PYTHONDONTWRITEBYTECODE is dropped so the warm-up run writes __pycache__ for both sides: with it set
    (as it is in some shells and CI images), every project sample compiled ~40 modules from source while
    the baseline's libraries ran from their installed .pyc files, which is not the comparison the
    benchmark states (measured: ~60 ms of compile() per project sample).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHONPROFILE") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(app)
    env["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    return env


def apply_env(env: dict[str, str]) -> None:
    os.environ.update(env)
    from bench.project import reset_database, reset_settings

    reset_settings()
    reset_database()


# -- Lambda events ------------------------------------------------------------------------------------
def api_gateway_event(method: str, path: str, *, resource_path: str | None = None,
                      headers: dict[str, str] | None = None, body: str | None = None,
                      path_parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event like the one the `api_handler` receives in AWS."""
    all_headers = {
        "Accept": "application/json, text/plain, */*",
        "Accept-Encoding": "gzip, deflate, br",
        "Accept-Language": "en-US,en;q=0.9",
        "CloudFront-Forwarded-Proto": "https",
        "CloudFront-Is-Desktop-Viewer": "true",
        "CloudFront-Viewer-Country": "US",
        "Host": "abc123def4.execute-api.us-east-1.amazonaws.com",
        "Origin": "https://rewards.xanadu.example",
        "Referer": "https://rewards.xanadu.example/",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "Via": "2.0 5f0e3c1a.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Id": "kx2bF0Zc1_Hq8c4Ujd3kR0a8H0a7r9Wm2v9xX1mQmW1Zf2yq0uN8Aw==",
        "X-Amzn-Trace-Id": "Root=1-6650e3a1-4b0f8e2b7c3d1a2b3c4d5e6f",
        "X-Forwarded-For": "203.0.113.7, 130.176.1.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    return {
        "resource": resource_path or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource_path or path,
            "httpMethod": method,
            "extendedRequestId": "XyZ1aFpPoAMFT9w=",
            "requestTime": "22/Nov/2025:10:40:00 +0000",
            "path": "/api" + path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "api",
            "domainPrefix": "abc123def4",
            "requestTimeEpoch": 1763808000000,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                "sourceIp": "203.0.113.7", "principalOrgId": None, "accessKey": None,
                "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                "userAgent": all_headers["User-Agent"], "user": None,
            },
            "domainName": "abc123def4.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123def4",
        },
        "body": body,
        "isBase64Encoded": False,
    }


class FakeLambdaContext:
    """What Lambda passes as `context` (the attributes Chalice and Powertools-style code read)."""

    function_name = "xanadu-rewards-dev"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:xanadu-rewards-dev"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/xanadu-rewards-dev"
    log_stream_name = "2025/11/22/[$LATEST]0123456789abcdef0123456789abcdef"

    def __init__(self, timeout_ms: int = 30_000):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# -- statistics and reporting ---------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@dataclass
class Result:
    """What a benchmark returns: headline figures plus whatever detail it wants recorded."""

    name: str
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)  # printed "label: value" lines
    checks: list[dict[str, Any]] = field(default_factory=list)  # {"what", "value", "target", "ok"}
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def check(self, what: str, value: float, target: str, ok: bool) -> None:
        self.checks.append({"what": what, "value": round(value, 3), "target": target, "ok": ok})

    def print(self) -> None:
        print(f"\n== {self.title} ==")
        width = max([len(label) for label, _ in self.rows] + [len(c["what"]) for c in self.checks] + [10])
        for label, value in self.rows:
            print(f"  {label:<{width}}  {value}")
        for c in self.checks:
            print(f"  {c['what']:<{width}}  {c['value']:g} (target {c['target']})  {verdict(c['ok'])}")
        print(f"  {'verdict':<{width}}  {verdict(self.ok)}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "ok": self.ok, "checks": self.checks,
                "rows": dict(self.rows), "data": self.data}


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        nproc = str(os.cpu_count())
    try:
        loadavg = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        loadavg = []
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_at_start": " ".join(loadavg),
        "nproc": nproc,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def finish(result: Result, json_path: str | None) -> int:
    """Print the result; with --json, also write it (run_all runs each benchmark in its own process)."""
    result.print()
    if json_path:
        write_json(Path(json_path), result.to_json())
    return 0
