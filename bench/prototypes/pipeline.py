"""Several statements in one network flight, and a unit of work made of as few flights as possible.

PostgreSQL's extended protocol processes Parse/Bind/Describe/Execute messages in order and answers
them all after one Sync, so a client may send BEGIN, a statement and even COMMIT back to back and
wait once (libpq's pipeline mode does the same). pg8000 sends one statement per Sync; `send` below
uses its message writers to put several in one flight, all on the unnamed statement and portal
(nothing named, so nothing for RDS Proxy to pin).

Two kinds of unit of work, chosen per operation (docs/performance.md, "Retrying a flight"):
- `Flights.single(statements)`: one flight without BEGIN. One statement is an implicit transaction
  (the server commits it at Sync or rolls it back on error). Sent only on a connection that looks
  alive (an idle connection with anything to read, or EOF, is replaced first); once sent it is never
  resent, because a lost reply would leave it unknown whether it committed.
- `Flights.begin(statements)` ... `finish(statements)`: the first flight starts with BEGIN, so if the
  pooled connection turns out to be dead the flight is resent once on a new connection (nothing can
  have committed); the last flight carries the final statements and COMMIT.
"""
from __future__ import annotations

import select
from dataclasses import dataclass
from typing import Any

from pg8000 import core as wire


@dataclass
class Result:
    columns: list[str]
    rows: list[list[Any]]
    row_count: int

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def one(self) -> dict[str, Any] | None:
        rows = self.dicts()
        return rows[0] if rows else None


def send(conn: Any, statements: list[tuple[str, dict[str, Any]]]) -> list[Result]:
    """All `statements` in one flight, one Sync; their results in order. A server error raises
    (pg8000's DatabaseError); the server skipped everything after the failing statement."""
    from bench.project import _compiled

    contexts = []
    for sql, params in statements:
        if params:
            statement, make_vals = _compiled(sql)
            values = make_vals(params)
        else:
            statement, values = sql, ()
        context = wire.Context(statement)
        contexts.append(context)
        conn.send_PARSE(wire.NULL_BYTE, statement, ())
        conn.send_BIND(wire.NULL_BYTE, wire.make_params(conn.py_types, values))
        conn._send_message(wire.DESCRIBE, wire.PORTAL + wire.NULL_BYTE)
        conn.send_EXECUTE()
    wire._write(conn._sock, wire.SYNC_MSG)
    wire._flush(conn._sock)
    index, code, error = 0, None, None
    last = len(contexts) - 1
    while code != wire.READY_FOR_QUERY:
        code, length = wire.ci_unpack(wire._read(conn._sock, 5))
        context = contexts[min(index, last)]
        conn.message_types[code](wire._read(conn._sock, length - 4), context)
        if code in (wire.COMMAND_COMPLETE, wire.EMPTY_QUERY_RESPONSE):
            index += 1
        elif code == wire.ERROR_RESPONSE and error is None:
            error = context.error
    if error is not None:
        raise error
    return [Result([c["name"] for c in (ctx.columns or [])], ctx.rows or [], ctx.row_count) for ctx in contexts]


def looks_dead(conn: Any) -> bool:
    """An idle connection has nothing to say: readable means EOF or a FATAL the server sent as it
    closed (idle timeout, failover, pg_terminate_backend). Either way, do not send on it."""
    sock = getattr(conn, "_usock", None)
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Flights:
    """One unit of work on a connection from the app's pool (chalicelib's Database)."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._conn: Any = None

    @property
    def started(self) -> bool:
        return self._conn is not None

    def _live_connection(self) -> tuple[Any, bool]:
        from bench.project import _close_quietly

        conn, reused = self._db._acquire()
        if reused and looks_dead(conn):
            _close_quietly(conn)
            return self._db._connect(), False
        return conn, reused

    def single(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Result]:
        """One flight, no BEGIN: an implicit transaction (atomic), never resent once sent."""
        from bench.project import DatabaseUnavailable, _close_quietly, _is_dead_connection

        conn, _ = self._live_connection()
        try:
            results = send(conn, statements)
        except Exception as exc:
            if _is_dead_connection(exc):
                _close_quietly(conn)
                raise DatabaseUnavailable() from exc
            self._db._release(conn)  # the implicit transaction ended at Sync: the connection is idle
            raise
        self._db._release(conn)
        return results

    def begin(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Result]:
        """BEGIN plus `statements` in the first flight; results of `statements`. Resent once on a new
        connection if the pooled one was dead (BEGIN first: nothing can have committed)."""
        from bench.project import DatabaseUnavailable, _close_quietly, _is_dead_connection

        flight = [("BEGIN", {}), *statements]
        conn, reused = self._live_connection()
        for attempt in (1, 2):
            try:
                results = send(conn, flight)
                break
            except Exception as exc:
                if _is_dead_connection(exc):
                    _close_quietly(conn)
                    if reused and attempt == 1:
                        conn, reused = self._db._connect(), False
                        continue
                    raise DatabaseUnavailable() from exc
                self._conn = conn
                self.abort()
                raise
        self._conn = conn
        return results[1:]

    def run(self, sql: str, params: dict[str, Any]) -> Result:
        """One more statement in its own flight, inside the open transaction."""
        return self._flight([(sql, params)])[0]

    def finish(self, statements: list[tuple[str, dict[str, Any]]] = (), commit: bool = True) -> list[Result]:  # type: ignore[assignment]
        """The last flight: `statements` and COMMIT (or ROLLBACK); the connection goes back to the pool."""
        results = self._flight([*statements, ("COMMIT" if commit else "ROLLBACK", {})])
        conn, self._conn = self._conn, None
        self._db._release(conn)
        return results[:-1]

    def abort(self) -> None:
        """ROLLBACK if a transaction is open (after an error the server waits for it)."""
        from bench.project import _close_quietly

        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute_simple("ROLLBACK")
        except Exception:
            _close_quietly(conn)
            return
        self._db._release(conn)

    def _flight(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Result]:
        from bench.project import DatabaseUnavailable, _close_quietly, _is_dead_connection

        assert self._conn is not None, "begin() first"
        try:
            return send(self._conn, statements)
        except Exception as exc:
            if _is_dead_connection(exc):
                _close_quietly(self._conn)
                self._conn = None
                raise DatabaseUnavailable() from exc
            self.abort()
            raise
