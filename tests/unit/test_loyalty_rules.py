"""The rules of returns, pending points and promotions that need no database: cumulative rounding,
which promotions a purchase earns (conditions, caps, budgets, stacking), multiplier input, settings."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.platform.config import ConfigurationError, settings_from_env
from chalicelib.points.models import RunningPromotion
from chalicelib.points.promotion_policy import PurchaseFacts, full_points, offers
from chalicelib.points.promotion_schemas import parse_multiplier
from chalicelib.points.returns import points_owed


# -- cumulative rounding -------------------------------------------------------------------------------
@given(
    points=st.integers(0, 1_000_000),
    cents=st.integers(1, 10_000_000),
    cuts=st.lists(st.integers(1, 10_000_000), min_size=1, max_size=12),
)
def test_partial_returns_never_take_more_and_a_full_return_takes_exactly_what_was_earned(points, cents, cuts):
    amount = Decimal(cents) / 100
    returned, taken = 0, 0
    for cut in cuts:
        step = min(cut, cents - returned)
        if step <= 0:
            break
        returned += step
        owed = points_owed(points, amount, Decimal(returned) / 100) - taken
        assert owed >= 0  # cumulative: never negative, so never a give-back
        taken += owed
        assert taken <= points
    if returned == cents:
        assert taken == points


def test_points_owed_is_floor_of_the_proportion():
    assert points_owed(99, Decimal("9.99"), Decimal("3.33")) == 33
    assert points_owed(100, Decimal("10.00"), Decimal("9.99")) == 99
    assert points_owed(100, Decimal("10.00"), Decimal("10.00")) == 100
    assert points_owed(10, Decimal("1.01"), Decimal("0.50")) == 4  # 4.95


# -- promotions ----------------------------------------------------------------------------------------
def promo(n: int, **fields) -> RunningPromotion:
    values = {
        "id": UUID(int=n),
        "name": f"p{n}",
        "kind": "BONUS",
        "multiplier": None,
        "bonus_points": 10,
        "store_ids": None,
        "tiers": None,
        "min_amount_usd": None,
        "first_purchase_only": False,
        "stacking": "STACKABLE",
        "cap_left": None,
        "budget_left": None,
        "budgeted": False,
    }
    values.update(fields)
    return RunningPromotion(**values)


FACTS = PurchaseFacts(amount_usd=Decimal("20.00"), store_id="S-1", tier="SILVER", first_purchase=False, base_points=250)


def chosen(running, facts=FACTS):
    return [(o.promotion.name, o.points) for o in offers(running, facts)]


def test_multiplier_pays_the_extra_over_base_rounded_down():
    assert full_points(promo(1, kind="MULTIPLIER", multiplier=Decimal("2.0"), bonus_points=None), 250) == 250
    assert full_points(promo(1, kind="MULTIPLIER", multiplier=Decimal("1.333"), bonus_points=None), 77) == 25
    assert full_points(promo(1, kind="MULTIPLIER", multiplier=Decimal("1.5"), bonus_points=None), 0) == 0


@pytest.mark.parametrize(
    "condition, holds",
    [
        ({"store_ids": ["S-1", "S-2"]}, True),
        ({"store_ids": ["S-2"]}, False),
        ({"tiers": ["SILVER"]}, True),
        ({"tiers": ["GOLD"]}, False),
        ({"min_amount_usd": Decimal("20.00")}, True),
        ({"min_amount_usd": Decimal("20.01")}, False),
        ({"first_purchase_only": True}, False),
    ],
)
def test_every_condition_must_hold(condition, holds):
    assert chosen([promo(1, **condition)]) == ([("p1", 10)] if holds else [])


def test_a_purchase_without_a_store_never_meets_a_store_condition():
    facts = PurchaseFacts(Decimal("1.00"), None, "BRONZE", True, 10)
    assert chosen([promo(1, store_ids=["S-1"]), promo(2, first_purchase_only=True)], facts) == [("p2", 10)]


def test_caps_and_budget_estimates_cut_the_offer_and_an_exhausted_one_drops_out():
    assert chosen([promo(1, cap_left=4)]) == [("p1", 4)]
    assert chosen([promo(1, budget_left=3, budgeted=True)]) == [("p1", 3)]
    assert chosen([promo(1, cap_left=0), promo(2, budget_left=0, budgeted=True)]) == []


def test_stacking_best_exclusive_only_when_it_pays_strictly_more():
    ex = promo(1, bonus_points=30, stacking="EXCLUSIVE")
    ex_big = promo(2, bonus_points=31, stacking="EXCLUSIVE")
    ex_tie = promo(3, bonus_points=31, stacking="EXCLUSIVE")
    st1, st2 = promo(4, bonus_points=15), promo(5, bonus_points=15)
    assert chosen([ex, st1, st2]) == [("p4", 15), ("p5", 15)]  # 30 vs 30: the stackables
    assert chosen([ex, ex_big, st1, st2]) == [("p2", 31)]
    assert chosen([ex_tie, ex_big]) == [("p2", 31)]  # equal exclusives: the lowest id
    assert chosen([ex]) == [("p1", 30)]
    assert chosen([st1, st2]) == [("p4", 15), ("p5", 15)]


@pytest.mark.parametrize(
    "value, parsed",
    [("2.0", Decimal("2.000")), (2, Decimal("2.000")), (1.25, Decimal("1.250")), ("10", Decimal("10.000"))],
)
def test_multipliers_are_exact_decimals(value, parsed):
    assert parse_multiplier(value) == parsed


@pytest.mark.parametrize("value", ["1", "1.0", "0.5", "10.001", "2.0001", True, "NaN", "Infinity", "x", [2]])
def test_bad_multipliers_are_refused(value):
    with pytest.raises(ValueError):
        parse_multiplier(value)


# -- settings ------------------------------------------------------------------------------------------
def test_loyalty_settings_defaults_and_environment():
    defaults = settings_from_env({})
    assert (defaults.points_pending_days, defaults.return_policy, defaults.vesting_batch_size) == (
        14,
        "within_balance",
        5000,
    )
    configured = settings_from_env({"POINTS_PENDING_DAYS": "0", "RETURN_POLICY": "block", "VESTING_BATCH_SIZE": "10"})
    assert (configured.points_pending_days, configured.return_policy, configured.vesting_batch_size) == (
        0,
        "block",
        10,
    )


@pytest.mark.parametrize("env", [{"RETURN_POLICY": "sometimes"}, {"POINTS_PENDING_DAYS": "-1"}])
def test_invalid_loyalty_settings_are_refused(env):
    with pytest.raises(ConfigurationError):
        settings_from_env(env)
