"""Reading import files: lines keep exact byte offsets whatever the chunking (so a resumed import starts
at the very next line), the header names the columns, and each row's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.imports.models import ImportRow, Rejection
from chalicelib.imports.rows import MAX_LINE_BYTES, HeaderError, Line, hashed, lines, parse_header, parse_row

NOW = datetime(2030, 1, 1, tzinfo=UTC)
DEFAULT = NOW + timedelta(days=365)
HEADER = ["external_member_id", "email", "first_name", "last_name", "phone", "points", "expires_at"]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def row(text: str, header: list[str] = HEADER) -> ImportRow | Rejection:
    return parse_row(header, Line(7, 0, text), now=NOW, default_expiry=DEFAULT)


# -- lines and offsets ------------------------------------------------------------------------------
@given(
    st.lists(st.text(alphabet="ab,é\r", max_size=12), max_size=12),
    st.integers(min_value=1, max_value=9),
    st.booleans(),
)
def test_lines_and_their_offsets_do_not_depend_on_how_the_stream_is_chunked(texts, size, final_newline):
    data = "\n".join(texts).encode() + (b"\n" if final_newline and texts else b"")
    whole = list(lines([data]))
    assert list(lines(chunked(data, size))) == whole
    assert [line.number for line in whole] == list(range(1, len(whole) + 1))
    if whole:
        assert whole[-1].end == len(data)
    for line in whole:  # resuming at any line's end yields exactly the lines after it
        rest = list(lines([data[line.end :]], start_offset=line.end, start_line=line.number + 1))
        assert rest == [later for later in whole if later.number > line.number]


def test_crlf_bom_and_a_missing_final_newline():
    data = b"\xef\xbb\xbfexternal_member_id,email\r\n1,a@b.example\r\n2,c@d.example"
    found = list(lines(chunked(data, 4)))
    assert [line.text for line in found] == ["external_member_id,email", "1,a@b.example", "2,c@d.example"]
    assert [line.end for line in found] == [29, 44, len(data)]


def test_over_long_and_non_utf8_lines_are_marked_not_read_and_memory_stays_bounded():
    long_line = b"x" * (MAX_LINE_BYTES * 10)
    data = b"ok\n" + long_line + b"\n\xff\xfe\nafter\n"
    found = list(lines(chunked(data, 1000)))
    assert [line.text for line in found] == ["ok", None, None, "after"]
    assert "longer than" in found[1].problem and "UTF-8" in found[2].problem
    assert found[1].end == 3 + len(long_line) + 1 and found[-1].end == len(data)


# -- the header -----------------------------------------------------------------------------------
def test_the_header_names_columns_in_any_order_and_needs_id_and_email():
    assert parse_header(" Email , EXTERNAL_MEMBER_ID,points") == ["email", "external_member_id", "points"]
    with pytest.raises(HeaderError, match="missing"):
        parse_header("external_member_id,points")
    with pytest.raises(HeaderError, match="unknown"):
        parse_header("external_member_id,email,tier")
    with pytest.raises(HeaderError, match="twice"):
        parse_header("external_member_id,email,email")
    with pytest.raises(HeaderError):
        parse_header(None)


# -- rows -----------------------------------------------------------------------------------------
def test_a_valid_row_is_normalised():
    found = row(' X-1 , Ann@Example.COM ,"Ann, Jr.",Lee,+1 (202) 555-0101,42,2031-02-28')
    assert found == ImportRow(
        line=7,
        external_member_id="X-1",
        email="ann@example.com",
        first_name="Ann, Jr.",
        last_name="Lee",
        phone="+12025550101",
        points=42,
        expires_at=datetime(2031, 3, 1, tzinfo=UTC),  # a date: usable through that UTC day
    )


def test_optional_columns_default_to_nothing_zero_and_the_lot_lifetime():
    found = row("X-2,b@example.com", header=["external_member_id", "email"])
    assert isinstance(found, ImportRow)
    assert (found.first_name, found.phone, found.points, found.expires_at) == ("", "", 0, DEFAULT)
    assert isinstance(row("X-3,b@example.com,,,,,"), ImportRow)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (",a@b.example,,,,1,", "external_member_id"),
        ("sha256:abc,a@b.example,,,,1,", "may not start with"),
        ("X,not an email,,,,1,", "email"),
        ("X,a@b.example,,,,1.5,", "points"),
        ("X,a@b.example,,,,-1,", "points"),
        ("X,a@b.example,,,,99999999999,", "points"),
        ("X,a@b.example,,,123,1,", "phone"),
        ("X,a@b.example,,,,1,2029-12-31", "already past"),
        ("X,a@b.example,,,,1,2031-01-01T00:00:00", "expires_at"),
        ("X,a@b.example,,,,1,tomorrow", "expires_at"),
        ("X,a@b.example," + "n" * 101 + ",,,1,", "first_name"),
        ("X,a@b.example,,,,1", "expected 7 fields"),
        ('X,"a@b.example,,,,1,', "not a CSV row"),
    ],
)
def test_invalid_rows_say_what_is_wrong_without_repeating_the_data(text, reason):
    found = row(text)
    assert isinstance(found, Rejection) and found.line == 7
    assert reason in found.reason
    assert "a@b.example" not in found.reason


def test_several_problems_are_reported_together():
    found = row("X,nope,,,,x,never")
    assert isinstance(found, Rejection)
    assert "email" in found.reason and "points" in found.reason and "expires_at" in found.reason


def test_an_erased_members_external_id_is_kept_as_its_hash():
    assert hashed("A-1") == hashed("A-1") != hashed("A-2")
    assert hashed("A-1").startswith("sha256:") and "A-1" not in hashed("A-1")
