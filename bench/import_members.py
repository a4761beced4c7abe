"""Bulk import at scale: the S3 import of a member file vs. COPY of the same file into an unlogged table.

Data: a CSV of N members (default 1,000,000: external_member_id, email, names, phone, points, expires_at;
one in five with 0 points, half with an explicit expiry), generated once, deterministic.

Baseline: `COPY import_staging FROM STDIN (FORMAT csv, HEADER)` of that file into an UNLOGGED table with
no index or constraint, on the same server, in the same run: the least a database can do to take the
file in (no validation, no members, no ledger).
Project: `ImportService.on_upload` (what the `import_members` S3 handler runs) on the file in the
emulated bucket (moto in its own process), in a child process (so its peak RSS is its own): streamed
from S3, validated row by row, committed in IMPORT_BATCH_SIZE batches, each creating the members,
their imported_members keys, IMPORT ledger rows, lots, balances and MemberImported events, and moving
the job's cursor, while a thread reads and validates the next batch. One invocation does the whole file (in Lambda it would pause and resume every
~14 minutes; each pause costs one job-row update and the resume schedule's delay).

Reference (reported, not the target): in the COPY run, right after the COPY, the same end state written from
the staged rows by one set-based statement (the ledger's own account-opening statement, fed from the staging
table): the least the database must do to hold the import's result, without its validation, batches, cursor
or reports.

Every run starts from a fresh copy of the migrated database (CREATE DATABASE ... TEMPLATE); runs
alternate ABBA (--repeats pairs) and medians are compared. Afterwards: every row imported once,
balance == sum(ledger) == sum(lots) over all members.
Targets: import time <= 3 x COPY time; import peak RSS < 200 MB.

  python -m bench.import_members [--rows 1000000] [--batch-size 5000] [--repeats 1] [--json out.json]
  (env: BENCH_IMPORT_ROWS, BENCH_IMPORT_REPEATS, BENCH_DATABASE_URL)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, Result, env_int, local_aws, postgres

TARGET_RATIO = 3.0
TARGET_RSS_MB = 200
KEY = "imports/bench-members.csv"

STAGING_SQL = """
CREATE UNLOGGED TABLE import_staging (
    external_member_id text, email text, first_name text, last_name text, phone text, points text, expires_at text
)
"""

# A reference, not the target: the same end state written by one set-based statement from the staged rows
# (the ledger's own account-opening statement fed from import_staging instead of a batch), with none of the
# import's validation, batching, cursor or reports.
STAGED_INPUT = """WITH input AS MATERIALIZED (
    SELECT gen_random_uuid() AS member_id, external_member_id, lower(trim(email)) AS email,
           COALESCE(first_name, '') AS first_name, COALESCE(last_name, '') AS last_name, COALESCE(phone, '') AS phone,
           CAST(COALESCE(NULLIF(points, ''), '0') AS bigint) AS points,
           CASE WHEN COALESCE(expires_at, '') = '' THEN now() + interval '365 days'
                ELSE CAST(CAST(expires_at AS date) + 1 AS timestamptz) END AS expires_at,
           row_number() OVER () + 1 AS line
    FROM import_staging
), claimed AS ("""


def reference_sql() -> str:
    from chalicelib.points.ledger_repository import _OPEN_ACCOUNTS_SQL

    head, tail = _OPEN_ACCOUNTS_SQL.split("), claimed AS (", 1)
    assert head.strip().startswith("WITH input AS MATERIALIZED (")
    return STAGED_INPUT + tail


CHECK_SQL = """
SELECT
  (SELECT count(*) FROM members) AS members,
  (SELECT count(*) FROM imported_members) AS keys,
  (SELECT count(*) FROM ledger_entries WHERE entry_type = 'IMPORT') AS import_rows,
  (SELECT COALESCE(SUM(points), 0) FROM ledger_entries)::bigint AS ledger_total,
  (SELECT COALESCE(SUM(balance), 0) FROM members)::bigint AS balance_total,
  (SELECT COALESCE(SUM(points_remaining), 0) FROM point_lots)::bigint AS lots_total,
  (SELECT count(*) FROM outbox_events WHERE event_type = 'MemberImported') AS events
"""


def _log(message: str) -> None:
    print(f"[import] {message}", flush=True)


def write_file(path: Path, rows: int) -> int:
    """The member file; returns the sum of its points."""
    rng = random.Random(42)
    total = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("external_member_id,email,first_name,last_name,phone,points,expires_at\n")
        for i in range(1, rows + 1):
            points = 0 if i % 5 == 0 else rng.randint(1, 20_000)
            total += points
            expires = f"2099-{1 + i % 12:02d}-{1 + i % 28:02d}" if i % 2 else ""
            phone = f"+1202555{i % 10_000:04d}" if i % 3 == 0 else ""
            out.write(f"OLD-{i:08d},member{i}@old-program.example,First{i % 997},Last{i % 1009},{phone},{points},"
                      f"{expires}\n")
    return total


def run(rows: int | None = None, batch_size: int | None = None, repeats: int | None = None,
        profile: bool = False) -> Result:
    rows = rows or env_int("BENCH_IMPORT_ROWS", 1_000_000)
    repeats = repeats or env_int("BENCH_IMPORT_REPEATS", 1)
    order = [("copy", "import") if i % 2 == 0 else ("import", "copy") for i in range(repeats)]
    runs = [kind for pair in order for kind in pair]
    result = Result("import_members", f"Member import from S3 vs COPY into an unlogged table: {rows:,} rows")
    samples: dict[str, list[dict]] = {"copy": [], "import": []}
    with tempfile.TemporaryDirectory(prefix="xanadu-bench-import-") as tmp:
        csv_path = Path(tmp) / "members.csv"
        started = time.perf_counter()
        points = write_file(csv_path, rows)
        size = csv_path.stat().st_size
        _log(f"wrote {rows:,} rows ({size / 2**20:.1f} MB, {points:,} points) in {time.perf_counter() - started:.1f}s")
        with local_aws(separate_process=True) as aws, postgres("xanadu_bench_import_base", statement_stats=profile,
                                                               log=lambda m: _log(m.strip())) as db:
            from devtools import localaws

            s3 = localaws.client("s3", aws.endpoint)
            s3.upload_file(str(csv_path), aws.data_bucket, KEY)
            head = s3.head_object(Bucket=aws.data_bucket, Key=KEY)
            etag = head["ETag"].strip('"')
            for i, kind in enumerate(runs):
                copy = f"xanadu_bench_import_{kind}_{i}"
                admin = db.conn("postgres")
                admin.run(f'DROP DATABASE IF EXISTS "{copy}"')
                admin.run(f'CREATE DATABASE "{copy}" TEMPLATE "xanadu_bench_import_base"')
                admin.close()
                db.checkpoint()
                if kind == "copy":
                    sample = _run_copy(db, copy, csv_path)
                else:
                    if profile:
                        _reset_stats(db, copy)
                    sample = _run_import(db, copy, aws, etag, size, batch_size)
                    if profile:
                        _print_stats(db, copy)
                samples[kind].append(sample)
                _log(f"{kind} #{len(samples[kind])}: {sample['rows']:,} rows in {sample['seconds']:.2f}s"
                     + (f", peak RSS {sample['max_rss_mb']:.1f} MB, {sample['batches']} batches"
                        if kind == "import" else ""))
                db.drop_database(copy)

    for sample in samples["copy"]:
        assert sample["rows"] == rows, sample
    for sample in samples["import"]:
        state = sample["state"]
        assert sample["rows"] == rows and sample["imported"] == rows and sample["rejected"] == 0, sample
        assert state["members"] == state["keys"] == state["events"] == rows, state
        assert state["import_rows"] == rows - rows // 5, state
        assert state["ledger_total"] == state["balance_total"] == state["lots_total"] == points, state

    copy_s = statistics.median(s["seconds"] for s in samples["copy"])
    set_based_s = statistics.median(s["set_based_seconds"] for s in samples["copy"])
    import_s = statistics.median(s["seconds"] for s in samples["import"])
    rss = max(s["max_rss_mb"] for s in samples["import"])
    first = samples["import"][0]
    ratio = import_s / copy_s
    result.rows += [
        ("data", f"{rows:,} rows, {size / 2**20:.1f} MB CSV, {points:,} points"),
        ("runs", " -> ".join(runs) + " (medians below)"),
        ("COPY", f"{copy_s:.2f} s median of " + ", ".join(f"{s['seconds']:.1f}" for s in samples["copy"])
                 + " (COPY FROM STDIN, unlogged table, no index)"),
        ("import", f"{import_s:.2f} s median of " + ", ".join(f"{s['seconds']:.1f}" for s in samples["import"])
                   + f" ({first['batches']} batches of {first['batch_size']}, {rows / import_s:,.0f} rows/s)"),
        ("reference", f"{set_based_s:.2f} s: after the COPY, the same end state in one set-based statement from the "
                      f"staged rows (no validation, batches or cursor); import / reference = {import_s / set_based_s:.2f}"),
        ("import peak RSS", f"{rss:.1f} MB (ru_maxrss of the import process, whole interpreter included)"),
        ("per row written", "members (with its balance), imported_members, ledger_entries + point_lots (4 in 5 "
                            "rows), outbox_events: 5 tables, 15 index entries, 6 foreign-key checks"),
    ]
    result.check("import / COPY time", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
    result.check("import peak RSS MB", rss, f"< {TARGET_RSS_MB}", rss < TARGET_RSS_MB)
    result.data = {"rows": rows, "copy_s": copy_s, "import_s": import_s, "ratio": ratio, "import_max_rss_mb": rss,
                   "set_based_s": set_based_s, "import_vs_set_based": import_s / set_based_s,
                   "batches": first["batches"], "batch_size": first["batch_size"], "order": runs,
                   "copy_samples_s": [s["seconds"] for s in samples["copy"]],
                   "import_samples_s": [s["seconds"] for s in samples["import"]]}
    return result


def _reset_stats(db, database: str) -> None:
    conn = db.conn(database)
    conn.run("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    conn.run("SELECT pg_stat_statements_reset()")
    conn.close()


def _print_stats(db, database: str) -> None:
    conn = db.conn(database)
    rows = conn.run(
        "SELECT calls, round((total_plan_time + total_exec_time)::numeric, 1), rows, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "ORDER BY total_plan_time + total_exec_time DESC LIMIT 12")
    for calls, total_ms, count, query in rows:
        _log(f"  {calls:>6} calls {total_ms:>10} ms {count:>9} rows  {query}")
    conn.close()


def _run_copy(db, database: str, csv_path: Path) -> dict:
    conn = db.conn(database)
    conn.run(STAGING_SQL)
    started = time.perf_counter()
    with csv_path.open("rb") as stream:
        conn.run("COPY import_staging FROM STDIN WITH (FORMAT csv, HEADER true)", stream=stream)
    seconds = time.perf_counter() - started
    count = int(conn.run("SELECT count(*) FROM import_staging")[0][0])
    job = conn.run("INSERT INTO import_jobs (bucket, object_key, etag, size_bytes, dry_run) "
                   "VALUES ('bench', 'staged', 'staged', 0, false) RETURNING id")[0][0]
    started = time.perf_counter()
    conn.run(reference_sql(), import_id=job, description="Opening balance (imported)", by="bench",
             request_id=None)
    set_based = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "rows": count, "set_based_seconds": set_based}


def _run_import(db, database: str, aws, etag: str, size: int, batch_size: int | None) -> dict:
    from devtools.localdb import as_app_role

    env = {**os.environ, **aws.app_env(), "DATABASE_URL": as_app_role(db.database_url(database)),
           "LOG_LEVEL": "WARNING", "STAGE": "bench"}
    if batch_size:
        env["IMPORT_BATCH_SIZE"] = str(batch_size)
    child = subprocess.run([sys.executable, "-m", "bench.import_members", "--child", etag, str(size)],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"import process failed: {child.stderr[-3000:]}")
    sample = json.loads(child.stdout.strip().splitlines()[-1])
    conn = db.conn(database)
    row = conn.run(CHECK_SQL)[0]
    sample["state"] = dict(zip([c["name"] for c in conn.columns], (int(v) for v in row)))
    conn.close()
    return sample


def child_import(etag: str, size: int) -> int:
    """In its own process: the S3 handler's work on the uploaded file, timed, with peak RSS."""
    from chalicelib.container import services
    from chalicelib.platform.config import get_settings

    settings = get_settings()
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": settings.data_bucket},
                                 "object": {"key": KEY, "size": size, "eTag": etag, "sequencer": "BENCH"}}}]}
    started = time.perf_counter()
    report = services().imports.on_upload(event)["imports"][0]
    seconds = time.perf_counter() - started
    with services().db.reader() as tx:
        batches = int(tx.fetch_value("SELECT batches FROM import_jobs"))
    print(json.dumps({"seconds": seconds, "rows": report["rows_read"], "imported": report["imported"],
                      "rejected": report["rejected"], "status": report["status"], "batches": batches,
                      "batch_size": settings.import_batch_size,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0 if report["status"] == "DONE" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the app's IMPORT_BATCH_SIZE (5000)")
    parser.add_argument("--repeats", type=int, default=None, help="COPY/import pairs, run ABBA (default 1)")
    parser.add_argument("--json", help="also write the result as JSON to this path")
    parser.add_argument("--profile", action="store_true", help="print the import's top statements (pg_stat_statements)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_import(args.child[0], int(args.child[1]))
    from bench.common import finish

    return finish(run(args.rows, args.batch_size, args.repeats, args.profile), args.json)


if __name__ == "__main__":
    sys.exit(main())
