"""JSON log lines carrying the request id, so one request can be followed across API, SQS and jobs.

Two more things every line goes through:
- metrics: `metric(...)` writes a CloudWatch Embedded Metric Format line (CloudWatch turns it into metrics
  without an API call; a metric filter or a local grep can count it just as well);
- personal data: in deployed stages (STAGE other than local/test) one filter, `PersonalDataFilter`, masks
  email addresses, names, phone numbers and street addresses in every line: structured fields by name,
  free text (messages, exception texts, PostgreSQL's "Key (email)=(...)" details) by shape.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
METRICS_NAMESPACE = "XanaduRewards"
LOCAL_STAGES = frozenset({"local", "test"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        emf = getattr(record, "_emf", None)
        if emf:
            line.update(emf)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# -- personal data ------------------------------------------------------------------------------------
MASK = "***"
# Structured fields that hold personal data, whatever logs them (snake_case and the frontend's camelCase).
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "email_to",
        "to",
        "recipient",
        "name",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "full_name",
        "phone",
        "address",
        "street",
        "city",
        "state",
        "zip_code",
        "zipcode",
        "subject",
        "text",
        "body",
    }
)
_EMAIL = re.compile(r"[^\s@<>()\[\]{}\"',;:]+@[^\s@<>()\[\]{}\"',;:]+\.[A-Za-z0-9-]+")
_PHONE = re.compile(r"\+\d[\d ().-]{6,}\d")  # E.164-looking: how we store phones
# PostgreSQL errors quote the offending values: DETAIL: Key (email)=(ann@example.com) already exists.
_KEY_VALUES = re.compile(r"(Key \([^)]*\)=\()(.*?)(\)( already exists| is not present|$))", re.DOTALL)


def mask_text(text: str) -> str:
    text = _KEY_VALUES.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(MASK, text)


def _mask(key: str, value: Any) -> Any:
    if key.lower() in PERSONAL_FIELDS and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(key, v) for v in value]
    return value


class PersonalDataFilter(logging.Filter):
    """Masks personal data in a record before any handler formats it (message, arguments, extra fields,
    exception text). Installed on the root handler in deployed stages."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and not key.startswith("_"):
                record.__dict__[key] = _mask(key, value)
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
            record.__dict__["exception"] = mask_text(formatted)
        return True


def masks_personal_data(stage: str | None = None) -> bool:
    """Deployed stages mask; local runs and tests show what they log (their data is made up)."""
    return (stage if stage is not None else os.environ.get("STAGE", "local")) not in LOCAL_STAGES


# -- metrics ------------------------------------------------------------------------------------------
def metric(name: str, values: dict[str, int | float], *, dimensions: dict[str, str] | None = None) -> None:
    """One CloudWatch EMF line with `values` as Count metrics under `dimensions` (e.g. {"Job": "..."})."""
    dims = dimensions or {}
    emf = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": key, "Unit": "Count"} for key in values],
                }
            ],
        },
        **dims,
        **values,
    }
    logging.getLogger("xanadu.metrics").info(name, extra={"_emf": emf})


_configured = False


def configure(level: str = "INFO") -> None:
    """Idempotent: Lambda keeps the process, so this runs once per container."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    if masks_personal_data():
        handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
