"""Integration tier: every test starts from empty tables plus the small test catalog."""

from __future__ import annotations

import pytest

from tests.support.fixtures import reset_database_state


@pytest.fixture(autouse=True)
def clean_database(environment: None) -> None:
    reset_database_state()
