"""Integration tier: every test starts from empty tables plus the small test catalog."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import reset_database_state
from tests.support.roundtrips import flights  # noqa: F401  (a fixture: round trips counted on the wire helpers)


@pytest.fixture(autouse=True)
def clean_database(environment: None, owner_db: Any) -> None:
    reset_database_state(owner_db)
