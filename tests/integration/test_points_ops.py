"""The operator CLI (devtools/ops.py): every job runs once from the command line; expiry has a dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.support.points import T0, credit, new_member, sums

ROOT = Path(__file__).resolve().parents[2]


def ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devtools.ops", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
    )


def test_list_names_every_handler_and_job():
    result = ops("list")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["sqs", "order-events", "process_order_events", "(batch", "10)"] in rows
    schedules = {row[-1] for row in rows if row[0] == "schedule"}
    assert {"relay_outbox", "expire_points", "recompute_tiers", "reconcile_points", "housekeeping"} <= schedules
    assert [row[1] for row in rows if row[0] == "job"] == [
        "expire-points",
        "notify-expiring-points",
        "recompute-tiers",
        "reconcile-points",
    ]


def test_any_schedule_handler_runs_once_as_eventbridge_calls_it(db):
    result = ops("run-job", "release-expired-reservations")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"released": 0}


def test_expire_points_dry_run_then_for_real(db):
    member = new_member(db, "cli@example.com")
    credit(db, member, 70, at=T0 - timedelta(days=400))
    credit(db, member, 30, at=T0 - timedelta(days=366))
    credit(db, member, 5, at=T0)

    dry = ops("run-job", "expire-points", "--dry-run", "--now", "2030-01-01T12:00:00Z", "--sample", "1")
    assert dry.returncode == 0, dry.stderr
    assert "would expire 100 points in 2 lots of 1 members" in dry.stdout
    assert "cli@example.com" in dry.stdout and "... and 1 more lots" in dry.stdout
    assert json.loads(dry.stdout.splitlines()[-1]) == {
        "job": "expire-points",
        "dry_run": True,
        "lots": 2,
        "points": 100,
        "members": 1,
    }
    assert sums(db, member)["balance"] == 105  # nothing changed

    real = ops("run-job", "expire-points", "--now", "2030-01-01T12:00:00Z", "--batch-size", "1")
    assert real.returncode == 0, real.stderr
    report = json.loads(real.stdout.splitlines()[-1])
    assert (report["lots"], report["points"], report["batches"]) == (2, 100, 2)
    assert "[expire-points]" in real.stderr and "lots=2" in real.stderr  # progress line
    assert sums(db, member) == {"balance": 5, "ledger": 5, "lots": 5}


def test_other_jobs_and_the_local_stack_env_file(db, tmp_path):
    member = new_member(db, "cli2@example.com")
    credit(db, member, 5000, at=T0)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST")}
    (tmp_path / "env.json").write_text(json.dumps({"env": {"DATABASE_URL": os.environ["DATABASE_URL"]}}))
    env["XANADU_DATA_DIR"] = str(tmp_path)

    tiers = ops("run-job", "recompute-tiers", "--now", "2030-01-01T12:00:00Z", env=env)
    assert tiers.returncode == 0, tiers.stderr
    assert json.loads(tiers.stdout.splitlines()[-1])["upgrades"] == 1
    assert "env.json" in tiers.stderr

    reconcile = ops("run-job", "reconcile-points", env=env)
    assert reconcile.returncode == 0 and json.loads(reconcile.stdout.splitlines()[-1])["drifted"] == 0
    with db.transaction() as tx:
        tx.execute("UPDATE members SET balance = balance + 1 WHERE id = :m", m=member)
    drift = ops("run-job", "reconcile-points", env=env)
    assert drift.returncode == 2 and json.loads(drift.stdout.splitlines()[-1])["drifted_ids"] == [str(member)]

    notify = ops("run-job", "notify-expiring-points", "--now", "2030-12-10T00:00:00Z", env=env)
    assert notify.returncode == 0 and json.loads(notify.stdout.splitlines()[-1])["emailed"] == 1

    refused = ops("run-job", "recompute-tiers", "--dry-run", env=env)
    assert refused.returncode != 0 and "--dry-run" in refused.stderr
    missing = ops("run-job", "reconcile-points", env={**env, "XANADU_DATA_DIR": str(tmp_path / "nowhere")})
    assert missing.returncode != 0 and "make run" in missing.stderr
