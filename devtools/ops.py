"""Operator CLI for the points jobs: run any of them once, by hand (dev and operations, never deployed).

    python -m devtools.ops list
    python -m devtools.ops run-job expire-points --dry-run [--now 2030-01-01T00:00:00Z] [--sample 50]
    python -m devtools.ops run-job expire-points [--now ...] [--batch-size 5000]
    python -m devtools.ops run-job notify-expiring-points [--days 30]
    python -m devtools.ops run-job recompute-tiers
    python -m devtools.ops run-job reconcile-points

The database is DATABASE_URL (or the DB_* variables) when set, else the running local stack's, read
from <data dir>/env.json (`make run` writes it; XANADU_DATA_DIR overrides .var/local). Each job
runs through the same service as its @app.schedule handler, with a progress line on stderr after
each batch (at most one a second) and the final report as JSON on stdout. Exit status: 0 done,
1 failed, 2 reconciliation found drift.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

JOBS: dict[str, str] = {
    "expire-points": "Expire lapsed lots (daily, expire_points). --dry-run prints what would expire.",
    "notify-expiring-points": "Email members whose points expire within --days (weekly, notify_expiring_points).",
    "recompute-tiers": "Recompute every member's tier, downgrades included (nightly, recompute_tiers).",
    "reconcile-points": "Check balance == sum(ledger) == sum(lots) for every member; read-only (nightly).",
}


def load_environment() -> str:
    """Point the app at a database: the environment's, else the local stack's env.json."""
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        return "environment"
    data_dir = Path(os.environ.get("XANADU_DATA_DIR") or ROOT / ".var" / "local")
    path = data_dir / "env.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"No DATABASE_URL and no {path}: set DATABASE_URL, or start the local stack "
                         "with `make run` first.") from None
    env = document.get("env") or {"DATABASE_URL": document.get("database_url", "")}
    for key, value in env.items():
        os.environ.setdefault(key, str(value))
    return str(path)


class ProgressPrinter:
    """A line on stderr after a batch, at most every `interval` seconds (and always the last one)."""

    def __init__(self, job: str, interval: float = 1.0, stream: Any = None):
        self._job = job
        self._interval = interval
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._last = 0.0
        self._pending: Any = None

    def __call__(self, report: Any) -> None:
        self._pending = report
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._print(report)
            self._last = now

    def finish(self) -> None:
        if self._pending is not None:
            self._print(self._pending)

    def _print(self, report: Any) -> None:
        fields = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else {"report": report}
        shown = " ".join(f"{k}={v}" for k, v in fields.items() if not isinstance(v, (list, dict)))
        elapsed = time.monotonic() - self._started
        print(f"[{self._job}] {elapsed:7.1f}s {shown}", file=self._stream, flush=True)
        self._pending = None


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise SystemExit("--now needs a time zone, e.g. 2030-01-01T00:00:00Z")
    return value


def run_job(args: argparse.Namespace, out: Any = None) -> int:
    out = out or sys.stdout
    from chalicelib.platform import logs
    from chalicelib.platform.config import get_settings
    from chalicelib.platform.db import get_database
    from chalicelib.platform.jobs import run_job as run_logged

    logs.configure(args.log_level)
    settings, db = get_settings(), get_database()
    now = parse_now(args.now)
    progress = ProgressPrinter(args.name)
    name = args.name.replace("_", "-")
    if args.dry_run and name not in ("expire-points", "reconcile-points"):
        raise SystemExit("--dry-run is for expire-points (reconcile-points never writes anyway).")

    work: Callable[[], Any]
    if name == "expire-points":
        from chalicelib.points.expiry import ExpiryService

        service = ExpiryService(db, settings)
        if args.dry_run:
            return _dry_run(service, now, args, progress, out)
        work = lambda: service.run(now=now, batch_size=args.batch_size, progress=progress)  # noqa: E731
    elif name == "notify-expiring-points":
        from chalicelib.points.expiry import ExpiryService

        service = ExpiryService(db, settings)
        work = lambda: service.notify_expiring(now=now, days=args.days, batch_size=args.batch_size,  # noqa: E731
                                               progress=progress)
    elif name == "recompute-tiers":
        from chalicelib.points.tiers import TierService

        work = lambda: TierService(db, settings).recompute_all(now=now, batch_size=args.batch_size,  # noqa: E731
                                                               progress=progress)
    elif name == "reconcile-points":
        from chalicelib.points.reconciliation import ReconciliationService

        work = lambda: ReconciliationService(db, settings).run(batch_size=args.batch_size,  # noqa: E731
                                                               progress=progress)
    else:
        raise SystemExit(f"unknown job {args.name!r}; known: {', '.join(JOBS)}")
    try:
        report = run_logged(name.replace("-", "_"), work)
    finally:
        progress.finish()
    print(json.dumps({"job": name, **dataclasses.asdict(report)}, default=str), file=out)
    return 2 if name == "reconcile-points" and report.drifted else 0


def _dry_run(service: Any, now: datetime | None, args: argparse.Namespace, progress: ProgressPrinter,
             out: Any) -> int:
    preview = service.preview(now=now, batch_size=args.batch_size, sample=args.sample, progress=progress)
    progress.finish()
    print(f"DRY RUN: as of {preview.as_of.astimezone(timezone.utc).isoformat()}, expire-points would expire "
          f"{preview.points:,} points in {preview.lots:,} lots of {preview.members:,} members.", file=out)
    if preview.sample:
        print(f"{'member':<36} {'email':<32} {'lot':<36} {'points':>9}  expired at", file=out)
        for lot in preview.sample:
            print(f"{str(lot.member_id):<36} {lot.email[:32]:<32} {str(lot.lot_id):<36} {lot.points:>9}  "
                  f"{lot.expires_at.astimezone(timezone.utc).isoformat()}", file=out)
        if preview.lots > len(preview.sample):
            print(f"... and {preview.lots - len(preview.sample):,} more lots (--sample N to show more)", file=out)
    print(json.dumps({"job": "expire-points", "dry_run": True, "lots": preview.lots, "points": preview.points,
                      "members": preview.members}), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.ops", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the jobs this CLI runs")
    run = commands.add_parser("run-job", help="run one job once")
    run.add_argument("name", help=", ".join(JOBS))
    run.add_argument("--dry-run", action="store_true", help="expire-points: print what would expire, change nothing")
    run.add_argument("--now", help="the job's clock (ISO-8601 with zone); default the database's now()")
    run.add_argument("--batch-size", type=int, default=None, help="override the configured batch size")
    run.add_argument("--days", type=int, default=None, help="notify-expiring-points: the window (default 30)")
    run.add_argument("--sample", type=int, default=50, help="dry run: how many lots to list")
    run.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"),
                     help="JSON log lines on stdout at this level (default WARNING)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, description in JOBS.items():
            print(f"{name:<24} {description}")
        return 0
    source = load_environment()
    print(f"[{args.name}] database from {source}", file=sys.stderr)
    return run_job(args)


if __name__ == "__main__":
    sys.exit(main())
