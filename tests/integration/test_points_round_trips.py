"""Round trips are latency (behind RDS Proxy each costs a millisecond or more): how many statements a
partner purchase sends, with and without promotions and a return window, counted on the wire helper
every statement goes through (plus the COMMIT). Before issue 12 a purchase took 10 (START, lock, repeat?,
qualifying points, balance, ledger row, lot, purchase, outbox event, COMMIT)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.points import T0, Loyalty, new_member


@pytest.fixture
def statements(monkeypatch):
    """The first words of every statement sent while the test counts (the purchase's own transaction:
    the outbox relay that runs after the commit is switched off, OUTBOX_PUBLISH_AFTER_COMMIT's business)."""
    from chalicelib.platform import db as db_module

    sent: list[str] = []
    real = db_module.run

    def counting(conn, sql, params):
        sent.append(" ".join(sql.split()[:2]))
        return real(conn, sql, params)

    monkeypatch.setattr(db_module, "run", counting)
    return sent


def purchase_statements(loyalty: Loyalty, member, ref: str, statements: list[str]) -> int:
    from chalicelib.events import outbox

    outbox.set_publisher(None)  # (the container installs it again after the next reset)
    statements.clear()
    loyalty.buy(member, ref, "10.00", at=T0)
    return len(statements) + 1  # + COMMIT


@pytest.mark.parametrize("pending_days, expected", [(0, 6), (14, 5)])
def test_a_purchase_without_promotions(db, statements, pending_days, expected):
    """START, lock member, context (repeat, qualifying, first purchase, promotions), [post the credits:
    ledger rows, lots, balance, tier], write purchase + credits + event, COMMIT."""
    loyalty = Loyalty(db, points_pending_days=pending_days)
    member = new_member(db, "trips@example.com")
    assert purchase_statements(loyalty, member, "RT-1", statements) == expected


@pytest.mark.parametrize("pending_days, expected", [(0, 6), (14, 5)])
def test_promotions_without_a_budget_add_no_round_trip(db, statements, pending_days, expected):
    loyalty = Loyalty(db, points_pending_days=pending_days)
    loyalty.promote(bonus_points=10, per_member_cap_points=1000)
    loyalty.promote(kind="MULTIPLIER", multiplier=Decimal("1.5"))
    member = new_member(db, "trips.promo@example.com")
    assert purchase_statements(loyalty, member, "RT-2", statements) == expected


@pytest.mark.parametrize("pending_days, expected", [(0, 7), (14, 6)])
def test_a_budgeted_promotion_adds_one_round_trip(db, statements, pending_days, expected):
    loyalty = Loyalty(db, points_pending_days=pending_days)
    loyalty.promote(bonus_points=10, budget_points=1000)
    loyalty.promote(bonus_points=20, budget_points=1000)  # two budgets: still one statement
    member = new_member(db, "trips.budget@example.com")
    assert purchase_statements(loyalty, member, "RT-3", statements) == expected


def test_a_repeat_replays_in_four_round_trips(db, statements):
    loyalty = Loyalty(db)
    member = new_member(db, "trips.repeat@example.com")
    loyalty.buy(member, "RT-4", "10.00", at=T0)
    assert purchase_statements(loyalty, member, "RT-4", statements) == 5  # START, lock, context, entry, COMMIT
