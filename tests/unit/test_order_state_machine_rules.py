"""The order state machine's rule table (DESIGN §3), cell by cell, without a database.

EXPECTED is written out by hand from the design (not derived from lifecycle.TRANSITIONS), so a wrong
entry in the implementation's table fails here; the integration tier replays it against PostgreSQL.
"""

from __future__ import annotations

import pytest

from chalicelib.orders import lifecycle
from chalicelib.orders.lifecycle import Action, decide, parse_status
from chalicelib.platform.errors import ValidationFailed
from tests.support.order_rules import EXPECTED

CASES = [(status, action) for status in EXPECTED for action in EXPECTED[status]]


def test_the_table_covers_every_status_and_action():
    assert set(EXPECTED) == set(lifecycle.STATUSES)
    assert all(set(row) == {a.value for a in Action} for row in EXPECTED.values())


@pytest.mark.parametrize("status, action", CASES)
def test_decide_matches_the_specification(status, action):
    expected = EXPECTED[status][action]
    got = decide(status, Action(action))
    assert got == {"no-op": "noop", "409": "illegal"}.get(expected, "apply")
    if got == "apply":
        assert lifecycle.TRANSITIONS[status][Action(action)] == expected


def test_refunding_and_terminal_statuses_are_the_designs():
    assert {"CANCELLED", "FAILED"} == lifecycle.REFUNDING
    assert {"DELIVERED", "CANCELLED", "FAILED"} == lifecycle.TERMINAL


@pytest.mark.parametrize("raw, parsed", [(None, None), ("", None), ("PENDING", "PENDING"), ("PACKED", "PACKED")])
def test_status_filters_are_the_documented_values(raw, parsed):
    assert parse_status(raw) == parsed


@pytest.mark.parametrize("raw", ["SHIPPED", "pending", " PACKED "])
def test_a_status_filter_the_document_does_not_list_is_a_validation_error(raw):
    """The OpenAPI document's enum is the rule (issue 10 finding 6: accept exactly what it allows)."""
    with pytest.raises(ValidationFailed):
        parse_status(raw)
