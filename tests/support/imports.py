"""Helpers of the import tests: CSV files in the session's bucket, the S3 handler called as Lambda
calls it, and what the import wrote next to the file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devtools import localaws
from tests.support.events import LambdaClock, s3_put_event

HEADER = "external_member_id,email,first_name,last_name,phone,points,expires_at"


def s3(aws: Any) -> Any:
    return localaws.client("s3", aws.endpoint)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def upload(aws: Any, key: str, text: str | bytes) -> dict[str, Any]:
    """Put the file and return the S3 event its upload sends."""
    body = text.encode() if isinstance(text, str) else text
    put = s3(aws).put_object(Bucket=aws.data_bucket, Key=key, Body=body)
    return s3_put_event(aws.data_bucket, key, etag=put["ETag"].strip('"'), size=len(body))


def invoke(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """app.import_members(event, context) as Lambda calls it."""
    import app as app_module

    result: dict[str, Any] = app_module.import_members(event, context or LambdaClock())
    return result


def written(aws: Any, key: str) -> dict[str, Any]:
    return json.loads(s3(aws).get_object(Bucket=aws.data_bucket, Key=key)["Body"].read())


def rejections(aws: Any, key: str) -> list[dict[str, Any]]:
    body = s3(aws).get_object(Bucket=aws.data_bucket, Key=key + ".rejections.jsonl")["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


@contextmanager
def batch_size(rows: int) -> Iterator[None]:
    """IMPORT_BATCH_SIZE for the duration (settings and services rebuilt around it)."""
    from chalicelib.container import reset_services
    from chalicelib.platform.config import reset_settings

    saved = os.environ.get("IMPORT_BATCH_SIZE")
    os.environ["IMPORT_BATCH_SIZE"] = str(rows)
    reset_settings()
    reset_services()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("IMPORT_BATCH_SIZE", None)
        else:
            os.environ["IMPORT_BATCH_SIZE"] = saved
        reset_settings()
        reset_services()
