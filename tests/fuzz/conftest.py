"""The fuzzing tier (make fuzz, make fuzz-short): schemathesis over /openapi.json against the app served by
chalice local's own HTTP handler. Collected only when XANADU_FUZZ_SECONDS is set (the make targets set it),
so `make test` does not run it twice; tables are reset before each test like the integration tier."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.fixtures import reset_database_state

collect_ignore_glob = [] if os.environ.get("XANADU_FUZZ_SECONDS") else ["test_*.py"]


@pytest.fixture(autouse=True)
def clean_database(environment: None, owner_db: Any) -> None:
    reset_database_state(owner_db)
