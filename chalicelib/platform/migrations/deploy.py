"""The `apply_migrations` function: pending migrations and the application role, on every deploy.

Why a function in the app rather than a step on someone's laptop: the database sits in private
subnets that only the functions reach, and a deploy whose code expects a column the database lacks
must fail before it serves traffic. The template (infra/) invokes this function through a
CloudFormation custom resource whose properties change with every package, so every deploy runs it;
the other functions depend on that resource, so new code goes live only after its migrations.
It can also be invoked by hand (`aws lambda invoke --function-name <ApplyMigrations> out.json`).

Idempotent and safe when two deploys race: apply_all serialises on a table lock and skips what is
applied. A stack deletion never touches the database (the custom resource just reports success).
It runs as the migrator (DB_USER/DB_SECRET_ID of this function), never as the application role.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Mapping
from typing import Any

from ..config import Settings
from ..logs import get_logger

log = get_logger(__name__)

PHYSICAL_RESOURCE_ID = "xanadu-database-migrations"
# CloudFormation limits a custom resource response to 4 KB; the reason is the part that can grow.
_MAX_REASON = 1000


def _app_role_password(settings: Settings) -> str | None:
    """The application role's password, when the stage authenticates it with a Secrets Manager secret."""
    if settings.app_db_auth != "secret":
        return None
    if not settings.app_db_secret_id:
        raise ValueError("APP_DB_AUTH=secret needs APP_DB_SECRET_ID")
    from .. import aws  # the platform's boto3 clients (timeouts, bounded retries)

    client = aws.client("secretsmanager", settings, aws.IN_BACKGROUND)
    secret = json.loads(client.get_secret_value(SecretId=settings.app_db_secret_id)["SecretString"])
    return str(secret["password"])


def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations and ensure the application role; returns the versions applied."""
    from ..db import Database
    from . import apply_all
    from .roles import AppRoleSpec

    db = Database(settings, max_idle=1)
    try:
        return apply_all(db, AppRoleSpec.from_settings(settings, password=_app_role_password(settings)))
    finally:
        db.close()


def handle(event: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Entry point for both a CloudFormation custom resource event and a direct invocation."""
    custom_resource = "RequestType" in event and "ResponseURL" in event
    if custom_resource and event["RequestType"] == "Delete":
        # Removing the stack (or this resource) must never touch members' data.
        _respond(event, "SUCCESS", "Nothing to do on delete.", {})
        return {"status": "SUCCESS", "applied": []}
    started = time.monotonic()
    try:
        applied = migrate(settings)
    except Exception as exc:
        log.exception("migrations failed")
        if not custom_resource:
            raise
        _respond(event, "FAILED", f"Migrations failed: {type(exc).__name__}: {exc}", {})
        return {"status": "FAILED", "applied": []}
    result = {"status": "SUCCESS", "applied": applied, "seconds": round(time.monotonic() - started, 3)}
    log.info("migrations applied", extra={"applied": applied})
    if custom_resource:
        _respond(
            event,
            "SUCCESS",
            "Applied: " + (", ".join(applied) or "nothing (database is current)"),
            {"Applied": ",".join(applied) or "none"},
        )
    return result


def _respond(event: Mapping[str, Any], status: str, reason: str, data: dict[str, str], attempts: int = 3) -> None:
    """PUT the outcome to the pre-signed URL CloudFormation gave us (it waits up to an hour otherwise)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:_MAX_REASON],
            "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    # The pre-signed S3 URL is signed without a content type: send none.
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (CloudFormation's URL)
                response.read()
            return
        except Exception as exc:
            log.warning("custom resource response failed", extra={"attempt": attempt, "error": str(exc)})
            if attempt == attempts:
                raise
            time.sleep(attempt)
