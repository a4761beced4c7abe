"""Versioned SQL migrations, applied in filename order and recorded in schema_migrations.

Lives in the deployed package so `GET /health` can tell whether the database is current; the
command that applies them is `python -m devtools.migrate` (or `make migrate`), and deployed stages
run them from the `apply_migrations` function on every deploy (chalicelib/migrations/deploy.py).
The runner also ensures the application's least-privilege role (chalicelib/migrations/roles.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..db import Database, Tx
from .roles import AppRoleSpec, ensure_app_role

MIGRATIONS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text()


def available() -> list[Migration]:
    return [Migration(p.stem, p) for p in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def _ensure_table(tx: Tx) -> None:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )


def _create_table_once(db: Database) -> None:
    """CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator (pg_type's unique index
    fails the loser): on a fresh database two racing deploys collide here, so the loser retries."""
    from ..db import UNIQUE_VIOLATION, sqlstate

    for attempt in (1, 2):
        try:
            with db.transaction() as tx:
                _ensure_table(tx)
            return
        except Exception as exc:
            if attempt == 2 or sqlstate(exc) not in (UNIQUE_VIOLATION, "42P07"):
                raise


def applied(tx: Tx) -> set[str]:
    exists = tx.fetch_value("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row["version"] for row in tx.fetch("SELECT version FROM schema_migrations")}


def pending(tx: Tx) -> list[str]:
    done = applied(tx)
    return [m.version for m in available() if m.version not in done]


def apply_all(db: Database, app_role: AppRoleSpec | None = None) -> list[str]:
    """Apply what is missing, each migration in its own transaction, then ensure the application role.

    Safe to run concurrently (two deploys racing): every step takes the same table lock first.
    `app_role` defaults to the settings' APP_DB_USER and time limits.
    """
    _create_table_once(db)
    done: list[str] = []
    for migration in available():
        with db.transaction() as tx:
            _ensure_table(tx)
            # A table lock instead of an advisory lock: concurrent runners queue here, then skip.
            tx.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            if tx.fetch_value("SELECT 1 FROM schema_migrations WHERE version = :v", v=migration.version):
                continue
            tx.run_script(migration.sql())
            tx.execute("INSERT INTO schema_migrations (version) VALUES (:v)", v=migration.version)
            done.append(migration.version)
    spec = app_role or AppRoleSpec.from_settings(db.settings)
    with db.transaction() as tx:
        _ensure_table(tx)
        tx.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
        ensure_app_role(tx, spec.name, limits=spec.limits, password=spec.password, iam_auth=spec.iam_auth)
    return done
