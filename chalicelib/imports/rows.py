"""Reading an import file: physical lines with their byte offsets (so an import resumes at an exact
byte), the header, and one row's validation. Pure functions: no database, no S3.

The file is UTF-8 CSV (a BOM is allowed), one member per line, a header naming the columns:
    external_member_id, email, first_name, last_name, phone, points, expires_at
(external_member_id and email required; any order). A quoted field may hold commas but not a line
break: one line is one row, so a stray quote spoils one row, never the rest of the file.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..platform.text import normalize_email
from .models import ImportRow, Rejection

COLUMNS = ("external_member_id", "email", "first_name", "last_name", "phone", "points", "expires_at")
REQUIRED = ("external_member_id", "email")
MAX_LINE_BYTES = 4096
MAX_POINTS = 1_000_000_000
HASHED_PREFIX = "sha256:"

# The same address rule as the API's Email (platform/schemas.py); phone numbers as members store them.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"^\d{1,10}$")
_BOM = b"\xef\xbb\xbf"


class HeaderError(ValueError):
    """The first line does not name the columns we need: the whole file is refused."""


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based physical line number
    end: int  # byte offset just past this line: where the next one starts
    text: str | None  # None: not UTF-8, or longer than MAX_LINE_BYTES
    problem: str = ""


def hashed(external_member_id: str) -> str:
    """How an erased member's external id is kept (imported_members): 'sha256:<hex>'."""
    return HASHED_PREFIX + hashlib.sha256(external_member_id.encode()).hexdigest()


def lines(chunks: Iterable[bytes], *, start_offset: int = 0, start_line: int = 1) -> Iterator[Line]:
    """Split a byte stream into lines (\\n or \\r\\n), tracking where each ends. Memory stays bounded:
    of a line longer than MAX_LINE_BYTES only its length is kept."""
    offset, number = start_offset, start_line
    pending = b""
    overflow = 0  # bytes of an over-long line already dropped

    def make(raw: bytes, dropped: int) -> Line:
        nonlocal offset, number
        size = len(raw) + dropped
        offset += size
        line_number = number
        number += 1
        if offset - size == 0 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if dropped or size > MAX_LINE_BYTES:
            return Line(line_number, offset, None, f"line longer than {MAX_LINE_BYTES} bytes")
        try:
            text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            return Line(line_number, offset, None, "line is not UTF-8 text")
        return Line(line_number, offset, text)

    for chunk in chunks:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                tail = chunk[start:]
                if overflow or len(pending) + len(tail) > MAX_LINE_BYTES:
                    overflow += len(pending) + len(tail)
                    pending = b""
                else:
                    pending += tail
                break
            piece = chunk[start : newline + 1]
            if overflow:
                yield make(b"", overflow + len(pending) + len(piece))
                overflow = 0
            else:
                yield make(pending + piece, 0)
            pending = b""
            start = newline + 1
    if pending or overflow:
        yield make(pending, overflow)


def parse_header(text: str | None) -> list[str]:
    if text is None:
        raise HeaderError("the header line is not readable text")
    try:
        names = [name.strip().lower() for name in next(csv.reader([text], strict=True))]
    except (csv.Error, StopIteration) as exc:
        raise HeaderError(f"the header line is not CSV: {exc}") from None
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise HeaderError(f"unknown column(s) {', '.join(unknown)}; expected some of {', '.join(COLUMNS)}")
    if len(set(names)) != len(names):
        raise HeaderError("a column is named twice in the header")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise HeaderError(f"missing column(s) {', '.join(missing)}")
    return names


def parse_row(header: list[str], line: Line, *, now: datetime, default_expiry: datetime) -> ImportRow | Rejection:
    """One line as a member to import, or why not (the reason never repeats the row's data)."""
    if line.text is None:
        return Rejection(line.number, None, line.problem)
    try:
        fields = next(csv.reader([line.text], strict=True))
    except (csv.Error, StopIteration):
        return Rejection(line.number, None, "not a CSV row (an unclosed quote?)")
    values = dict(zip(header, (f.strip() for f in fields), strict=False))
    external_id = values.get("external_member_id", "")[:100] or None
    if len(fields) != len(header):
        return Rejection(line.number, external_id, f"expected {len(header)} fields, found {len(fields)}")
    problems: list[str] = []

    if not external_id or len(values["external_member_id"]) > 100 or _CONTROL.search(values["external_member_id"]):
        problems.append("external_member_id: 1-100 printable characters required")
    elif external_id.startswith(HASHED_PREFIX):
        problems.append(f"external_member_id: may not start with {HASHED_PREFIX}")
    email = normalize_email(values["email"])
    if len(email) > 320 or not _EMAIL.match(email) or _CONTROL.search(email):
        problems.append("email: not an email address")
    names = {}
    for column in ("first_name", "last_name"):
        value = values.get(column, "")
        if len(value) > 100 or _CONTROL.search(value):
            problems.append(f"{column}: at most 100 printable characters")
        names[column] = value
    phone = _PHONE_PUNCTUATION.sub("", values.get("phone", ""))
    if phone and not _E164.match(phone):
        problems.append("phone: not a phone number in E.164 form (+15555550100)")
    points_text = values.get("points", "") or "0"
    points = int(points_text) if _DIGITS.match(points_text) else -1
    if not 0 <= points <= MAX_POINTS:
        problems.append(f"points: a whole number from 0 to {MAX_POINTS}")
    expires_at = default_expiry
    expires_text = values.get("expires_at", "")
    if expires_text:
        parsed = _expiry(expires_text)
        if parsed is None:
            problems.append("expires_at: a date (2027-01-31) or a time with a zone (2027-01-31T12:00:00Z)")
        elif parsed <= now:
            problems.append("expires_at: already past")
        else:
            expires_at = parsed
    if problems:
        return Rejection(line.number, external_id, "; ".join(problems))
    assert external_id is not None
    return ImportRow(
        line=line.number,
        external_member_id=external_id,
        email=email,
        first_name=names["first_name"],
        last_name=names["last_name"],
        phone=phone,
        points=points,
        expires_at=expires_at,
    )


def _expiry(text: str) -> datetime | None:
    """A date means the points last through that (UTC) day; a time must say its zone."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None
