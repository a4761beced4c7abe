"""Round trips are latency (behind RDS Proxy each costs a millisecond or more): how many flights a
partner purchase sends, with and without promotions and a return window, counted on the wire helpers
every statement goes through (COMMIT included; BEGIN travels with the first statement). Before issue 12
a purchase took 10 (START, lock, repeat?, qualifying points, balance, ledger row, lot, purchase, outbox
event, COMMIT); the API key lookup of the HTTP request is one more (tests/integration/test_round_trips.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.points import T0, Loyalty, new_member
from tests.support.roundtrips import Flights


def purchase_statements(loyalty: Loyalty, member, ref: str, flights: Flights) -> int:
    flights.clear()
    loyalty.buy(member, ref, "10.00", at=T0)
    return len(flights)


@pytest.mark.parametrize("pending_days, expected", [(0, 4), (14, 3)])
def test_a_purchase_without_promotions(db, flights, pending_days, expected):
    """BEGIN + lock member + context (repeat, qualifying, first purchase, promotions) in one flight, [post
    the credits: ledger rows, lots, balance, tier], write purchase + credits + event, COMMIT."""
    loyalty = Loyalty(db, points_pending_days=pending_days)
    member = new_member(db, "trips@example.com")
    assert purchase_statements(loyalty, member, "RT-1", flights) == expected


@pytest.mark.parametrize("pending_days, expected", [(0, 4), (14, 3)])
def test_promotions_without_a_budget_add_no_round_trip(db, flights, pending_days, expected):
    loyalty = Loyalty(db, points_pending_days=pending_days)
    loyalty.promote(bonus_points=10, per_member_cap_points=1000)
    loyalty.promote(kind="MULTIPLIER", multiplier=Decimal("1.5"))
    member = new_member(db, "trips.promo@example.com")
    assert purchase_statements(loyalty, member, "RT-2", flights) == expected


@pytest.mark.parametrize("pending_days, expected", [(0, 5), (14, 4)])
def test_a_budgeted_promotion_adds_one_round_trip(db, flights, pending_days, expected):
    loyalty = Loyalty(db, points_pending_days=pending_days)
    loyalty.promote(bonus_points=10, budget_points=1000)
    loyalty.promote(bonus_points=20, budget_points=1000)  # two budgets: still one statement
    member = new_member(db, "trips.budget@example.com")
    assert purchase_statements(loyalty, member, "RT-3", flights) == expected


def test_a_repeat_replays_in_three_round_trips(db, flights):
    loyalty = Loyalty(db)
    member = new_member(db, "trips.repeat@example.com")
    loyalty.buy(member, "RT-4", "10.00", at=T0)
    assert purchase_statements(loyalty, member, "RT-4", flights) == 3  # BEGIN + lock + context, entry, COMMIT
