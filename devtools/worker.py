"""The local stand-in for Lambda's event sources: SQS pollers and schedule timers (dev only).

In AWS, an event source mapping long-polls SQS and invokes the function with a batch, and an
EventBridge rule invokes it on a schedule. Locally, the same registered handlers (whatever the app
declares with `@app.on_sqs_message` / `@app.schedule`) are called in this process with the same
event shapes and the same outcome rules, so a handler that works here behaves the same when
deployed:

- SQS, with ReportBatchItemFailures: a raised exception leaves the whole batch on the queue; a
  `{"batchItemFailures": [...]}` result leaves only those messages; anything else deletes the batch.
  Messages left on the queue come back and the queue's own redrive policy moves them to the DLQ
  after maxReceiveCount receives (moto implements it like SQS does).
- Schedules: `rate(...)` and six-field `cron(...)` expressions, in UTC, on a timer thread.
- S3 (`@app.on_s3_event`): the bucket notifies a queue of ours, as S3 can (moto sends the event
  documents S3 sends), and the handler gets each record as its own event, as Lambda's S3 trigger
  does. Like an asynchronous invocation, a failing event is retried twice, then dropped (logged).

Nothing here knows about the Xanadu app; tests drive it with a throwaway Chalice app.
"""
from __future__ import annotations

import base64
import calendar
import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import quote_plus, unquote_plus

from chalice import Chalice
from chalice.app import (
    S3EventConfig,
    ScheduledEventConfig,
    ScheduleExpression,
    SQSEventConfig,
)
from chalice.config import Config
from chalice.constants import DEFAULT_LAMBDA_MEMORY_SIZE, DEFAULT_LAMBDA_TIMEOUT
from chalice.local import LambdaContext

from devtools.localaws import ACCOUNT, REGION

log = logging.getLogger("xanadu.worker")

LambdaHandler = Callable[[dict[str, Any], Any], Any]

# Messages a failed invocation left on the queue come back after this many seconds instead of the
# queue's VisibilityTimeout (30 s), so a local retry (and the trip to the DLQ) takes seconds.
RETRY_DELAY_SECONDS = 5
# Long-poll length: short enough that stopping the worker never waits long.
WAIT_SECONDS = 2
SQS_MAX_BATCH = 10  # ReceiveMessage returns at most 10 messages per call


# -- loading the app the way `chalice local` does -------------------------------------------------
def load_app(project_dir: Path, stage: str = "local") -> tuple[Chalice, Config]:
    """Import the project's app.py with the stage's environment_variables applied to os.environ.

    This is what `chalice local` does for the API, so handlers run here see the same settings.
    """
    from chalice.cli.factory import CLIFactory

    config = CLIFactory(str(project_dir), environ=os.environ).create_config_obj(chalice_stage_name=stage)
    return config.chalice_app, config


# -- the functions behind the event sources -------------------------------------------------------
@dataclass(frozen=True)
class LocalLambda:
    """One of the app's Lambda functions: its deployed name, its handler and its configured limits."""

    name: str
    function_name: str
    handler: LambdaHandler
    timeout_s: int = DEFAULT_LAMBDA_TIMEOUT
    memory_mb: int = DEFAULT_LAMBDA_MEMORY_SIZE

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler as Lambda does: (event dict, context), returning what the function returns."""
        context = LambdaContext(self.function_name, self.memory_mb, self.timeout_s * 1000)
        return self.handler(event, context)


@dataclass(frozen=True)
class SqsSource:
    function: LocalLambda
    queue_name: str
    batch_size: int


@dataclass(frozen=True)
class ScheduleSource:
    function: LocalLambda
    expression: str


@dataclass(frozen=True)
class S3Source:
    function: LocalLambda
    bucket: str
    events: tuple[str, ...]
    prefix: str | None
    suffix: str | None


@dataclass
class EventSources:
    sqs: list[SqsSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)
    s3: list[S3Source] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)


def discover(app: Chalice, stage: str = "local", config: Config | None = None) -> EventSources:
    """The app's SQS, schedule and S3 sources; other kinds (SNS, event patterns...) are only named."""
    sources = EventSources()
    for source in app.event_sources:
        function = _local_lambda(app, source.name, stage, config)
        if isinstance(source, SQSEventConfig):
            queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
            sources.sqs.append(SqsSource(function, queue, source.batch_size))
        elif isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            if isinstance(expression, ScheduleExpression):
                expression = expression.to_string()
            sources.schedules.append(ScheduleSource(function, expression))
        elif isinstance(source, S3EventConfig):
            sources.s3.append(S3Source(function, source.bucket, tuple(source.events), source.prefix, source.suffix))
        else:
            sources.not_emulated.append(f"{source.name} ({type(source).__name__})")
    return sources


def _local_lambda(app: Chalice, name: str, stage: str, config: Config | None) -> LocalLambda:
    # `chalice deploy` names each function <app>-<stage>-<handler name>.
    function_name = f"{app.app_name}-{stage}-{name}"
    timeout, memory = DEFAULT_LAMBDA_TIMEOUT, DEFAULT_LAMBDA_MEMORY_SIZE
    if config is not None:
        scoped = config.scope(stage, name)
        timeout = scoped.lambda_timeout or timeout
        memory = scoped.lambda_memory_size or memory
    return LocalLambda(name, function_name, app.handler_map[name], timeout, memory)


# -- SQS ------------------------------------------------------------------------------------------
def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends, built from ReceiveMessage output."""
    return {"Records": [_sqs_record(m, queue_arn, region) for m in messages]}


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {name: _lambda_attribute(value)
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute (StringValue/BinaryValue bytes) -> Lambda's camelCase, base64 binary."""
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return converted


def failed_message_ids(outcome: Any, batch_ids: list[str]) -> set[str]:
    """Which messages stay on the queue after the handler returned `outcome` (ReportBatchItemFailures).

    As in Lambda, an identifier that is empty or not in the batch fails the whole batch.
    """
    if not isinstance(outcome, dict) or not outcome.get("batchItemFailures"):
        return set()
    identifiers = [item.get("itemIdentifier") if isinstance(item, dict) else None
                   for item in outcome["batchItemFailures"]]
    if any(identifier not in batch_ids for identifier in identifiers):
        log.error("batchItemFailures names an unknown message; the whole batch failed",
                  extra={"identifiers": [str(i) for i in identifiers]})
        return set(batch_ids)
    return {str(identifier) for identifier in identifiers}


@dataclass(frozen=True)
class PollResult:
    """What one poll did, for logs and tests."""

    received: int = 0
    deleted: int = 0
    retried: int = 0  # left on the queue; the queue's redrive policy counts these receives
    handler_error: bool = False


def poll_once(sqs: Any, queue_url: str, function: LocalLambda, batch_size: int, *,
              queue_arn: str | None = None, wait_seconds: int = WAIT_SECONDS,
              retry_delay: int = RETRY_DELAY_SECONDS) -> PollResult:
    """One turn of an event source mapping: receive a batch, invoke, delete what succeeded."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(batch_size, SQS_MAX_BATCH)),
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    if not messages:
        return PollResult()
    if queue_arn is None:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ids = [m["MessageId"] for m in messages]
    handler_error = False
    try:
        outcome = function.invoke(sqs_event(messages, queue_arn, sqs.meta.region_name))
    except Exception:
        log.exception("sqs handler raised; the batch stays on the queue",
                      extra={"function": function.name, "messages": len(messages)})
        handler_error = True
        failed = set(ids)
    else:
        failed = failed_message_ids(outcome, ids)
    done = [m for m in messages if m["MessageId"] not in failed]
    retry = [m for m in messages if m["MessageId"] in failed]
    _delete(sqs, queue_url, done)
    _retry_after(sqs, queue_url, retry, retry_delay)
    log.info("sqs batch", extra={"function": function.name, "received": len(messages),
                                 "deleted": len(done), "retried": len(retry)})
    return PollResult(len(messages), len(done), len(retry), handler_error)


def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    if messages:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


def _retry_after(sqs: Any, queue_url: str, messages: list[dict[str, Any]], seconds: int) -> None:
    if messages:
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
            for i, m in enumerate(messages)])


# -- S3 -------------------------------------------------------------------------------------------
S3_MAX_RECEIVES = 3  # an asynchronous invocation: the first try and two retries


def s3_queue_name(source: S3Source) -> str:
    return f"s3-events-{source.function.name}".replace("_", "-")[:80]


def subscribe(sqs: Any, s3: Any, source: S3Source) -> str:
    """A queue for the source's bucket events and the bucket's notification to it (the prefix and suffix
    filters of the decorator); other subscriptions of the bucket are kept. Returns the queue URL."""
    queue_url = sqs.create_queue(QueueName=s3_queue_name(source), Attributes={"VisibilityTimeout": "900"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", source.prefix), ("suffix", source.suffix))
             if value]
    current = s3.get_bucket_notification_configuration(Bucket=source.bucket)
    queues = [q for q in current.get("QueueConfigurations", []) if q.get("Id") != source.function.name]
    queues.append({"Id": source.function.name, "QueueArn": arn, "Events": list(source.events),
                   **({"Filter": {"Key": {"FilterRules": rules}}} if rules else {})})
    s3.put_bucket_notification_configuration(Bucket=source.bucket, NotificationConfiguration={
        "QueueConfigurations": queues,
        **{k: v for k, v in current.items() if k in ("TopicConfigurations", "LambdaFunctionConfigurations")}})
    return str(queue_url)


def s3_records(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The S3 event records in a notification message (none in S3's s3:TestEvent), each with the
    `sequencer` S3 puts on it (moto leaves it out; the message id stands in: a redelivered message keeps
    it, a new upload gets another)."""
    try:
        records = json.loads(message["Body"]).get("Records") or []
    except (ValueError, AttributeError):
        return []
    for record in records:
        about = record.setdefault("s3", {}).setdefault("object", {})
        about.setdefault("sequencer", message["MessageId"].replace("-", "").upper()[:20])
        # S3 URL-encodes the key but keeps its slashes (moto encodes those too).
        about["key"] = quote_plus(unquote_plus(str(about.get("key", ""))), safe="/")
    return list(records)


def poll_s3_once(sqs: Any, queue_url: str, function: LocalLambda, *, wait_seconds: int = WAIT_SECONDS,
                 retry_delay: int = RETRY_DELAY_SECONDS) -> PollResult:
    """Receive bucket notifications and invoke the handler once per record, as S3's trigger does."""
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=SQS_MAX_BATCH,
                                   WaitTimeSeconds=wait_seconds, MessageSystemAttributeNames=["All"]
                                   ).get("Messages", [])
    done, retry, failed_any = [], [], False
    for message in messages:
        try:
            for record in s3_records(message):
                function.invoke({"Records": [record]})
        except Exception:
            failed_any = True
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives >= S3_MAX_RECEIVES:
                log.exception("s3 handler failed on its last try; the event is dropped",
                              extra={"function": function.name})
                done.append(message)
            else:
                log.exception("s3 handler failed; retried", extra={"function": function.name})
                retry.append(message)
        else:
            done.append(message)
    _delete(sqs, queue_url, done)
    _retry_after(sqs, queue_url, retry, retry_delay)
    return PollResult(len(messages), len(done), len(retry), failed_any)


# -- schedules ------------------------------------------------------------------------------------
class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (UTC), or None if there is none."""


@dataclass(frozen=True)
class RateSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime | None:
        # EventBridge counts a rate from when the rule was created; locally, from start-up.
        return moment + self.interval


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
# (name, low, high, names) per field of an AWS cron, in order.
_CRON_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, {k.upper(): v for k, v in _MONTHS.items()}),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
]
_CRON_SEARCH_DAYS = 366 * 5


@dataclass(frozen=True)
class CronSchedule:
    """AWS's six-field cron, UTC. L, W and # are not supported locally (a clear error says so)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: '?' (the day is chosen by day-of-week)
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday, as in AWS
    years: frozenset[int]

    def _day_matches(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        assert self.days_of_week is not None
        return (day.weekday() + 1) % 7 + 1 in self.days_of_week

    def next_after(self, moment: datetime) -> datetime | None:
        start = moment.astimezone(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_CRON_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_schedule(expression: str) -> Schedule:
    """`rate(N minute|minutes|hour|hours|day|days)` or `cron(min hour dom month dow year)`."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        singular = not unit.endswith("s")
        if value < 1 or (value == 1) != singular:
            raise ValueError(f"{expression!r}: EventBridge wants 'rate(1 minute)' or 'rate(N minutes)' with N > 1")
        return RateSchedule(timedelta(**{unit.rstrip("s") + "s": value}))
    cron = _CRON.match(text)
    if not cron:
        raise ValueError(f"{expression!r}: expected rate(...) or cron(...)")
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ValueError(f"{expression!r}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)")
    fields = [_cron_field(part, *spec) for part, spec in zip(parts, _CRON_FIELDS)]
    dom, dow = fields[2], fields[4]
    if (dom is None) == (dow is None):
        raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    minutes, hours, _, months, _, years = fields
    assert minutes is not None and hours is not None and months is not None and years is not None
    return CronSchedule(minutes, hours, dom, months, dow, years)


def _cron_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int] | None:
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise ValueError(f"'?' is only allowed in day-of-month or day-of-week, not {name}")
        return None
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _cron_value(first_text, name, names), _cron_value(last_text, name, names)
        else:
            first = _cron_value(base, name, names)
            last = high if step_text else first
        if not (low <= first <= last <= high) or step < 1:
            raise ValueError(f"{name} {part!r}: out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_value(text: str, name: str, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"{name}: {text!r} is not supported locally (numbers, names, * ? , - / only; no L, W or #)")
    return int(text)


def scheduled_event(function: LocalLambda, at: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target (Chalice names the rule like the function)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{function.function_name}"],
        "detail": {},
    }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_scheduled(function: LocalLambda, at: datetime | None = None) -> Any:
    """Invoke a schedule handler once, as its rule would at `at` (default: now)."""
    return function.invoke(scheduled_event(function, at or _now()))


# -- the worker -----------------------------------------------------------------------------------
class Worker:
    """Daemon threads in this process: one long-poller per SQS source, one timer per schedule."""

    def __init__(self, sources: EventSources, sqs: Any, *, s3: Any = None, wait_seconds: int = WAIT_SECONDS,
                 retry_delay: int = RETRY_DELAY_SECONDS) -> None:
        self._sources = sources
        self._sqs = sqs
        self._s3 = s3
        self._wait_seconds = wait_seconds
        self._retry_delay = retry_delay
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running: list[str] = []  # one line per active source, for the banner

    def start(self) -> None:
        for source in self._sources.sqs:
            try:
                queue_url = self._sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
            except self._sqs.exceptions.QueueDoesNotExist:
                log.warning("queue does not exist locally; add it to devtools/localaws.bootstrap",
                            extra={"queue": source.queue_name, "function": source.function.name})
                continue
            arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self._spawn(f"sqs:{source.queue_name}", self._poll_forever, source, queue_url, arn)
            self.running.append(f"sqs {source.queue_name} -> {source.function.name} (batch {source.batch_size})")
        for source in self._sources.schedules:
            try:
                schedule = parse_schedule(source.expression)
            except ValueError as error:
                log.warning("schedule not run locally (use `make jobs ARGS='run NAME'`)",
                            extra={"function": source.function.name, "error": str(error)})
                continue
            self._spawn(f"schedule:{source.function.name}", self._tick_forever, source, schedule)
            self.running.append(f"schedule {source.expression} -> {source.function.name}")
        for source in self._sources.s3:
            if self._s3 is None:
                log.warning("S3 events not emulated (no S3 client)", extra={"function": source.function.name})
                continue
            queue_url = subscribe(self._sqs, self._s3, source)
            self._spawn(f"s3:{source.function.name}", self._poll_s3_forever, source, queue_url)
            where = f"s3://{source.bucket}/{source.prefix or ''}*{source.suffix or ''}"
            self.running.append(f"s3 {where} -> {source.function.name}")
        for name in self._sources.not_emulated:
            log.warning("event source not emulated locally", extra={"source": name})

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_forever(self, source: SqsSource, queue_url: str, queue_arn: str) -> None:
        while not self._stop.is_set():
            try:
                poll_once(self._sqs, queue_url, source.function, source.batch_size, queue_arn=queue_arn,
                          wait_seconds=self._wait_seconds, retry_delay=self._retry_delay)
            except Exception:
                # A poller must outlive a hiccup of the emulated SQS; back off instead of spinning.
                log.exception("sqs poll failed", extra={"queue": source.queue_name})
                self._stop.wait(2)

    def _poll_s3_forever(self, source: S3Source, queue_url: str) -> None:
        while not self._stop.is_set():
            try:
                poll_s3_once(self._sqs, queue_url, source.function, wait_seconds=self._wait_seconds,
                             retry_delay=self._retry_delay)
            except Exception:
                log.exception("s3 event poll failed", extra={"function": source.function.name})
                self._stop.wait(2)

    def _tick_forever(self, source: ScheduleSource, schedule: Schedule) -> None:
        due = schedule.next_after(_now())
        while due is not None and not self._stop.wait(max(0.0, (due - _now()).total_seconds())):
            try:
                run_scheduled(source.function, due)
            except Exception:
                log.exception("scheduled handler raised", extra={"function": source.function.name})
            # Fires missed while the handler ran are skipped, not queued up.
            due = schedule.next_after(max(due, _now()))

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)


def describe(sources: EventSources) -> str:
    """One line per source, for `jobs list` and logs."""
    lines = [f"sqs       {s.queue_name:<24} {s.function.name} (batch {s.batch_size})" for s in sources.sqs]
    lines += [f"schedule  {s.expression:<24} {s.function.name}" for s in sources.schedules]
    lines += [f"s3        {s.bucket + '/' + (s.prefix or '') + '*' + (s.suffix or ''):<24} {s.function.name}"
              for s in sources.s3]
    lines += [f"other     {name}" for name in sources.not_emulated]
    return "\n".join(lines) if lines else "(no SQS or schedule handlers)"
