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
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from .text import no_nul, normalize_email


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ISO-8601 UTC with a trailing Z, as the frontend contract says.
UtcTimestamp = Annotated[datetime, PlainSerializer(_utc_text, return_type=str, when_used="json")]


def _body_schema(schema: dict[str, Any], model: type[Any]) -> None:
    """The OpenAPI document says what the validators enforce (the API accepts exactly what it allows)."""
    properties = schema.get("properties", {})
    for name, field in getattr(model, "model_fields", {}).items():
        # pydantic leaves a pattern out of the schema of an optional Text (str | None): put it back.
        pattern = next((m.pattern for m in field.metadata if getattr(m, "pattern", None)), None)
        prop = properties.get(field.alias or name, {})
        for branch in [prop, *prop.get("anyOf", [])]:
            if pattern and branch.get("type") == "string":
                branch.setdefault("pattern", pattern)
    for name in getattr(model, "NOT_NULL", ()):
        prop = properties[name]
        choices = [c for c in prop.pop("anyOf", []) if c.get("type") != "null"]
        if len(choices) == 1:
            prop.update(choices[0])
        elif choices:
            prop["anyOf"] = choices
        prop.pop("default", None)
    schema.update(getattr(model, "SCHEMA_EXTRA", {}))


class Body(BaseModel):
    """Request bodies: unknown fields are refused so typos surface as 400s, not silent defaults.

    NOT_NULL names optional fields that may be left out but not sent as null; SCHEMA_EXTRA adds the
    JSON Schema of cross-field rules (e.g. "exactly one of"), so the document states them too.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True, json_schema_extra=_body_schema)
    NOT_NULL: ClassVar[tuple[str, ...]] = ()
    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="after")
    def _not_null(self) -> Any:
        for name in self.NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Out(BaseModel):
    """Response bodies, built from typed rows (dataclasses) by attribute."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)


class ErrorBody(Out):
    error: str
    code: str
    details: list[dict[str, Any]] = []


Text = Annotated[str, AfterValidator(no_nul)]

_W = r"[ \t\n\r\f\v]"  # text.WHITE as a character class
_EMAIL = re.compile(rf"^[^@{_W[1:-1]}]+@[^@{_W[1:-1]}]+\.[^@{_W[1:-1]}]+$")
# What the document says an email is: the same rule, surrounding white space allowed (it is trimmed).
EMAIL_PATTERN = rf"^{_W}*[^@{_W[1:-1]}]+@[^@{_W[1:-1]}]+\.[^@{_W[1:-1]}]+{_W}*$"


def _email(value: str) -> str:
    value = normalize_email(no_nul(value))
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


Email = Annotated[
    str, AfterValidator(_email), WithJsonSchema({"type": "string", "pattern": EMAIL_PATTERN, "maxLength": 320})
]


CENT = Decimal("0.01")
# Hard ceiling of the money columns (numeric(12,2)); business maxima are checked by the services.
AMOUNT_CEILING = Decimal("9999999999.99")
# A numeric string: digits, at most 2 decimals, surrounding white space allowed (the document says so too).
USD_STRING_PATTERN = r"^[ \t\n\r\f\v]*(?=[0-9.]*[1-9])[0-9]{1,10}(\.[0-9]{1,2})?[ \t\n\r\f\v]*$"
_USD_STRING = re.compile(USD_STRING_PATTERN)
# A JSON number is a binary float: 0.57 may arrive as 0.5700000000000001. Within this of a cent, it is that cent.
_FLOAT_TOLERANCE = Decimal("1e-9")


def parse_usd(value: object) -> Decimal:
    """JSON numbers or numeric strings (USD_STRING_PATTERN) with at most 2 decimals; never a bool, NaN or
    infinity. The most specific reason is given first; any other string is refused at the end."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("must be a number of US dollars, like 19.99")
    text = value if isinstance(value, str) else None
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
    cents = amount.quantize(CENT)
    if abs(amount - cents) >= _FLOAT_TOLERANCE or (text is not None and amount != cents):
        raise ValueError("must have at most 2 decimal places")
    if cents <= 0:
        raise ValueError("must be greater than 0")
    if text is not None and not _USD_STRING.fullmatch(text):
        raise ValueError("must be a number of US dollars, like 19.99")
    return cents


def usd_schema(schema: dict[str, Any]) -> None:
    """OpenAPI for a USD amount: a JSON number, or a numeric string (both > 0, at most 2 decimals)."""
    schema.pop("anyOf", None)
    schema.pop("type", None)
    schema.update(
        anyOf=[
            {"type": "number", "exclusiveMinimum": 0, "maximum": float(AMOUNT_CEILING), "multipleOf": 0.01},
            {"type": "string", "pattern": USD_STRING_PATTERN},
        ],
        description="US dollars, more than 0, at most 2 decimals: a JSON number or a numeric string; a purchase "
        "above the stage's MAX_PURCHASE_USD (100000.00 by default) is a 400",
    )
