"""Issue 8, point 1: the application connects as a least-privilege role the migration runner ensures."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pg8000.exceptions import DatabaseError

from chalicelib.platform.config import Settings
from chalicelib.platform.db import Database, sqlstate
from chalicelib.platform.migrations import apply_all, available
from chalicelib.platform.migrations.roles import AppRoleSpec, RoleLimits, table_privileges
from devtools.localdb import as_app_role


def test_the_app_connects_as_the_application_role(db):
    with db.reader() as tx:
        row = tx.fetch_one(
            "SELECT current_user AS who, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls"
            " FROM pg_roles r WHERE r.rolname = current_user"
        )
    assert row == {
        "who": "xanadu_app",
        "rolsuper": False,
        "rolcreatedb": False,
        "rolcreaterole": False,
        "rolbypassrls": False,
    }


def test_dml_on_app_tables_but_ledger_append_only_and_migrations_read_only(db):
    with db.reader() as tx:
        granted = table_privileges(tx, "xanadu_app")
    assert granted["members"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert granted["orders"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert granted["ledger_entries"] == {"SELECT", "INSERT"}
    assert granted["schema_migrations"] == {"SELECT"}
    assert all("TRUNCATE" not in p and "TRIGGER" not in p and "REFERENCES" not in p for p in granted.values())


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE sneaky (id int)",
        "ALTER TABLE members ADD COLUMN sneaky int",
        "DROP TABLE cart_items",
        "TRUNCATE members CASCADE",
        "UPDATE ledger_entries SET description = 'edited'",
        "DELETE FROM ledger_entries",
        "INSERT INTO schema_migrations (version) VALUES ('9999_fake')",
    ],
)
def test_no_ddl_no_ledger_edits_no_fake_migrations(db, statement):
    with pytest.raises(DatabaseError) as raised:
        with db.transaction() as tx:
            tx.execute(statement)
    assert sqlstate(raised.value) == "42501", statement  # insufficient_privilege, before any trigger


def test_role_settings_bound_statements_without_any_SET(db):
    with db.reader() as tx:
        settings = {
            r["name"]: r["setting"]
            for r in tx.fetch(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')"
            )
        }
    assert settings == {
        "statement_timeout": "10000",
        "lock_timeout": "5000",
        "idle_in_transaction_session_timeout": "30000",
    }


def test_tables_a_later_migration_creates_are_covered_by_default_privileges(db, owner_db):
    with owner_db.transaction() as tx:
        tx.execute("CREATE TABLE later_feature (id int PRIMARY KEY, note text)")
    try:
        with db.transaction() as tx:
            tx.execute("INSERT INTO later_feature VALUES (1, 'ok')")
            tx.execute("UPDATE later_feature SET note = 'still ok'")
            assert tx.fetch_value("SELECT note FROM later_feature") == "still ok"
    finally:
        with owner_db.transaction() as tx:
            tx.execute("DROP TABLE later_feature")


@pytest.fixture
def fresh_database(database_url: str) -> Any:
    """An empty database on the test server, owned by the superuser that runs migrations."""
    admin = Database(Settings(database_url=database_url.rsplit("/", 1)[0] + "/postgres"))
    name = "xanadu_roles_fresh"
    with admin.reader() as tx:
        tx.fetch(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        tx.fetch(f'CREATE DATABASE "{name}"')
    try:
        yield database_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.reader() as tx:
            tx.fetch(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_two_deploys_racing_both_succeed_and_apply_each_migration_once(fresh_database):
    spec = AppRoleSpec(name="xanadu_app_race", limits=RoleLimits(statement_timeout_ms=700))
    results: list[Any] = []

    def deploy() -> None:
        db = Database(Settings(database_url=fresh_database))
        try:
            results.append(apply_all(db, spec))
        except Exception as exc:
            results.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=deploy) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, list) for r in results), results
    applied = sorted(v for r in results for v in r)
    assert applied == sorted(m.version for m in available())  # each exactly once, across the racers

    app = Database(Settings(database_url=as_app_role(fresh_database, "xanadu_app_race")))
    try:
        with app.reader() as tx:
            assert tx.fetch_value("SHOW statement_timeout") == "700ms"
            assert tx.fetch_value("SELECT count(*) FROM products") == 0
        # The role's own statement_timeout (not a SET) ends a slow statement: our 503, not a 500.
        from chalicelib.platform.errors import DatabaseUnavailable

        with pytest.raises(DatabaseUnavailable):
            with app.reader() as tx:
                tx.fetch("SELECT pg_sleep(3)")
    finally:
        app.close()
