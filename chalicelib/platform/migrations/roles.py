"""The application's database role, ensured by the migration runner (issue 8, point 1).

Why: the deployed functions connect as a least-privilege role (`xanadu_app` by default) while
migrations run as the role that owns the schema. Nothing else creates that role or grants it
anything, so the runner does it on every run, idempotently, right after the migrations:

- LOGIN, nothing else (no superuser, no CREATEDB/CREATEROLE, no replication, no RLS bypass);
- CONNECT on the database, USAGE (never CREATE) on the schema: no DDL;
- DML on the application's tables, USAGE/SELECT on sequences, and default privileges so tables
  a future migration creates are covered without touching this file;
- exceptions that make invariants hold even against a bug in the app: `ledger_entries` is
  append-only (SELECT, INSERT) and `schema_migrations` is read-only (GET /health reads it);
- server-side time limits as role settings (`statement_timeout`, `lock_timeout`,
  `idle_in_transaction_session_timeout`): the server applies them when a session starts, so the
  app never sends `SET`, which would pin an RDS Proxy session.

Roles are cluster-wide; everything else here is per database, so several databases on one
server (tests, benchmarks) share the role and each gets its grants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Settings
from ..db import Tx

DEFAULT_APP_ROLE = "xanadu_app"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Tables on which the application gets less than full DML.
RESTRICTED_TABLES: dict[str, tuple[str, ...]] = {
    "schema_migrations": ("SELECT",),
    "ledger_entries": ("SELECT", "INSERT"),
}


@dataclass(frozen=True)
class RoleLimits:
    """Server-side limits for every session of the application role (milliseconds)."""

    statement_timeout_ms: int = 10_000
    lock_timeout_ms: int = 5_000
    idle_in_transaction_timeout_ms: int = 30_000


@dataclass(frozen=True)
class AppRoleSpec:
    """Which role to ensure and how; `password` only when the stage authenticates with a secret."""

    name: str = DEFAULT_APP_ROLE
    limits: RoleLimits = RoleLimits()
    password: str | None = None
    iam_auth: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, password: str | None = None) -> AppRoleSpec:
        return cls(
            name=settings.app_db_user,
            limits=RoleLimits(
                settings.db_statement_timeout_ms,
                settings.db_lock_timeout_ms,
                settings.db_idle_in_transaction_timeout_ms,
            ),
            password=password,
            iam_auth=settings.app_db_auth == "iam",
        )


def valid_role_name(name: str) -> str:
    """Role names are interpolated into DDL (it takes no parameters), so only plain identifiers pass."""
    if not _ROLE_NAME.match(name):
        raise ValueError(f"not a plain PostgreSQL role name: {name!r}")
    return name


def ensure_app_role(
    tx: Tx, role: str, *, limits: RoleLimits = RoleLimits(), password: str | None = None, iam_auth: bool = False
) -> None:
    """Create the application role if missing and (re)apply its grants and limits; safe to repeat.

    Call it inside the migration runner's transaction after its table lock, so two deploys racing
    here queue instead of colliding on CREATE ROLE.
    """
    role = valid_role_name(role)
    if tx.fetch_value("SELECT 1 FROM pg_roles WHERE rolname = :r", r=role) is None:
        tx.run_script(f'CREATE ROLE "{role}" LOGIN')
    tx.run_script(
        f'ALTER ROLE "{role}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;'
        f'ALTER ROLE "{role}" SET statement_timeout = {int(limits.statement_timeout_ms)};'
        f'ALTER ROLE "{role}" SET lock_timeout = {int(limits.lock_timeout_ms)};'
        f'ALTER ROLE "{role}" SET idle_in_transaction_session_timeout = {int(limits.idle_in_transaction_timeout_ms)};'
    )
    database = tx.fetch_value("SELECT current_database()")
    grant = tx.fetch_value(
        "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :d::text, :r::text)", d=database, r=role
    )
    tx.run_script(grant)
    tx.run_script(
        f'GRANT USAGE ON SCHEMA public TO "{role}";'
        f'REVOKE CREATE ON SCHEMA public FROM "{role}";'
        f'GRANT {", ".join(DML)} ON ALL TABLES IN SCHEMA public TO "{role}";'
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}";'
        # Tables and sequences that later migrations create (as the role running them) are covered too.
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {", ".join(DML)} ON TABLES TO "{role}";'
        f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}";'
    )
    for table, allowed in RESTRICTED_TABLES.items():
        if tx.fetch_value("SELECT to_regclass(:t::text) IS NOT NULL", t=f"public.{table}"):
            revoked = [p for p in DML if p not in allowed]
            tx.run_script(f'REVOKE {", ".join(revoked)} ON public."{table}" FROM "{role}"')
    if password:
        # format(%L) quotes the literal server-side; the password never appears in our logs.
        alter = tx.fetch_value("SELECT format('ALTER ROLE %I PASSWORD %L', :r::text, :p::text)", r=role, p=password)
        tx.run_script(alter)
    if iam_auth and tx.fetch_value("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'"):
        tx.run_script(f'GRANT rds_iam TO "{role}"')


def table_privileges(tx: Tx, role: str) -> dict[str, set[str]]:
    """What `role` may do on each table of the schema (for tests and the deploy check)."""
    rows = tx.fetch(
        "SELECT c.relname AS table_name, p.privilege AS privilege"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
        " unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS p(privilege)"
        " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        " AND has_table_privilege(:r, c.oid, p.privilege)",
        r=role,
    )
    result: dict[str, set[str]] = {}
    for row in rows:
        result.setdefault(row["table_name"], set()).add(row["privilege"])
    return result
