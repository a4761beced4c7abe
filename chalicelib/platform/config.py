"""One validated settings object, built from the stage's environment on first use.

Nothing here runs at import time: Lambda cold start pays for settings only when a
request actually needs them.

`Settings` is a plain class checked by the few rules below (types from the annotations, bounds from
`Field(...)`, rules across settings in `_check`), not a pydantic model or a dataclass: every request
needs the database settings, importing pydantic costs about half of a bare Chalice app's cold start,
and generating a 55-field frozen dataclass another ~6 ms (docs/benchmarks.md, "Cold start"). `Field`
takes the bounds pydantic's did (ge, gt, le, lt, decimal_places), so a setting is declared as before.
"""

from __future__ import annotations

import math
import operator
import os
import types
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin


class _Setting:
    __slots__ = ("bounds", "default")

    def __init__(self, default: Any, bounds: dict[str, Any]) -> None:
        self.default = default
        self.bounds = bounds


def Field(  # noqa: N802 - pydantic's spelling, so settings read (and merge) as they always did
    default: Any = None,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    decimal_places: int | None = None,
) -> Any:
    """A setting's default and the bounds its value must keep."""
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt, "decimal_places": decimal_places}
    return _Setting(default, {k: v for k, v in bounds.items() if v is not None})


class Settings:
    stage: str = "local"
    # Database: either a full URL (local, tests, any server) or host parts + an auth mode.
    database_url: str | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "xanadu"
    db_user: str = "xanadu"
    # password: DATABASE_URL carries it; secret: Secrets Manager; iam: RDS IAM auth token.
    db_auth: Literal["password", "secret", "iam"] = "password"
    db_secret_id: str | None = None
    # TLS is required for every non-loopback host; None means the system trust store
    # (RDS Proxy presents an ACM certificate chained to Amazon's public roots).
    db_ca_file: str | None = None
    # Time budget (issue 8): connect (TCP + TLS + startup) within this many seconds, per attempt.
    db_connect_timeout: float = Field(default=3.0, gt=0, le=10)
    # Applied by the server as settings of the application role (chalicelib/migrations/roles.py),
    # never with SET (which would pin an RDS Proxy session); the client waits this long plus a margin.
    db_statement_timeout_ms: int = Field(default=10_000, ge=100, le=600_000)
    db_lock_timeout_ms: int = Field(default=5_000, ge=0, le=600_000)
    db_idle_in_transaction_timeout_ms: int = Field(default=30_000, ge=0, le=3_600_000)
    # The least-privilege role the functions connect as; the migration runner ensures it.
    app_db_user: str = "xanadu_app"
    # How that role signs in when deployed: `iam` grants it rds_iam; `secret` sets its password from
    # APP_DB_SECRET_ID (read by the apply_migrations function); `password`: nothing to do (local).
    app_db_auth: Literal["password", "secret", "iam"] = "password"
    app_db_secret_id: str | None = None

    aws_region: str = "us-east-1"
    # Only set locally/in tests: where moto server emulates AWS.
    aws_endpoint_url: str | None = None

    # verify: the app checks ID tokens itself (chalice local, tests).
    # cognito: API Gateway's Cognito authorizer already did; the app reads its claims.
    auth_mode: Literal["verify", "cognito"] = "cognito"
    cognito_user_pool_id: str = ""
    cognito_client_id: str = ""
    # Defaults to Cognito's public JWKS; locally it is moto server's.
    cognito_jwks_url: str | None = None
    admin_group: str = "admin"

    signup_bonus_points: int = Field(default=1000, ge=0)
    points_per_usd: int = Field(default=10, ge=0)
    lot_lifetime_days: int = Field(default=365, ge=1)
    max_body_bytes: int = 1_048_576
    cart_line_max_quantity: int = Field(default=100, ge=1)

    # -- points: earning, tiers, expiry (docs/points.md) --
    # Qualifying points = EARN points credited in the trailing `tier_window_days`.
    silver_threshold: int = Field(default=5_000, ge=1)
    gold_threshold: int = Field(default=20_000, ge=1)
    tier_window_days: int = Field(default=365, ge=1)
    bronze_multiplier: Decimal = Field(default=Decimal("1.0"), gt=0, le=10, decimal_places=3)
    silver_multiplier: Decimal = Field(default=Decimal("1.25"), gt=0, le=10, decimal_places=3)
    gold_multiplier: Decimal = Field(default=Decimal("1.5"), gt=0, le=10, decimal_places=3)
    max_purchase_usd: Decimal = Field(default=Decimal("100000.00"), gt=0, decimal_places=2)
    # Lots per expiry batch (one transaction each); members per batch for the other points jobs.
    # 10,000: each batch revisits lot pages spread over the whole table, so fewer batches cost less I/O
    # (1,000,000 lots: 1.00x one set-based statement vs 1.36x at 5,000); a batch holds its members ~1.4 s.
    expiry_batch_size: int = Field(default=10_000, ge=1, le=100_000)
    points_job_batch_size: int = Field(default=1_000, ge=1, le=100_000)
    expiry_notice_days: int = Field(default=30, ge=1)
    # -- returns, pending points, promotions (docs/points.md sections 10-13) --
    # Purchase points vest (become spendable) this many days after the purchase; 0 credits them at once.
    points_pending_days: int = Field(default=14, ge=0, le=365)
    # A return whose points the member already spent: take what is there and record the rest as
    # uncollected (within_balance), or refuse the return with 409 RETURN_WOULD_OVERDRAW (block).
    return_policy: Literal["within_balance", "block"] = "within_balance"
    # Pending credits per vesting transaction.
    vesting_batch_size: int = Field(default=5_000, ge=1, le=100_000)

    order_events_queue_url: str | None = None
    order_events_dlq_url: str | None = None
    # Orders (docs/orders.md). Must equal the queue's RedrivePolicy maxReceiveCount: on the last
    # receive a still-failing fulfilment call gives up and the order becomes FAILED.
    order_events_max_receives: int = Field(default=3, ge=1)
    # "report": return {"batchItemFailures": [...]} (the event source mapping has
    # ReportBatchItemFailures, as infra/merge-template.yml declares). "raise": delete the records
    # that succeeded, then raise so the failed ones come back; correct with or without it.
    sqs_batch_response: Literal["report", "raise"] = "raise"
    # Try to relay outbox events right after the transaction that wrote them commits (one SQS call
    # on the response path); off: only the every-minute relay_outbox schedule publishes them.
    outbox_publish_after_commit: bool = True
    # Fulfilment partner called to confirm an order; None confirms without a call.
    fulfilment_url: str | None = None
    fulfilment_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    fulfilment_max_attempts: int = Field(default=3, ge=1, le=10)
    reservation_hold_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Liveness (DESIGN promise 9, orders/recovery.py): an order still PENDING this long after it was placed
    # has its OrderCreated event re-sent (again every as long); one still PENDING after the second bound is
    # FAILED (points refunded, stock restored). With the job every 5 minutes, every order is CONFIRMED or
    # final within ORDER_FAIL_AFTER_SECONDS + 5 minutes, even if a message is lost.
    order_resend_after_seconds: int = Field(default=300, ge=10, le=24 * 3600)
    order_fail_after_seconds: int = Field(default=3600, ge=20, le=7 * 24 * 3600)
    # Required in deployed stages (SES rejects mail without a verified sender); GET /health says so.
    email_sender: str | None = None
    email_mode: Literal["log", "ses"] = "log"
    # EMAIL_MODE=log: the folder messages are written to (one .eml file each); default <tmp>/xanadu-email-outbox.
    email_outbox_dir: str | None = None

    # -- operator tools (docs/operator-tools.md) --
    # The stage's bucket: import files under imports/, the event archive under events/.
    data_bucket: str | None = None
    # Rows per committed import batch (one transaction each).
    import_batch_size: int = Field(default=5_000, ge=1, le=50_000)
    # Events stay in the database this many days, and leave only once their day is in the archive.
    event_retention_days: int = Field(default=90, ge=1, le=3_650)

    log_level: str = "INFO"

    def __init__(self, **values: Any) -> None:
        fields = _fields()
        problems = [f"{name}: unknown setting" for name in values if name not in fields]
        for name, (kind, default, bounds) in fields.items():
            try:
                value = _checked(kind, values.get(name, default), bounds)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
            else:
                object.__setattr__(self, name, value)
        if not problems:
            problems = self._check()
        if problems:
            raise ConfigurationError("invalid configuration: " + "; ".join(problems))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are immutable: use model_copy(update={...})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash(tuple(self.model_dump().items()))

    def __repr__(self) -> str:  # names only: values include the database password
        return f"Settings(stage={self.stage!r}, ...)"

    def _check(self) -> list[str]:
        """Rules across settings."""
        problems = []
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            problems.append("DATABASE_URL must start with postgresql://")
        if self.gold_threshold <= self.silver_threshold:
            problems.append("GOLD_THRESHOLD must be greater than SILVER_THRESHOLD")
        if self.order_fail_after_seconds <= self.order_resend_after_seconds:
            problems.append("ORDER_FAIL_AFTER_SECONDS must be greater than ORDER_RESEND_AFTER_SECONDS")
        return problems

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Settings:
        """These settings with some values changed (checked again); pydantic's name, which tests and tools use."""
        return Settings(**{**self.model_dump(), **(update or {})})

    def model_dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _fields()}

    @property
    def cognito_issuer(self) -> str:
        return f"https://cognito-idp.{self.aws_region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"


# Environment variable -> settings field. Explicit, so a typo in config.json is visible here.
_ENV = {
    "STAGE": "stage",
    "DATABASE_URL": "database_url",
    "DB_HOST": "db_host",
    "DB_PORT": "db_port",
    "DB_NAME": "db_name",
    "DB_USER": "db_user",
    "DB_AUTH": "db_auth",
    "DB_SECRET_ID": "db_secret_id",
    "DB_CA_FILE": "db_ca_file",
    "DB_CONNECT_TIMEOUT": "db_connect_timeout",
    "DB_STATEMENT_TIMEOUT_MS": "db_statement_timeout_ms",
    "DB_LOCK_TIMEOUT_MS": "db_lock_timeout_ms",
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "db_idle_in_transaction_timeout_ms",
    "APP_DB_USER": "app_db_user",
    "APP_DB_AUTH": "app_db_auth",
    "APP_DB_SECRET_ID": "app_db_secret_id",
    "AWS_REGION": "aws_region",
    "AWS_ENDPOINT_URL": "aws_endpoint_url",
    "XANADU_AUTH_MODE": "auth_mode",
    "COGNITO_USER_POOL_ID": "cognito_user_pool_id",
    "COGNITO_CLIENT_ID": "cognito_client_id",
    "COGNITO_JWKS_URL": "cognito_jwks_url",
    "ADMIN_GROUP": "admin_group",
    "SIGNUP_BONUS_POINTS": "signup_bonus_points",
    "POINTS_PER_USD": "points_per_usd",
    "LOT_LIFETIME_DAYS": "lot_lifetime_days",
    "MAX_BODY_BYTES": "max_body_bytes",
    "CART_LINE_MAX_QUANTITY": "cart_line_max_quantity",
    "SILVER_THRESHOLD": "silver_threshold",
    "GOLD_THRESHOLD": "gold_threshold",
    "TIER_WINDOW_DAYS": "tier_window_days",
    "BRONZE_MULTIPLIER": "bronze_multiplier",
    "SILVER_MULTIPLIER": "silver_multiplier",
    "GOLD_MULTIPLIER": "gold_multiplier",
    "MAX_PURCHASE_USD": "max_purchase_usd",
    "EXPIRY_BATCH_SIZE": "expiry_batch_size",
    "POINTS_JOB_BATCH_SIZE": "points_job_batch_size",
    "EXPIRY_NOTICE_DAYS": "expiry_notice_days",
    "POINTS_PENDING_DAYS": "points_pending_days",
    "RETURN_POLICY": "return_policy",
    "VESTING_BATCH_SIZE": "vesting_batch_size",
    "ORDER_EVENTS_QUEUE_URL": "order_events_queue_url",
    "ORDER_EVENTS_DLQ_URL": "order_events_dlq_url",
    "ORDER_EVENTS_MAX_RECEIVES": "order_events_max_receives",
    "SQS_BATCH_RESPONSE": "sqs_batch_response",
    "OUTBOX_PUBLISH_AFTER_COMMIT": "outbox_publish_after_commit",
    "FULFILMENT_URL": "fulfilment_url",
    "FULFILMENT_TIMEOUT_SECONDS": "fulfilment_timeout_seconds",
    "FULFILMENT_MAX_ATTEMPTS": "fulfilment_max_attempts",
    "RESERVATION_HOLD_MINUTES": "reservation_hold_minutes",
    "ORDER_RESEND_AFTER_SECONDS": "order_resend_after_seconds",
    "ORDER_FAIL_AFTER_SECONDS": "order_fail_after_seconds",
    "EMAIL_SENDER": "email_sender",
    "EMAIL_MODE": "email_mode",
    "EMAIL_OUTBOX_DIR": "email_outbox_dir",
    "DATA_BUCKET": "data_bucket",
    "IMPORT_BATCH_SIZE": "import_batch_size",
    "EVENT_RETENTION_DAYS": "event_retention_days",
    "LOG_LEVEL": "log_level",
}


class ConfigurationError(RuntimeError):
    """The stage's environment does not describe a runnable system."""


@lru_cache(maxsize=1)
def _fields() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """name -> (type, default, bounds), from the class body (annotations are text: evaluated once each)."""
    kinds: dict[str, Any] = {}
    fields = {}
    for name, annotation in Settings.__annotations__.items():
        if annotation not in kinds:
            kinds[annotation] = eval(annotation, globals())  # noqa: S307 - our own annotations, not input
        declared = Settings.__dict__.get(name)
        if isinstance(declared, _Setting):
            fields[name] = (kinds[annotation], declared.default, declared.bounds)
        else:
            fields[name] = (kinds[annotation], declared, {})
    return fields


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _checked(kind: Any, value: Any, bounds: dict[str, Any]) -> Any:
    """`value` as the annotated type (environment values arrive as text), within its bounds."""
    if get_origin(kind) in (Union, types.UnionType):
        options = [k for k in get_args(kind) if k is not type(None)]
        if value is None and len(options) < len(get_args(kind)):
            return None
        if len(options) != 1:
            raise TypeError(f"a setting is one type or None, not {kind}")
        kind = options[0]
    if get_origin(kind) is not Literal and kind not in (str, bool, int, float, Decimal):
        # Settings is not pydantic: a new kind of setting needs its rule here (and a test).
        raise TypeError(f"settings of type {kind} are not supported by config._checked")
    if value is None:
        raise ValueError("is required")
    if get_origin(kind) is Literal:
        if value not in get_args(kind):
            raise ValueError(f"must be one of {', '.join(map(str, get_args(kind)))}, not {value!r}")
        return value
    text = value.strip() if isinstance(value, str) else None
    if kind is str:
        if text is None:
            raise ValueError("must be text")
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"must be true or false, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"must be a number, not {value!r}")
    number: int | float | Decimal
    try:
        if kind is int:
            number = int(text) if text is not None else int(value)
            if number != Decimal(str(value).strip()):
                raise ValueError
        elif kind is float:
            number = float(value)
        else:
            number = Decimal(str(value).strip())
    except (ValueError, ArithmeticError, InvalidOperation):
        raise ValueError(f"must be {'an integer' if kind is int else 'a number'}, not {value!r}") from None
    if not math.isfinite(number):
        raise ValueError("must be finite")
    _check_bounds(number, bounds)
    return number


_BOUNDS = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}  # operator.ge etc.


def _check_bounds(number: int | float | Decimal, bounds: dict[str, Any]) -> None:
    for key, words in _BOUNDS.items():
        bound = bounds.get(key)
        if bound is not None and not getattr(operator, key)(number, bound):
            raise ValueError(f"must be {words} {bound}")
    places = bounds.get("decimal_places")
    if places is not None and isinstance(number, Decimal):
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ValueError(f"must have at most {places} decimal places")


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {field: env[name] for name, field in _ENV.items() if env.get(name) not in (None, "")}
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()


def reset_settings() -> None:
    """For tests and dev tools that change the environment after import."""
    get_settings.cache_clear()
