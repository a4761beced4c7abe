"""The earning and tier rules (DESIGN §3): exact decimal maths, rounding down, tier boundaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.platform.config import Settings
from chalicelib.points.tier_policy import TierPolicy

POLICY = TierPolicy.of(Settings())


@pytest.mark.parametrize(
    "qualifying, tier", [(0, "BRONZE"), (4_999, "BRONZE"), (5_000, "SILVER"), (19_999, "SILVER"), (20_000, "GOLD")]
)
def test_tiers_start_at_their_thresholds(qualifying, tier):
    assert POLICY.tier_for(qualifying) == tier


@pytest.mark.parametrize(
    "qualifying, next_tier",
    [(0, ("SILVER", 5_000)), (4_999, ("SILVER", 1)), (5_000, ("GOLD", 15_000)), (20_000, (None, None))],
)
def test_next_tier_and_what_is_missing(qualifying, next_tier):
    assert POLICY.next_tier(qualifying) == next_tier


@pytest.mark.parametrize(
    "amount, tier, points",
    [
        ("0.01", "BRONZE", 0),  # 0.1 point rounds down to nothing
        ("0.10", "BRONZE", 1),
        ("19.99", "BRONZE", 199),
        ("19.99", "SILVER", 249),  # 249.875
        ("19.99", "GOLD", 299),  # 299.85
        ("0.07", "SILVER", 0),  # 0.875
        ("100000.00", "GOLD", 1_500_000),
    ],
)
def test_points_are_floored_in_exact_decimal(amount, tier, points):
    assert POLICY.points_for(Decimal(amount), tier) == points


def test_every_cent_floors_exactly():
    """Binary floats get some of these wrong (0.29 * 10 * 1.25 = 3.6249999...); Decimal gets all right."""
    for cents in range(1, 5_000):
        amount = Decimal(cents) / 100
        expected = (amount * 10 * Decimal("1.25")) // 1
        assert POLICY.points_for(amount, "SILVER") == int(expected)


def test_the_sql_tier_expression_is_generated_from_the_same_thresholds():
    sql = POLICY.sql_tier("q")
    assert "WHEN q >= :tier_gold THEN 'GOLD'" in sql and "WHEN q >= :tier_silver THEN 'SILVER'" in sql
    assert POLICY.sql_params() == {"tier_gold": 20_000, "tier_silver": 5_000, "tier_window_days": 365}


def test_rules_are_configurable_per_stage():
    policy = TierPolicy.of(Settings(points_per_usd=3, silver_threshold=10, silver_multiplier=Decimal("2.5")))
    assert policy.points_for(Decimal("9.99"), "BRONZE") == 29
    assert policy.points_for(Decimal("9.99"), "SILVER") == 74
    assert policy.tier_for(10) == "SILVER"
