"""Keyset cursors: opaque, round-trip exactly, refuse anything forged."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.platform import paging
from chalicelib.platform.errors import ValidationFailed


def test_a_cursor_round_trips_the_last_rows_position():
    at, row_id = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4()
    assert paging.decode(paging.encode(at, row_id)) == (at, row_id)
    assert re.fullmatch(paging.CURSOR_PATTERN, paging.encode(at, row_id))


def test_every_cursor_the_documented_pattern_allows_names_a_position():
    """Issue 10 finding 6: the document's pattern and the parser agree, in both directions."""
    assert paging.decode("0-" + "0" * 32) == (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
    assert paging.decode("9" * 16 + "-" + "f" * 32) is not None
    assert paging.decode("") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        base64.urlsafe_b64encode(b"2030-01-01T00:00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(f"2030-01-01T00:00:00|{uuid.uuid4()}".encode()).decode(),
        "12-" + "0" * 31,
        "-" + "0" * 32,
        "1" * 17 + "-" + "0" * 32,
        "12-" + "0" * 32 + "\n",
    ],
)
def test_forged_cursors_are_400(cursor):
    with pytest.raises(ValidationFailed):
        paging.decode(cursor)


def test_a_page_is_trimmed_and_points_at_its_last_row():
    rows = [(datetime(2030, 1, 1, tzinfo=UTC), uuid.uuid4()) for _ in range(4)]
    page, cursor = paging.page(rows, 3, lambda r: r)
    assert page == rows[:3] and paging.decode(cursor) == rows[2]
    assert paging.page(rows, 4, lambda r: r) == (rows, None)


def test_the_sql_parameters_ask_for_one_row_more_than_the_page():
    assert paging.params(None, 20) == {"after_at": None, "after_id": None, "page_size": 21}
