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
from functools import lru_cache

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


@lru_cache(maxsize=16)
def _positions(header: tuple[str, ...]) -> tuple[int, ...]:
    """Where each of COLUMNS is in the header (-1: absent), computed once per header."""
    return tuple(header.index(name) if name in header else -1 for name in COLUMNS)


def parse_row(header: list[str], line: Line, *, now: datetime, default_expiry: datetime) -> ImportRow | Rejection:
    """One line as a member to import, or why not (the reason never repeats the row's data).

    The hot path of a million-row import: a line without quotes is split directly; the csv module
    only reads lines that quote a field."""
    text = line.text
    if text is None:
        return Rejection(line.number, None, line.problem)
    if '"' in text:
        try:
            fields = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            return Rejection(line.number, None, "not a CSV row (an unclosed quote?)")
    else:
        fields = text.split(",")
    at = _positions(tuple(header))
    raw_id = fields[at[0]].strip() if at[0] < len(fields) else ""
    external_id = raw_id[:100] or None
    if len(fields) != len(header):
        return Rejection(line.number, external_id, f"expected {len(header)} fields, found {len(fields)}")
    if _CONTROL.search(text):
        return Rejection(line.number, external_id, "the line holds control characters")
    first_name, last_name, phone, points_text, expires_text = (fields[i].strip() if i >= 0 else "" for i in at[2:])
    problems: list[str] = []
    if not raw_id or len(raw_id) > 100:
        problems.append("external_member_id: 1-100 characters required")
    elif raw_id.startswith(HASHED_PREFIX):
        problems.append(f"external_member_id: may not start with {HASHED_PREFIX}")
    email = normalize_email(fields[at[1]])
    if len(email) > 320 or not _EMAIL.match(email):
        problems.append("email: not an email address")
    if len(first_name) > 100:
        problems.append("first_name: at most 100 characters")
    if len(last_name) > 100:
        problems.append("last_name: at most 100 characters")
    if phone:
        phone = _PHONE_PUNCTUATION.sub("", phone)
        if not _E164.match(phone):
            problems.append("phone: not a phone number in E.164 form (+15555550100)")
    points = int(points_text) if points_text and _DIGITS.match(points_text) else (0 if not points_text else -1)
    if not 0 <= points <= MAX_POINTS:
        problems.append(f"points: a whole number from 0 to {MAX_POINTS}")
    expires_at = default_expiry
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
    return ImportRow(
        line=line.number,
        external_member_id=raw_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        points=points,
        expires_at=expires_at,
    )


@lru_cache(maxsize=4096)
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
