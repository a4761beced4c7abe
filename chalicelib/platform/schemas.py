"""Building blocks of HTTP bodies shared by every domain: base models, timestamps, text, money, email.

HTTP body models live in each domain's `schemas.py` and are used only at the edge (routes, OpenAPI);
repositories and services work with the typed rows of `models.py`. Models are built lazily
(`defer_build`), so a cold start pays only for the models the first request touches.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

from .text import no_nul, normalize_email


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ISO-8601 UTC with a trailing Z, as the frontend contract says.
UtcTimestamp = Annotated[datetime, PlainSerializer(_utc_text, return_type=str, when_used="json")]


class Body(BaseModel):
    """Request bodies: unknown fields are refused so typos surface as 400s, not silent defaults."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Out(BaseModel):
    """Response bodies, built from typed rows (dataclasses) by attribute."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)


class ErrorBody(Out):
    error: str
    code: str
    details: list[dict[str, Any]] = []


Text = Annotated[str, AfterValidator(no_nul)]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = normalize_email(no_nul(value))
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


Email = Annotated[str, AfterValidator(_email)]

CENT = Decimal("0.01")
# Hard ceiling of the money columns (numeric(12,2)); business maxima are checked by the services.
AMOUNT_CEILING = Decimal("9999999999.99")


def parse_usd(value: object) -> Decimal:
    """JSON numbers or numeric strings with at most 2 decimals; never a bool, NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("must be a number of US dollars, like 19.99")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        value = repr(value)  # the shortest decimal that round-trips: what the client wrote
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number of US dollars, like 19.99") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if amount > AMOUNT_CEILING:
        raise ValueError(f"must be at most {AMOUNT_CEILING}")
    if amount != amount.quantize(CENT):
        raise ValueError("must have at most 2 decimal places")
    return amount.quantize(CENT)


def usd_schema(schema: dict[str, Any]) -> None:
    """OpenAPI for a USD amount: a JSON number (strings are accepted too, as documented)."""
    schema.pop("anyOf", None)
    schema.update(
        type="number",
        exclusiveMinimum=0,
        multipleOf=0.01,
        description="US dollars, at most 2 decimals (a JSON number or a numeric string)",
    )
