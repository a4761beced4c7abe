"""One validated settings object, built from the stage's environment on first use.

Nothing here runs at import time: Lambda cold start pays for settings only when a
request actually needs them.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator


class Settings(BaseModel):
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
    db_connect_timeout: float = 5.0
    db_statement_timeout_ms: int = 10_000

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

    order_events_queue_url: str | None = None
    order_events_dlq_url: str | None = None
    email_sender: str = "rewards@xanadu.example"
    email_mode: Literal["log", "ses"] = "log"

    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql://")
        return value

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
    "ORDER_EVENTS_QUEUE_URL": "order_events_queue_url",
    "ORDER_EVENTS_DLQ_URL": "order_events_dlq_url",
    "EMAIL_SENDER": "email_sender",
    "EMAIL_MODE": "email_mode",
    "LOG_LEVEL": "log_level",
}


class ConfigurationError(RuntimeError):
    """The stage's environment does not describe a runnable system."""


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {field: env[name] for name, field in _ENV.items() if env.get(name) not in (None, "")}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()


def reset_settings() -> None:
    """For tests and dev tools that change the environment after import."""
    get_settings.cache_clear()
