"""The rules for text, in one place: the normal form of an email address, what a string may hold, and
what a time given as text may be.

One rule for every string that reaches us (body strings however nested, object keys, path segments,
query parameters, headers): valid Unicode that PostgreSQL can store, i.e. no NUL character and no lone
surrogate (JSON can spell one as "\\ud800"; it has no UTF-8 form). Breaking it is a 400, never a 500
from the database driver.
"""

from __future__ import annotations

from datetime import UTC, datetime

# ASCII white space: what every pattern of the OpenAPI document means by it (JSON Schema's `\s` and
# Python's disagree on control characters such as \x1d, so neither side uses `\s`).
WHITE = " \t\n\r\f\v"


def normalize_email(value: str) -> str:
    """The one normal form of an email address: trimmed, lower-cased. Every comparison uses it."""
    return value.strip(WHITE).lower()


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable text, or None when it is."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8 text (no lone surrogates)"
    return None


def valid_text(value: str) -> str:
    """The pydantic form of the rule (AfterValidator): raises ValueError with the reason."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# The older name, kept for the validators that use it.
no_nul = valid_text


def utc_instant(value: datetime) -> datetime:
    """An aware time as UTC. Raises ValueError for a naive one, and for one whose UTC instant falls outside
    Python's years 1-9999 (0001-01-01T00:00:00+03:04 is valid RFC 3339 text): the driver cannot send those,
    so they would otherwise be a 500."""
    if value.tzinfo is None:
        raise ValueError("needs a time zone (e.g. 2025-01-31T12:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 0001 to 9999 in UTC") from None
