"""Scheduled jobs and dead letters of the local stack, by hand (dev only).

    python -m devtools.jobs list                      the app's SQS and schedule handlers
    python -m devtools.jobs run NAME                  run one schedule handler once, now
    python -m devtools.jobs dead-letters [--redrive]  show order-events-dlq; --redrive moves them back

`run` and `dead-letters` use the running stack (`make run`): its database and emulated SQS, read
from <data dir>/env.json. The handler gets the same event its EventBridge rule would send.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from devtools import localaws
from devtools.run import ROOT, STAGE, StackInfo
from devtools.worker import EventSources, describe, discover, load_app, run_scheduled

_LIST_VISIBILITY_S = 30  # long enough to page through the DLQ without seeing a message twice


def local_sources() -> EventSources:
    """app.py's SQS and schedule handlers, loaded the way `chalice local` loads the app."""
    app, config = load_app(ROOT, STAGE)
    return discover(app, STAGE, config)


def run_job(sources: EventSources, name: str) -> Any:
    """Invoke the schedule handler called `name` once; returns what the handler returned."""
    for source in sources.schedules:
        if source.function.name == name:
            return run_scheduled(source.function)
    known = ", ".join(s.function.name for s in sources.schedules) or "none"
    raise SystemExit(f"no schedule handler named {name!r} (known: {known})")


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
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=_LIST_VISIBILITY_S,
                                    MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        for message in batch:
            attributes = message.get("Attributes", {})
            seen[message["MessageId"]] = DeadLetter(
                message["MessageId"], message["Body"], int(attributes.get("ApproximateReceiveCount", 0)),
                int(attributes.get("SentTimestamp", 0)), message["ReceiptHandle"])
    letters = list(seen.values())
    for start in range(0, len(letters), 10):
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
            for i, letter in enumerate(letters[start:start + 10])])
    return letters


def redrive(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every dead letter back to the source queue: a new message with the same body and attributes."""
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=_LIST_VISIBILITY_S,
                                    MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return moved
        for message in batch:
            extra = {"MessageAttributes": message["MessageAttributes"]} if message.get("MessageAttributes") else {}
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], **extra)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.jobs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the app's SQS and schedule handlers")
    run = commands.add_parser("run", help="run one schedule handler once")
    run.add_argument("name", help="the handler's name, as `list` shows it")
    letters = commands.add_parser("dead-letters", help="show (and optionally redrive) order-events-dlq")
    letters.add_argument("--redrive", action="store_true", help="move the dead letters back to order-events")
    args = parser.parse_args(argv)

    if args.command == "list":
        print(describe(local_sources()))
        return 0
    info = StackInfo.load()
    if args.command == "run":
        from chalicelib.platform import logs

        os.environ.update(info.app_env())  # the handler talks to the running stack's database and SQS
        logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
        result = run_job(local_sources(), args.name)
        print(json.dumps(result, indent=2, default=str) if result is not None else f"{args.name}: done")
        return 0
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
