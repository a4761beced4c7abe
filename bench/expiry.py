"""Expiry at scale: the daily expiry job vs. one hand-written set-based SQL statement.

Data: 200,000 members with 5 lapsed lots each (1,000,000 lots, each with its EARN ledger row), earned
over 50 days and written in time order as production writes them (members interleaved), built with
SQL in one database and VACUUM ANALYZEd. Every run gets a fresh byte-identical copy of it
(CREATE DATABASE ... TEMPLATE) on the same server, in the same benchmark run.

Baseline: one statement doing the whole expiry at once: per lot an EXPIRE ledger row
('expire:<lot>:1'), a lot_allocations row and the lot set to 0; per member the balance and one
PointsExpired outbox event. It is the least work that expiry can be, with no batching and no locks
beyond its own writes.
Project: `ExpiryService.run()` (what the `expire_points` schedule runs), in a child process (so its
peak RSS is its own), with the configured batch size: bounded batches that each commit, SKIP LOCKED
member locks, the same per-lot rows.

Runs alternate ABBA (statement, job, job, statement; --repeats pairs) and the medians are compared,
so drift on a shared machine hits both sides alike. All runs must end in the same state (balances,
EXPIRE rows and their keys, lot totals, allocations, event points).
Targets (issue 11): job time <= 1.3 x statement time; job peak RSS < 150 MB.

  python -m bench.expiry [--members 200000] [--lots-per-member 5] [--batch-size N] [--repeats 2]
                         [--max-wal-size 8GB] [--shared-buffers 1GB] [--profile] [--json out.json]
  --profile: per run, the top statements from pg_stat_statements (time, blocks read/dirtied/written, WAL,
  full-page images) and the checkpoints during the run: where the job loses to the statement.
  (env: BENCH_EXPIRY_MEMBERS, BENCH_EXPIRY_LOTS_PER_MEMBER, BENCH_EXPIRY_REPEATS, BENCH_EXPIRY_MAX_WAL_SIZE,
   BENCH_DATABASE_URL)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime

from bench.common import ROOT, Result, env_int, postgres

TARGET_RATIO = 1.3
TARGET_RSS_MB = 150

GENERATE_SQL = """
WITH new_members AS (
    INSERT INTO members (email, first_name, last_name)
    SELECT 'member' || g || '@bench.example', 'Member', 'No. ' || g FROM generate_series(1, :members) g
    RETURNING id
), src AS MATERIALIZED (
    SELECT gen_random_uuid() AS entry_id, m.id AS member_id,
           (10 + (abs(hashtext(m.id::text || ':' || k)) % 491))::bigint AS points,
           CAST(:now AS timestamptz) - interval '430 days' + k * interval '10 days'
             + (abs(hashtext(m.id::text || '/' || k)) % 864000) * interval '1 second' AS earned_at
    FROM new_members m CROSS JOIN generate_series(1, :per_member) k
), entries AS (
    INSERT INTO ledger_entries (id, member_id, entry_type, points, description, created_at)
    SELECT entry_id, member_id, 'EARN', points, 'Purchase', earned_at FROM src ORDER BY earned_at
)
-- Rows in the order they would have been written in production: by time, members interleaved.
INSERT INTO point_lots (member_id, ledger_entry_id, points_earned, points_remaining, earned_at, expires_at)
SELECT member_id, entry_id, points, points, earned_at, earned_at + interval '365 days' FROM src ORDER BY earned_at
"""

BALANCES_SQL = """
UPDATE members m SET balance = s.points, lifetime_earned = s.points
FROM (SELECT member_id, SUM(points_remaining)::bigint AS points FROM point_lots GROUP BY member_id) s
WHERE m.id = s.member_id
"""

# The baseline: the whole expiry as one statement (hand-written for this benchmark).
STATEMENT_SQL = """
WITH lapsed AS MATERIALIZED (
    SELECT id, member_id, points_remaining AS points, expiry_count + 1 AS seq, earned_at,
           gen_random_uuid() AS entry_id
    FROM point_lots
    WHERE points_remaining > 0 AND expires_at <= CAST(:now AS timestamptz)
), entries AS (
    INSERT INTO ledger_entries (id, member_id, entry_type, points, description, external_ref, created_by)
    SELECT entry_id, member_id, 'EXPIRE', -points,
           'Points expired (earned ' || to_char(earned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')',
           'expire:' || id || ':' || seq, 'expiry-statement'
    FROM lapsed
), zeroed AS (
    UPDATE point_lots l SET points_remaining = 0, expiry_count = lapsed.seq FROM lapsed WHERE l.id = lapsed.id
), allocations AS (
    INSERT INTO lot_allocations (ledger_entry_id, lot_id, points) SELECT entry_id, id, points FROM lapsed
), per_member AS (
    SELECT member_id, SUM(points)::bigint AS points, count(*)::int AS lots FROM lapsed GROUP BY member_id
), balances AS (
    UPDATE members m SET balance = m.balance - p.points, updated_at = now()
    FROM per_member p WHERE m.id = p.member_id RETURNING m.id, m.balance
), events AS (
    INSERT INTO outbox_events (event_type, aggregate_id, payload)
    SELECT 'PointsExpired', p.member_id,
           jsonb_build_object('member_id', p.member_id, 'points', p.points, 'lots', p.lots,
                              'balance', b.balance, 'as_of', CAST(:now AS timestamptz))
    FROM per_member p JOIN balances b ON b.id = p.member_id
)
SELECT count(*) AS lots, COALESCE(SUM(points), 0)::bigint AS points FROM lapsed
"""

# What both sides must agree on afterwards (ids and timestamps differ by construction).
STATE_SQL = """
SELECT
  (SELECT md5(string_agg(email || ':' || balance, ',' ORDER BY email)) FROM members) AS balances,
  (SELECT SUM(balance) FROM members)::bigint AS balance_total,
  (SELECT count(*) FROM ledger_entries WHERE entry_type = 'EXPIRE') AS expire_rows,
  (SELECT SUM(points) FROM ledger_entries WHERE entry_type = 'EXPIRE')::bigint AS expired_points,
  (SELECT count(DISTINCT external_ref) FROM ledger_entries WHERE entry_type = 'EXPIRE') AS expire_refs,
  (SELECT SUM(points) FROM ledger_entries)::bigint AS ledger_total,
  (SELECT SUM(points_remaining) FROM point_lots)::bigint AS lots_total,
  (SELECT SUM(expiry_count) FROM point_lots)::bigint AS expiries,
  (SELECT count(*) FROM lot_allocations) AS allocations,
  (SELECT SUM((payload->>'points')::bigint) FROM outbox_events WHERE event_type = 'PointsExpired')::bigint
    AS event_points,
  (SELECT count(*) FROM outbox_events WHERE event_type = 'PointsExpired') AS events
"""


def _log(message: str) -> None:
    print(f"[expiry] {message}", flush=True)


def run(members: int | None = None, per_member: int | None = None, batch_size: int | None = None,
        max_wal_size: str | None = None, repeats: int | None = None, shared_buffers: str | None = None,
        profile: bool = False) -> Result:
    members = members or env_int("BENCH_EXPIRY_MEMBERS", 200_000)
    per_member = per_member or env_int("BENCH_EXPIRY_LOTS_PER_MEMBER", 5)
    repeats = repeats or env_int("BENCH_EXPIRY_REPEATS", 2)
    lots = members * per_member
    # ABBA...: statement, job, job, statement, ... so drift on a shared machine hits both sides alike.
    order = [("statement", "job") if i % 2 == 0 else ("job", "statement") for i in range(repeats)]
    runs = [kind for pair in order for kind in pair]
    result = Result("expiry", f"Expiry job vs one set-based statement: {lots:,} lots of {members:,} members")
    samples: dict[str, list[dict]] = {"statement": [], "job": []}
    with postgres("xanadu_bench_expiry_base", log=lambda m: _log(m.strip()), statement_stats=profile,
                  track_planning=False) as db:
        if shared_buffers and db.pg is not None:  # a restart: only on the embedded server
            conn = db.conn()
            conn.run(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
            conn.close()
            db.pg.stop()
            db.pg.start()
        conn = db.conn()
        if max_wal_size:  # checkpoint spacing: fewer checkpoints, fewer full-page images in the WAL
            conn.run(f"ALTER SYSTEM SET max_wal_size = '{max_wal_size}'")
            conn.run("SELECT pg_reload_conf()")
        settings = {name: conn.run(f"SHOW {name}")[0][0] for name in
                    ("shared_buffers", "max_wal_size", "checkpoint_timeout", "full_page_writes", "data_checksums")}
        now: datetime = conn.run("SELECT date_trunc('second', now())")[0][0]
        started = time.perf_counter()
        conn.run("SELECT setseed(0.42)")
        conn.run(GENERATE_SQL, members=members, per_member=per_member, now=now)
        conn.run(BALANCES_SQL)
        conn.run("VACUUM (ANALYZE)")
        conn.close()
        _log(f"generated {lots:,} lapsed lots of {members:,} members in {time.perf_counter() - started:.1f}s")

        for i, kind in enumerate(runs):
            copy = f"xanadu_bench_expiry_{kind}_{i}"
            admin = db.conn("postgres")
            admin.run(f'DROP DATABASE IF EXISTS "{copy}"')
            admin.run(f'CREATE DATABASE "{copy}" TEMPLATE "xanadu_bench_expiry_base"')
            admin.close()
            db.checkpoint()
            before = _profile_start(db, copy) if profile else None
            sample = _run_statement(db, copy, now) if kind == "statement" else _run_job(db, copy, now, batch_size)
            if before is not None:
                sample["profile"] = _profile_end(db, copy, before)
                _log(f"{kind} #{len(samples[kind]) + 1} profile: {sample['profile']['checkpoints']} checkpoints; "
                     "calls, ms, blocks read/dirtied/written, WAL MB, full-page images, statement:")
                for row in sample["profile"]["statements"]:
                    _log("    " + " ".join(str(v) for v in row))
            samples[kind].append(sample)
            _log(f"{kind} #{len(samples[kind])}: {sample['lots']:,} lots, {sample['points']:,} points in "
                 f"{sample['seconds']:.2f}s, WAL {sample['wal_mb']:,.0f} MB"
                 + (f", {sample['batches']} batches of {sample['batch_size']}, peak RSS {sample['max_rss_mb']:.1f} MB"
                    if kind == "job" else ""))
            db.drop_database(copy)

    # Every run did the same expiry and ended in the same state (event rows: one per member per batch).
    reference = samples["statement"][0]
    for sample in samples["statement"] + samples["job"]:
        assert (sample["lots"], sample["points"]) == (lots, reference["points"]), sample
        different = {k: (reference["state"][k], sample["state"][k]) for k in reference["state"]
                     if reference["state"][k] != sample["state"][k] and k != "events"}
        assert not different, f"runs disagree: {different}"

    statement_s = statistics.median(s["seconds"] for s in samples["statement"])
    job_s = statistics.median(s["seconds"] for s in samples["job"])
    rss = max(s["max_rss_mb"] for s in samples["job"])
    job = samples["job"][0]
    ratio = job_s / statement_s
    result.rows += [
        ("data", f"{members:,} members x {per_member} lapsed lots = {lots:,} lots "
                 f"({reference['points']:,} points); a fresh identical copy per run (CREATE DATABASE ... TEMPLATE)"),
        ("runs", " -> ".join(runs) + " (medians below)"),
        ("statement", f"{statement_s:.2f} s median of "
                      + ", ".join(f"{s['seconds']:.1f}" for s in samples["statement"])
                      + " (one set-based statement, one transaction)"),
        ("job", f"{job_s:.2f} s median of " + ", ".join(f"{s['seconds']:.1f}" for s in samples["job"])
                + f" (ExpiryService.run in its own process, {job['batches']} batches of {job['batch_size']} lots, "
                  "each committed)"),
        ("job peak RSS", f"{rss:.1f} MB (ru_maxrss of the job process, whole interpreter included)"),
        ("WAL written", f"statement {statistics.median(s['wal_mb'] for s in samples['statement']):,.0f} MB, "
                        f"job {statistics.median(s['wal_mb'] for s in samples['job']):,.0f} MB (medians)"),
        ("server", ", ".join(f"{k}={v}" for k, v in settings.items())),
        ("same end state", "yes: balances, EXPIRE rows and keys, lots, allocations, event points "
                           f"(event rows: statement {reference['state']['events']:,}, "
                           f"job {job['state']['events']:,})"),
    ]
    result.check("job / statement time", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
    result.check("job peak RSS MB", rss, f"< {TARGET_RSS_MB}", rss < TARGET_RSS_MB)
    result.data = {"members": members, "lots": lots, "statement_s": statement_s, "job_s": job_s, "ratio": ratio,
                   "job_max_rss_mb": rss, "batches": job["batches"], "batch_size": job["batch_size"],
                   "statement_samples_s": [s["seconds"] for s in samples["statement"]],
                   "job_samples_s": [s["seconds"] for s in samples["job"]],
                   "statement_wal_mb": [s["wal_mb"] for s in samples["statement"]],
                   "job_wal_mb": [s["wal_mb"] for s in samples["job"]], "server": settings, "order": runs}
    return result


def _run_statement(db, database: str, now: datetime) -> dict:
    """The baseline: one round trip, autocommit (the statement is its own transaction)."""
    conn = db.conn(database)
    wal_before = _wal(conn)
    started = time.perf_counter()
    row = conn.run(STATEMENT_SQL, now=now)[0]
    seconds = time.perf_counter() - started
    sample = {"seconds": seconds, "lots": int(row[0]), "points": int(row[1]),
              "wal_mb": (_wal(conn) - wal_before) / 2**20, "state": _state(conn)}
    conn.close()
    return sample


def _run_job(db, database: str, now: datetime, batch_size: int | None) -> dict:
    """The project: the job exactly as the schedule runs it, in a child process (its own RSS)."""
    probe = db.conn(database)
    wal_before = _wal(probe)
    probe.close()
    child = subprocess.run(
        [sys.executable, "-m", "bench.expiry", "--child-job", db.database_url(database), "--now", now.isoformat()]
        + (["--batch-size", str(batch_size)] if batch_size else []),
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"job process failed: {child.stderr[-3000:]}")
    sample = json.loads(child.stdout.strip().splitlines()[-1])
    conn = db.conn(database)
    sample.update(wal_mb=(_wal(conn) - wal_before) / 2**20, state=_state(conn))
    conn.close()
    return sample


def _profile_start(db, database: str) -> int:
    conn = db.conn(database)
    try:
        conn.run("SELECT pg_stat_statements_reset()")
        return int(conn.run("SELECT num_timed + num_requested FROM pg_stat_checkpointer")[0][0])
    finally:
        conn.close()


def _profile_end(db, database: str, checkpoints_before: int) -> dict:
    conn = db.conn(database)
    try:
        rows = conn.run(
            "SELECT calls, round(total_exec_time)::bigint, shared_blks_read, shared_blks_dirtied, shared_blks_written, "
            " round(wal_bytes / 1048576.0)::bigint, wal_fpi, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) "
            "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SELECT (SELECT md5%' "
            "ORDER BY total_exec_time DESC LIMIT 3")
        checkpoints = int(conn.run("SELECT num_timed + num_requested FROM pg_stat_checkpointer")[0][0])
    finally:
        conn.close()
    return {"checkpoints": checkpoints - checkpoints_before, "statements": [list(r) for r in rows]}


def _wal(conn) -> int:
    return int(conn.run("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0][0])


def _state(conn) -> dict:
    row = conn.run(STATE_SQL)[0]
    names = [c["name"] for c in conn.columns]
    return {n: (int(v) if isinstance(v, (int,)) else v) for n, v in zip(names, row)}


def child_job(database_url: str, now: str, batch_size: int | None) -> int:
    """Runs in its own process: the job exactly as the schedule handler runs it, timed, with RSS."""
    wall = time.perf_counter()
    os.environ.update({"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "STAGE": "bench"})
    from bench.project import ExpiryService, get_database, get_settings

    settings = get_settings()
    service = ExpiryService(get_database(), settings)
    started = time.perf_counter()
    report = service.run(now=datetime.fromisoformat(now), batch_size=batch_size)
    seconds = time.perf_counter() - started
    max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"lots": report.lots, "points": report.points, "batches": report.batches,
                      "batch_size": batch_size or settings.expiry_batch_size, "seconds": seconds,
                      "wall_seconds": time.perf_counter() - wall, "max_rss_mb": max_rss_kb / 1024}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--lots-per-member", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the app's EXPIRY_BATCH_SIZE (5000)")
    parser.add_argument("--max-wal-size", default=os.environ.get("BENCH_EXPIRY_MAX_WAL_SIZE"),
                        help="set the server's max_wal_size first (e.g. 8GB); default: leave it")
    parser.add_argument("--repeats", type=int, default=None,
                        help="statement/job pairs, run ABBA (default $BENCH_EXPIRY_REPEATS or 2)")
    parser.add_argument("--shared-buffers", default=os.environ.get("BENCH_EXPIRY_SHARED_BUFFERS"),
                        help="restart the embedded server with this shared_buffers first (e.g. 1GB); default: 128MB")
    parser.add_argument("--profile", action="store_true",
                        help="pg_stat_statements per run: time, blocks, WAL and full-page images per statement")
    parser.add_argument("--json", help="also write the result as JSON to this path")
    parser.add_argument("--child-job", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_job:
        return child_job(args.child_job, args.now, args.batch_size)
    from bench.common import finish

    return finish(run(args.members, args.lots_per_member, args.batch_size, args.max_wal_size, args.repeats,
                      args.shared_buffers, args.profile), args.json)


if __name__ == "__main__":
    sys.exit(main())
