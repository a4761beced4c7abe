"""Configuration: one validated settings object; a typo'd or impossible value fails loudly."""

from __future__ import annotations

import pytest

from chalicelib.platform.config import ConfigurationError, settings_from_env


def test_defaults_are_the_designs():
    settings = settings_from_env({})
    assert (settings.signup_bonus_points, settings.points_per_usd, settings.lot_lifetime_days) == (1000, 10, 365)
    assert (settings.silver_threshold, settings.gold_threshold) == (5_000, 20_000)


@pytest.mark.parametrize(
    "env",
    [
        {"DB_AUTH": "kerberos"},
        {"POINTS_PER_USD": "ten"},
        {"DATABASE_URL": "mysql://x"},
        {"SILVER_THRESHOLD": "30000"},
        {"XANADU_AUTH_MODE": "none"},
    ],
)
def test_invalid_configuration_is_refused(env):
    with pytest.raises(ConfigurationError):
        settings_from_env(env)


def test_empty_values_mean_the_default():
    assert settings_from_env({"POINTS_PER_USD": ""}).points_per_usd == 10
