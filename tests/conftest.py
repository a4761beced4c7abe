"""The suite's root: the repository on sys.path, the app in verify mode, and the shared fixtures.

Tiers: tests/unit (no database, no emulator; seconds), tests/integration (real PostgreSQL and the AWS
emulator), tests/e2e (the whole `make run` stack in a subprocess). Fixtures live in tests/support.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The app reads this at import to decide whether API Gateway's authorizer is in front of it.
os.environ.setdefault("XANADU_AUTH_MODE", "verify")

pytest_plugins = ["tests.support.fixtures"]
