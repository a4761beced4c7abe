"""Is this stage's configuration one that can work? `GET /health` reports the answer.

Why: a deployed stage with, say, no EMAIL_SENDER starts, serves requests and silently fails every
member email (SES `MessageRejected`). Misconfiguration should be visible the first time anyone
looks, so /health turns 503 with the list of problems, without revealing any value.
"""

from __future__ import annotations

from .config import Settings

# Stages that run on a developer's machine or in CI; everything else is deployed.
LOCAL_STAGES = frozenset({"local", "test", "bench"})
PLACEHOLDER = "REPLACE"


def is_deployed(settings: Settings) -> bool:
    return settings.stage not in LOCAL_STAGES


def configuration_problems(settings: Settings) -> list[str]:
    """Human-readable problems (names of settings, never their values); empty when all is well."""
    problems: list[str] = []
    for name, value in settings.model_dump().items():
        if isinstance(value, str) and PLACEHOLDER in value:
            problems.append(f"{name.upper()} still holds a {PLACEHOLDER}-… placeholder")
    if settings.db_auth == "secret" and not settings.db_secret_id:
        problems.append("DB_AUTH=secret needs DB_SECRET_ID")
    if settings.email_mode == "ses" and not settings.email_sender:
        problems.append("EMAIL_SENDER is required when EMAIL_MODE=ses (a sender verified in SES)")
    if not is_deployed(settings):
        return problems
    if settings.email_mode != "ses":
        problems.append("EMAIL_MODE must be ses in deployed stages")
    if not settings.email_sender:
        problems.append("EMAIL_SENDER is required in deployed stages")
    if settings.auth_mode != "cognito":
        problems.append("XANADU_AUTH_MODE must be cognito in deployed stages")
    if settings.aws_endpoint_url:
        problems.append("AWS_ENDPOINT_URL must not be set in deployed stages")
    if not settings.order_events_queue_url:
        problems.append("ORDER_EVENTS_QUEUE_URL is required in deployed stages")
    if settings.database_url is None and not settings.db_host:
        problems.append("DB_HOST (or DATABASE_URL) is required")
    return problems
