"""Apply pending migrations to the database the environment points at (DATABASE_URL or DB_*)."""
from __future__ import annotations

import sys

from chalicelib.platform.db import Database
from chalicelib.platform.config import settings_from_env
from chalicelib.platform.migrations import apply_all


def main() -> int:
    db = Database(settings_from_env())
    try:
        applied = apply_all(db)
    finally:
        db.close()
    print("applied: " + (", ".join(applied) if applied else "nothing (database is current)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
