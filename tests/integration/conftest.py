"""Integration tier: every test starts from empty tables plus the small test catalog."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import reset_database_state


@pytest.fixture(autouse=True)
def clean_database(environment: None, owner_db: Any) -> None:
    reset_database_state(owner_db)
