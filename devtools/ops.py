"""The operator CLI: every scheduled job once, by hand, and the order-events dead letters (dev and operations,
never deployed).

    python -m devtools.ops list                                   the app's SQS and schedule handlers
    python -m devtools.ops run-job expire-points --dry-run [--now 2030-01-01T00:00:00Z] [--sample 50]
    python -m devtools.ops run-job expire-points [--now ...] [--batch-size 5000]
    python -m devtools.ops run-job notify-expiring-points [--days 30]
    python -m devtools.ops run-job recompute-tiers | reconcile-points
    python -m devtools.ops run-job NAME                           any other schedule handler, as EventBridge calls it
    python -m devtools.ops dead-letters [--redrive]               show order-events-dlq; --redrive moves them back
    python -m devtools.ops import FILE.csv [--dry-run] [--no-wait]  upload to imports/ (the S3 handler imports
                                                                  it), print its progress and final report
    python -m devtools.ops export-events [--day YYYY-MM-DD]      the daily archive export now (or one day again)

The database is DATABASE_URL (or the DB_* variables) when set, else the running local stack's, read from
<data dir>/env.json (`make run` writes it; XANADU_DATA_DIR overrides .var/local); dead letters need the
running stack. The points jobs run through the same service as their @app.schedule handler, with a
progress line on stderr after each batch (at most one a second) and the final report as JSON on stdout.
Exit status: 0 done, 1 failed, 2 reconciliation found drift. `import` needs the running stack (its bucket
and worker); it exits 1 if the import FAILED (a refused file), 0 otherwise (rejected rows are in the report).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools import localaws  # noqa: E402 - after the path fix above, for `python devtools/ops.py`
from devtools.worker import EventSources, describe, discover, load_app, run_scheduled  # noqa: E402

STAGE = "local"
# Jobs with options and a progress report (the rest run as their schedule handler).
POINTS_JOBS: dict[str, str] = {
    "expire-points": "Expire lapsed lots (daily). --dry-run prints what would expire.",
    "notify-expiring-points": "Email members whose points expire within --days (weekly).",
    "recompute-tiers": "Recompute every member's tier, downgrades included (nightly).",
    "reconcile-points": "Check balance == sum(ledger) == sum(lots) for every member; read-only (nightly).",
}
_LIST_VISIBILITY_S = 30  # long enough to page through the DLQ without seeing a message twice


# -- where the app runs ---------------------------------------------------------------------------
def load_environment() -> str:
    """Point the app at a database: the environment's, else the local stack's env.json."""
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        return "environment"
    data_dir = Path(os.environ.get("XANADU_DATA_DIR") or ROOT / ".var" / "local")
    path = data_dir / "env.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(
            f"No DATABASE_URL and no {path}: set DATABASE_URL, or start the local stack with `make run` first."
        ) from None
    env = document.get("env") or {"DATABASE_URL": document.get("database_url", "")}
    for key, value in env.items():
        os.environ.setdefault(key, str(value))
    return str(path)


def local_sources() -> EventSources:
    """app.py's SQS and schedule handlers, loaded the way `chalice local` loads the app."""
    app, config = load_app(ROOT, STAGE)
    return discover(app, STAGE, config)


def run_handler(sources: EventSources, name: str) -> Any:
    """Invoke the schedule handler called `name` once, with EventBridge's event; what it returned."""
    wanted = name.replace("-", "_")
    for source in sources.schedules:
        if source.function.name == wanted:
            return run_scheduled(source.function)
    known = ", ".join(s.function.name for s in sources.schedules) or "none"
    raise SystemExit(f"no schedule handler named {name!r} (known: {known})")


# -- the points jobs, with progress -------------------------------------------------------------
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


def run_points_job(args: argparse.Namespace, out: Any = None) -> int:
    out = out or sys.stdout
    from chalicelib.container import services
    from chalicelib.platform import logs
    from chalicelib.platform.jobs import run_job as run_logged

    logs.configure(args.log_level)
    container = services()
    now = parse_now(args.now)
    name = args.name.replace("_", "-")
    progress = ProgressPrinter(name)
    if args.dry_run and name not in ("expire-points", "reconcile-points"):
        raise SystemExit("--dry-run is for expire-points (reconcile-points never writes anyway).")

    work: Callable[[], Any]
    if name == "expire-points":
        if args.dry_run:
            return _dry_run(container.expiry, now, args, progress, out)
        work = lambda: container.expiry.run(now=now, batch_size=args.batch_size, progress=progress)  # noqa: E731
    elif name == "notify-expiring-points":
        work = lambda: container.expiry.notify_expiring(  # noqa: E731
            now=now, days=args.days, batch_size=args.batch_size, progress=progress
        )
    elif name == "recompute-tiers":
        work = lambda: container.tiers.recompute_all(now=now, batch_size=args.batch_size, progress=progress)  # noqa: E731
    else:
        work = lambda: container.reconciliation.run(batch_size=args.batch_size, progress=progress)  # noqa: E731
    try:
        report = run_logged(name.replace("-", "_"), work)
    finally:
        progress.finish()
    print(json.dumps({"job": name, **dataclasses.asdict(report)}, default=str), file=out)
    return 2 if name == "reconcile-points" and report.drifted else 0


def _dry_run(service: Any, now: datetime | None, args: argparse.Namespace, progress: ProgressPrinter, out: Any) -> int:
    preview = service.preview(now=now, batch_size=args.batch_size, sample=args.sample, progress=progress)
    progress.finish()
    print(
        f"DRY RUN: as of {preview.as_of.astimezone(timezone.utc).isoformat()}, expire-points would expire "
        f"{preview.points:,} points in {preview.lots:,} lots of {preview.members:,} members.",
        file=out,
    )
    if preview.sample:
        print(f"{'member':<36} {'email':<32} {'lot':<36} {'points':>9}  expired at", file=out)
        for lot in preview.sample:
            print(
                f"{lot.member_id!s:<36} {lot.email[:32]:<32} {lot.lot_id!s:<36} {lot.points:>9}  "
                f"{lot.expires_at.astimezone(timezone.utc).isoformat()}",
                file=out,
            )
        if preview.lots > len(preview.sample):
            print(f"... and {preview.lots - len(preview.sample):,} more lots (--sample N to show more)", file=out)
    summary = {"job": "expire-points", "dry_run": True, "lots": preview.lots, "points": preview.points,
               "members": preview.members}
    print(json.dumps(summary), file=out)
    return 0


# -- dead letters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    receive_count: int
    sent_at_ms: int
    receipt_handle: str


def dead_letters(sqs: Any, dlq_url: str) -> list[DeadLetter]:
    """Everything in the DLQ, without consuming it (messages become visible again at once)."""
    seen: dict[str, DeadLetter] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=_LIST_VISIBILITY_S,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            attributes = message.get("Attributes", {})
            seen[message["MessageId"]] = DeadLetter(
                message["MessageId"], message["Body"], int(attributes.get("ApproximateReceiveCount", 0)),
                int(attributes.get("SentTimestamp", 0)), message["ReceiptHandle"],
            )
    letters = list(seen.values())
    for start in range(0, len(letters), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for i, letter in enumerate(letters[start : start + 10])
            ],
        )
    return letters


def redrive(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every dead letter back to the source queue: a new message with the same body and attributes."""
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=_LIST_VISIBILITY_S,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return moved
        for message in batch:
            extra = {"MessageAttributes": message["MessageAttributes"]} if message.get("MessageAttributes") else {}
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], **extra)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


# -- imports and the event archive --------------------------------------------------------------------
_IMPORT_OUTPUTS = (".progress.json", ".report.json", ".rejections.jsonl")


def import_key(path: Path, dry_run: bool) -> str:
    if not path.name.endswith(".csv"):
        raise SystemExit(f"{path.name}: the file name must end in .csv (only such keys start an import)")
    return ("imports/dry-run/" if dry_run else "imports/") + path.name


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    except s3.exceptions.NoSuchKey:
        return None


def import_file(path: Path, *, dry_run: bool, wait: bool = True, timeout: float = 3600.0,
                poll_seconds: float = 1.0, out: Any = None, err: Any = None) -> int:
    """Upload `path` under imports/ of the running stack's bucket (its worker feeds the S3 handler, as S3
    invokes it in AWS), then follow <key>.progress.json until <key>.report.json appears; print the report."""
    out, err = out or sys.stdout, err or sys.stderr
    from devtools.run import StackInfo

    if not path.is_file():
        raise SystemExit(f"{path}: no such file")
    info = StackInfo.load()
    s3 = localaws.client("s3", info.aws.endpoint)
    bucket, key = info.aws.data_bucket, import_key(path, dry_run)
    for suffix in _IMPORT_OUTPUTS:  # an earlier run's outputs must not be mistaken for this one's
        s3.delete_object(Bucket=bucket, Key=key + suffix)
    s3.upload_file(str(path), bucket, key)
    print(f"[import] uploaded {path} ({path.stat().st_size:,} bytes) to s3://{bucket}/{key}"
          + (" (dry run: nothing will be written)" if dry_run else ""), file=err, flush=True)
    if not wait:
        return 0
    started, last = time.monotonic(), None

    def show(progress: dict[str, Any]) -> None:
        print(f"[import] {time.monotonic() - started:7.1f}s {progress['status']:<7} {progress['percent']:5.1f}% "
              f"rows={progress['rows_read']:,} imported={progress['imported']:,} "
              f"skipped={progress['skipped']:,} rejected={progress['rejected']:,}", file=err, flush=True)

    while time.monotonic() - started < timeout:
        report = _read_json(s3, bucket, key + ".report.json")
        if report is not None:
            show(report)
            break
        progress = _read_json(s3, bucket, key + ".progress.json")
        if progress is not None and progress != last:
            last = progress
            show(progress)
        time.sleep(poll_seconds)
    else:
        print(f"[import] no report after {timeout:.0f}s; it goes on in the stack (see {key}.progress.json)", file=err)
        return 1
    for rejection in report.get("rejections", [])[:20]:
        print(f"[import] line {rejection['line']}: {rejection['reason']}", file=err)
    if report["rejected"] > 20:
        print(f"[import] ... {report['rejected'] - 20:,} more in {report['rejections_file']}", file=err)
    summary = {k: report[k] for k in ("import_id", "file", "dry_run", "status", "rows_read", "imported", "skipped",
                                      "rejected", "points", "seconds", "invocations", "error", "rejections_file")}
    print(json.dumps(summary), file=out)
    return 1 if report["status"] == "FAILED" else 0


def export_events(day: str | None, out: Any = None) -> int:
    """The archive export (as the daily job), or one day again (the same objects are rewritten)."""
    from datetime import date

    from chalicelib.container import services
    from chalicelib.platform import logs

    logs.configure(os.environ.get("LOG_LEVEL", "WARNING"))
    archive = services().archive
    if day:
        done = archive.export_day(date.fromisoformat(day))
        result: dict[str, Any] = {"day": done.day.isoformat(), "events": done.events, "objects": done.objects,
                                  "bytes": done.bytes, "prefix": f"s3://{done.bucket}/{done.prefix}"}
    else:
        result = dataclasses.asdict(archive.run())
    print(json.dumps(result), file=out or sys.stdout)
    return 0


# -- the command line -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.ops", description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the app's SQS and schedule handlers, and the jobs with options")
    run = commands.add_parser("run-job", help="run one scheduled job once")
    run.add_argument("name", help="a schedule handler's name (dashes or underscores), as `list` shows it")
    run.add_argument("--dry-run", action="store_true", help="expire-points: print what would expire, change nothing")
    run.add_argument("--now", help="the job's clock (ISO-8601 with zone); default the database's now()")
    run.add_argument("--batch-size", type=int, default=None, help="override the configured batch size")
    run.add_argument("--days", type=int, default=None, help="notify-expiring-points: the window (default 30)")
    run.add_argument("--sample", type=int, default=50, help="dry run: how many lots to list")
    run.add_argument(
        "--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"),
        help="JSON log lines on stdout at this level (default WARNING)",
    )
    letters = commands.add_parser("dead-letters", help="show (and optionally redrive) order-events-dlq")
    letters.add_argument("--redrive", action="store_true", help="move the dead letters back to order-events")
    imports = commands.add_parser("import", help="import a CSV of members and balances through the local bucket")
    imports.add_argument("file", type=Path, help="a .csv file: external_member_id,email,first_name,... (docs)")
    imports.add_argument("--dry-run", action="store_true", help="validate the whole file, write nothing")
    imports.add_argument("--no-wait", action="store_true", help="upload and return; the stack imports it")
    imports.add_argument("--timeout", type=float, default=3600.0, help="seconds to follow the import")
    exports = commands.add_parser("export-events", help="export the event archive to the bucket now")
    exports.add_argument("--day", help="export this UTC day again (YYYY-MM-DD) instead of the daily run")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(describe(local_sources()))
        for name, description in POINTS_JOBS.items():
            print(f"job       {name:<24} {description}")
        return 0
    if args.command == "run-job":
        os.environ["LOG_LEVEL"] = args.log_level  # JSON log lines on stdout only at this level and above
        source = load_environment()
        print(f"[{args.name}] database from {source}", file=sys.stderr)
        if args.name.replace("_", "-") in POINTS_JOBS:
            return run_points_job(args)
        sources = local_sources()  # loading the app applies the stage's environment (LOG_LEVEL=INFO)...
        os.environ["LOG_LEVEL"] = args.log_level  # ...so the operator's level is set again after it
        result = run_handler(sources, args.name)
        print(json.dumps(result, indent=2, default=str) if result is not None else f"{args.name}: done")
        return 0
    if args.command == "import":
        return import_file(args.file, dry_run=args.dry_run, wait=not args.no_wait, timeout=args.timeout)
    if args.command == "export-events":
        source = load_environment()
        print(f"[export-events] database from {source}", file=sys.stderr)
        return export_events(args.day)
    from devtools.run import StackInfo

    info = StackInfo.load()
    sqs = localaws.client("sqs", info.aws.endpoint)
    if args.redrive:
        print(f"moved {redrive(sqs, info.aws.dlq_url, info.aws.queue_url)} message(s) back to the queue")
        return 0
    found = dead_letters(sqs, info.aws.dlq_url)
    for letter in found:
        print(json.dumps({"message_id": letter.message_id, "receive_count": letter.receive_count,
                          "sent_at_ms": letter.sent_at_ms, "body": letter.body}))
    print(f"{len(found)} dead letter(s) in {info.aws.dlq_url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
