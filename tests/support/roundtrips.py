"""Counting database round trips (flights) on the wire helpers every statement goes through.

`db.run` sends one statement per flight (COMMIT and ROLLBACK included); `db.send` sends several in
one flight (a transaction's BEGIN with its first statement). Each call is one network round trip.
The benchmark (bench/pgrelay.py) counts the same thing on the socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Flights:
    statements: list[list[str]] = field(default_factory=list)  # per flight, the first words of each statement

    def clear(self) -> None:
        self.statements.clear()

    def __len__(self) -> int:
        return len(self.statements)


@pytest.fixture
def flights(monkeypatch: pytest.MonkeyPatch) -> Flights:
    """Round trips sent while the test counts. The outbox relay that runs after a commit is switched off
    (OUTBOX_PUBLISH_AFTER_COMMIT's business, not the operation's)."""
    from chalicelib.events import publishing
    from chalicelib.platform import db as db_module

    counted = Flights()
    real_run, real_send = db_module.run, db_module.send

    def words(sql: str) -> str:
        return " ".join(sql.split()[:2])

    def run(conn: Any, sql: str, params: dict[str, Any]) -> Any:
        counted.statements.append([words(sql)])
        return real_run(conn, sql, params)

    def send(conn: Any, statements: list[tuple[str, dict[str, Any]]]) -> Any:
        counted.statements.append([words(sql) for sql, _ in statements])
        return real_send(conn, statements)

    monkeypatch.setattr(db_module, "run", run)
    monkeypatch.setattr(db_module, "send", send)
    monkeypatch.setattr(publishing, "_publisher", None)
    monkeypatch.setattr(publishing, "set_publisher", lambda publish: None)  # services built while counting
    return counted
