"""The database layer: pg8000 connections, transactions, and failure mapping.

Why it looks like this:
- A warm Lambda reuses its connection; a dropped one is replaced once, transparently, but only
  when nothing can have committed: a transaction's first flight carries its BEGIN, and a read is
  safe to repeat. A `single()` statement (its own implicit transaction) is never resent; a pooled
  connection is checked before it is sent instead (docs/performance.md, "Retrying a flight").
- Round trips are latency (behind RDS Proxy each costs a millisecond or more): BEGIN travels with a
  transaction's first statement, and a money operation is one SQL function call (migration 0011).
- RDS Proxy multiplexes sessions, so nothing here pins one: no SET, no named prepared
  statements (pg8000.native `run` uses the unnamed statement), no advisory locks, no temp tables.
- chalice local serves each request on its own thread; a small idle pool keeps that cheap while a
  Lambda container (one thread) ends up with exactly one connection.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.native
from pg8000 import core as _wire
from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import to_statement

from . import deadline
from .config import Settings, get_settings
from .errors import DatabaseUnavailable, DomainError
from .logs import get_logger

log = get_logger(__name__)
R = TypeVar("R")

_LOOPBACK = {"localhost", "127.0.0.1", "::1", ""}
# SQLSTATE classes meaning "this connection is gone": 08 connection exception, 57P0x shutdown/terminated.
_DEAD_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
QUERY_CANCELED = "57014"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a server error, or None for anything else."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return exc.args[0].get("C")
    return None


def constraint_name(exc: BaseException) -> str | None:
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return exc.args[0].get("n")
    return None


def _is_dead_connection(exc: BaseException) -> bool:
    if isinstance(exc, (InterfaceError, OSError, socket.timeout)):
        return True
    state = sqlstate(exc)
    return state is not None and state.startswith(_DEAD_CONNECTION_STATES)


@dataclass(frozen=True)
class ConnectParams:
    host: str | None
    port: int
    database: str
    user: str
    password: str | None
    unix_sock: str | None
    tls: bool


def connect_params(settings: Settings) -> ConnectParams:
    """Where and how to connect, from either DATABASE_URL or the DB_* settings."""
    if settings.database_url:
        url = urlparse(settings.database_url)
        query = parse_qs(url.query)
        host = unquote(url.hostname or "") or None
        unix_sock = None
        if "host" in query and query["host"][0].startswith("/"):
            unix_sock = f"{query['host'][0]}/.s.PGSQL.{url.port or 5432}"
            host = None
        sslmode = query.get("sslmode", ["prefer-default"])[0]
        tls = (host not in _LOOPBACK and unix_sock is None and sslmode != "disable") or sslmode in (
            "require",
            "verify-full",
        )
        return ConnectParams(
            host=host,
            port=url.port or 5432,
            database=unquote(url.path.lstrip("/")) or "postgres",
            user=unquote(url.username or "postgres"),
            password=unquote(url.password) if url.password is not None else None,
            unix_sock=unix_sock,
            tls=tls,
        )
    if not settings.db_host:
        raise DatabaseUnavailable("No database configured (set DATABASE_URL or DB_HOST).")
    return ConnectParams(
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
        user=settings.db_user,
        password=None,
        unix_sock=None,
        tls=settings.db_host not in _LOOPBACK,
    )


class CredentialSource:
    """Passwords for deployed stages: Secrets Manager (cached) or a fresh RDS IAM token."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._secret: dict[str, Any] | None = None

    def password(self, params: ConnectParams, refresh: bool = False) -> tuple[str, str | None]:
        mode = self._settings.db_auth
        if mode == "password":
            return params.user, params.password
        from . import aws  # deferred: only deployed stages pay for boto3

        if mode == "secret":
            if self._secret is None or refresh:
                client = aws.client("secretsmanager", self._settings)
                raw = client.get_secret_value(SecretId=self._settings.db_secret_id)["SecretString"]
                self._secret = json.loads(raw)
            return self._secret.get("username", params.user), self._secret.get("password")
        client = aws.client("rds", self._settings)  # signs locally: no network call
        token = client.generate_db_auth_token(
            DBHostname=params.host, Port=params.port, DBUsername=params.user, Region=self._settings.aws_region
        )
        return params.user, token


READ_TIMEOUT_MARGIN_S = 2.0


def _read_timeout_of(conn: pg8000.native.Connection) -> float:
    return getattr(conn, "_xanadu_read_timeout", 30.0)


@lru_cache(maxsize=1024)
def _compiled(sql: str) -> tuple[str, Any]:
    """pg8000 rewrites :named parameters in pure Python on every call; our SQL is a fixed set of strings."""
    statement, make_vals = to_statement(sql)
    return str(statement), make_vals


def run(conn: pg8000.native.Connection, sql: str, params: dict[str, Any]) -> Any:
    """One statement in one network round trip, on the unnamed statement (nothing to pin a proxy session).

    pg8000's own `run` spends three round trips per parameterised statement (Parse+Sync,
    Describe+Sync, Bind+Execute+Sync). The extended protocol allows Parse, Bind, Describe(portal),
    Execute and one Sync in a single flight; the server still infers parameter types exactly as
    before (no oids are sent). This relies on pg8000's wire helpers, which is why pg8000 is pinned.
    """
    left = deadline.remaining()
    if left is not None:
        if left <= 0:
            raise DatabaseUnavailable("The request ran out of time waiting for the database.")
        conn._usock.settimeout(min(left, _read_timeout_of(conn)))
    try:
        return _run(conn, sql, params)
    except DatabaseError as exc:
        if sqlstate(exc) == QUERY_CANCELED:  # the role's statement_timeout fired: too slow is unavailable
            raise DatabaseUnavailable("The database did not answer in time.") from exc
        raise


def _run(conn: pg8000.native.Connection, sql: str, params: dict[str, Any]) -> Any:
    if not params:
        context = conn.execute_simple(sql)
    else:
        statement, make_vals = _compiled(sql)
        context = _wire.Context(statement)
        conn.send_PARSE(_wire.NULL_BYTE, statement, ())
        conn.send_BIND(_wire.NULL_BYTE, _wire.make_params(conn.py_types, make_vals(params)))
        conn._send_message(_wire.DESCRIBE, _wire.PORTAL + _wire.NULL_BYTE)
        conn.send_EXECUTE()
        _wire._write(conn._sock, _wire.SYNC_MSG)
        _wire._flush(conn._sock)
        conn.handle_messages(context)
    conn._context = context
    return context


def send(conn: pg8000.native.Connection, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Several statements in one flight: Parse/Bind/Describe/Execute each, then one Sync, all on the
    unnamed statement and portal (nothing named for a proxy to pin). Their contexts, in order. A
    server error raises once everything up to the Sync is read (the server skipped the rest)."""
    left = deadline.remaining()
    if left is not None:
        if left <= 0:
            raise DatabaseUnavailable("The request ran out of time waiting for the database.")
        conn._usock.settimeout(min(left, _read_timeout_of(conn)))
    contexts = []
    for sql, params in statements:
        statement, make_vals = _compiled(sql) if params else (sql, None)
        context = _wire.Context(statement)
        contexts.append(context)
        conn.send_PARSE(_wire.NULL_BYTE, statement, ())
        conn.send_BIND(_wire.NULL_BYTE, _wire.make_params(conn.py_types, make_vals(params) if make_vals else ()))
        conn._send_message(_wire.DESCRIBE, _wire.PORTAL + _wire.NULL_BYTE)
        conn.send_EXECUTE()
    _wire._write(conn._sock, _wire.SYNC_MSG)
    _wire._flush(conn._sock)
    index, code, error = 0, None, None
    last = len(contexts) - 1
    while code != _wire.READY_FOR_QUERY:
        code, length = _wire.ci_unpack(_wire._read(conn._sock, 5))
        context = contexts[min(index, last)]
        conn.message_types[code](_wire._read(conn._sock, length - 4), context)
        if code in (_wire.COMMAND_COMPLETE, _wire.EMPTY_QUERY_RESPONSE):
            index += 1
        elif code == _wire.ERROR_RESPONSE and error is None:
            error = context.error
    conn._context = contexts[last]
    if error is not None:
        if sqlstate(error) == QUERY_CANCELED:
            raise DatabaseUnavailable("The database did not answer in time.") from error
        raise error
    return contexts


def looks_dead(conn: pg8000.native.Connection) -> bool:
    """An idle connection has nothing to say: readable means EOF, or the FATAL a server sends as it
    closes a session (idle timeout, failover, pg_terminate_backend). Either way, do not send on it."""
    sock = getattr(conn, "_usock", None)
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Tx:
    """A unit of work on one connection. Rows come back as dicts keyed by column name.

    `after_commit(fn)` is the unit of work's one hook: `fn` runs once after COMMIT succeeds (the
    outbox uses it to relay the events this transaction wrote) and is dropped on rollback.
    """

    def __init__(self, conn: pg8000.native.Connection):
        self._conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` after this transaction commits; registering the same callable twice runs it once."""
        if fn not in self._after_commit:
            self._after_commit.append(fn)

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        return run(self._conn, sql, params)

    def _send(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        return send(self._conn, statements)

    def fetch(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return _dicts(self._run(sql, params))

    def fetch_many(self, *statements: tuple[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Several statements whose parameters do not depend on each other's results, in one round
        trip (one flight, one Sync); the rows of each, in order."""
        return [_dicts(context) for context in self._send(list(statements))]

    def finish(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """The unit of work's last statement and its COMMIT in one round trip (transaction() only); its rows.
        Nothing may follow it in the transaction: the caller must not depend on a later check to roll back."""
        raise TypeError("finish() ends a transaction(); this unit of work has none")

    def fetch_one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        rows = self.fetch(sql, **params)
        return rows[0] if rows else None

    def rows(self, row_type: type[R], sql: str, **params: Any) -> list[R]:
        """The repositories' one row convention: each row as a typed (data)class built from its columns."""
        return [row_type(**r) for r in self.fetch(sql, **params)]

    def row(self, row_type: type[R], sql: str, **params: Any) -> R | None:
        found = self.fetch_one(sql, **params)
        return row_type(**found) if found is not None else None

    def fetch_value(self, sql: str, **params: Any) -> Any:
        rows = self._run(sql, params).rows
        return rows[0][0] if rows else None

    def execute(self, sql: str, **params: Any) -> int:
        count: int = self._run(sql, params).row_count
        return count

    def run_script(self, sql: str) -> None:
        """Several statements at once (simple query protocol); for migrations, never for user input."""
        self._conn.run(sql)


def _dicts(context: Any) -> list[dict[str, Any]]:
    if not context.rows:
        return []
    names = [c["name"] for c in context.columns]
    return [dict(zip(names, row, strict=True)) for row in context.rows]


class Database:
    def __init__(self, settings: Settings, max_idle: int = 8):
        self._settings = settings
        self._credentials = CredentialSource(settings)
        self._idle: list[pg8000.native.Connection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._ssl: ssl.SSLContext | None = None

    # -- connections -------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    def _connect(self, refresh_credentials: bool = False) -> pg8000.native.Connection:
        params = connect_params(self._settings)
        try:
            user, password = self._credentials.password(params, refresh=refresh_credentials)
        except Exception as exc:  # Secrets Manager unreachable or refusing: the database is unavailable
            log.error("database credentials unavailable", extra={"error": type(exc).__name__})
            raise DatabaseUnavailable() from exc
        # False, not None: pg8000 treats None as "try unverified TLS first".
        ssl_context: ssl.SSLContext | bool = self._tls_context() if params.tls else False
        try:
            # The socket timeout covers TCP connect, TLS and the startup exchange: a server that
            # accepts and never answers costs at most this long.
            conn = pg8000.native.Connection(
                user=user,
                password=password,
                host=params.host or "localhost",
                port=params.port,
                database=params.database,
                unix_sock=params.unix_sock,
                ssl_context=ssl_context,
                timeout=deadline.bounded(self._settings.db_connect_timeout),
                application_name="xanadu-rewards",
            )
            # Then statements may take up to the role's statement_timeout, which the server enforces;
            # the margin lets its cancellation arrive before we give up on the socket.
            read_timeout = self._settings.db_statement_timeout_ms / 1000 + READ_TIMEOUT_MARGIN_S
            conn._xanadu_read_timeout = read_timeout  # remembered on the connection: a deadline may shorten it
            conn._usock.settimeout(read_timeout)
            return conn
        except (InterfaceError, OSError, DatabaseError) as exc:
            if sqlstate(exc) == "28P01" and not refresh_credentials and self._settings.db_auth == "secret":
                return self._connect(refresh_credentials=True)  # the secret was rotated
            log.error("database connect failed", extra={"error": type(exc).__name__})
            raise DatabaseUnavailable() from exc

    def _tls_context(self) -> ssl.SSLContext:
        """Verified TLS (certificate chain and host name), built once per container."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self._settings.db_ca_file)
        return self._ssl

    def _acquire(self) -> tuple[pg8000.native.Connection, bool]:
        """A connection and whether it came from the idle pool (and so may be stale)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _release(self, conn: pg8000.native.Connection) -> None:
        try:
            conn._usock.settimeout(_read_timeout_of(conn))  # undo a request deadline's shorter timeout
        except OSError:
            _close_quietly(conn)
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    def _start(self, statements: list[tuple[str, dict[str, Any]]]) -> tuple[pg8000.native.Connection, list[Any]]:
        """The first flight of autocommit reads, resent once on a new connection if the pooled one died
        (a read is safe to repeat)."""
        conn, reused = self._acquire()
        try:
            return conn, _flight(conn, statements)
        except Exception as exc:
            _close_quietly(conn)
            if not (_is_dead_connection(exc) and reused):
                raise _map_failure(exc) from exc
            log.warning("database connection dropped; reconnecting once")
        conn = self._connect()
        try:
            return conn, _flight(conn, statements)
        except Exception as exc:
            _close_quietly(conn)
            raise _map_failure(exc) from exc

    @contextmanager
    def transaction(self, *, natural_keys: Mapping[str, Callable[[], DomainError]] | None = None) -> Iterator[Tx]:
        """Services own transactions: `with db.transaction() as tx:` commits or rolls back as one.

        `natural_keys` names the unique constraints that make this unit of work happen once, each with the
        domain error a caller gets when a concurrent unit of work committed the same key first (the
        statement then waits for it and fails with a unique violation): e.g. a partner purchase's
        external_id reported for two members at once is PURCHASE_CONFLICT, the documented 409, not a 500.
        """
        tx = _TransactionTx(self)  # BEGIN leaves with the first statement: one flight
        try:
            yield tx
            if tx.conn is not None and not tx.committed:
                run(tx.conn, "COMMIT", {})
        except BaseException as exc:
            conn = tx.conn
            if conn is None:  # nothing was sent (or the first flight found no live connection)
                raise
            if _is_dead_connection(exc):
                _close_quietly(conn)
                if isinstance(exc, Exception):
                    raise DatabaseUnavailable() from exc
                raise
            try:
                run(conn, "ROLLBACK", {})
            except Exception:
                _close_quietly(conn)
                raise
            self._release(conn)
            conflict = _natural_key_conflict(exc, natural_keys)
            if conflict is not None:
                raise conflict from exc
            raise
        else:
            if tx.conn is not None:
                self._release(tx.conn)
            _run_after_commit(tx)

    def _begin(self, statements: list[tuple[str, dict[str, Any]]]) -> tuple[pg8000.native.Connection, list[Any]]:
        """A transaction's first flight: BEGIN and its first statements. On a pooled connection found
        dead the flight is resent once on a new one: it starts with BEGIN, so nothing can have committed.
        A statement that fails leaves the transaction open (and failed): the connection is returned
        with the error, for the caller to roll back."""
        conn, reused = self._acquire()
        flight = [("START TRANSACTION", {}), *statements]
        try:
            return conn, send(conn, flight)[1:]
        except Exception as exc:
            if not _is_dead_connection(exc):
                raise _Failed(conn, exc) from exc
            _close_quietly(conn)
            if not reused:
                raise DatabaseUnavailable() from exc
            log.warning("database connection dropped; reconnecting once")
        conn = self._connect()
        try:
            return conn, send(conn, flight)[1:]
        except Exception as exc:
            if not _is_dead_connection(exc):
                raise _Failed(conn, exc) from exc
            _close_quietly(conn)
            raise DatabaseUnavailable() from exc

    @contextmanager
    def single(self) -> Iterator[Tx]:
        """One statement that is its own transaction (the server commits it at the flight's end, or
        rolls it all back on error): one round trip, for a money operation that is one SQL function.

        Never resent once sent (a lost reply would leave unknown whether it committed): a pooled
        connection is checked first and replaced if the server has closed it. After-commit hooks run
        once it committed, as with `transaction()`."""
        tx = _SingleTx(self)
        with self._autocommit(tx):
            yield tx
        _run_after_commit(tx)

    @contextmanager
    def reader(self) -> Iterator[Tx]:
        """Autocommit reads: one round trip per statement, for hot read paths like the catalog.

        A read is safe to repeat, so a stale pooled connection is replaced on its first statement.
        """
        with self._autocommit(_ReaderTx(self)) as reader:
            yield reader

    @contextmanager
    def _autocommit(self, tx: _AutocommitTx) -> Iterator[_AutocommitTx]:
        """The end of single() and reader(): each statement's implicit transaction ended at its Sync, so
        the connection goes back to the pool whatever happened, unless the server closed it (then it is
        dropped and the failure is our 503)."""
        try:
            yield tx
        except BaseException as exc:
            dead = _is_dead_connection(exc)
            if tx.conn is not None:
                if dead:
                    _close_quietly(tx.conn)
                else:
                    self._release(tx.conn)
            if dead and isinstance(exc, Exception):
                raise DatabaseUnavailable() from exc
            raise
        if tx.conn is not None:
            self._release(tx.conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


class _Failed(Exception):
    """The first flight's statement failed inside the transaction it began (which must be rolled back)."""

    def __init__(self, conn: pg8000.native.Connection, error: Exception):
        super().__init__(str(error))
        self.conn = conn
        self.error = error


class _TransactionTx(Tx):
    """A transaction whose BEGIN is sent together with its first statement."""

    def __init__(self, db: Database):
        self._db = db
        self.conn: pg8000.native.Connection | None = None
        self.committed = False
        self._after_commit = []

    @property
    def _conn(self) -> pg8000.native.Connection:
        if self.conn is None:
            self._send([("SELECT 1", {})])
        assert self.conn is not None
        return self.conn

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        return self._send([(sql, params)])[0]

    def _send(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        if self.committed:
            raise TypeError("this transaction has committed (finish() was its last statement)")
        if self.conn is None:
            try:
                self.conn, contexts = self._db._begin(statements)
            except _Failed as failed:
                self.conn = failed.conn
                raise failed.error from None
            return contexts
        return _flight(self.conn, statements)

    def finish(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        context = self._send([(sql, params), ("COMMIT", {})])[0]
        self.committed = True
        return _dicts(context)


class _SingleTx(Tx):
    """One flight, its own implicit transaction (see Database.single)."""

    def __init__(self, db: Database):
        self._db = db
        self.conn: pg8000.native.Connection | None = None
        self._after_commit = []

    @property
    def _conn(self) -> pg8000.native.Connection:
        raise TypeError("single() sends exactly one flight")

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        return self._send([(sql, params)])[0]

    def _send(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        if self.conn is not None:
            raise TypeError("single() sends exactly one flight; use transaction() for more")
        conn, reused = self._db._acquire()
        if reused and looks_dead(conn):
            _close_quietly(conn)
            log.warning("database connection dropped while idle; reconnecting before sending")
            conn = self._db._connect()
        self.conn = conn
        return send(conn, statements)


class _ReaderTx(Tx):
    def __init__(self, db: Database):
        self._db = db
        self.conn: pg8000.native.Connection | None = None

    @property
    def _conn(self) -> pg8000.native.Connection:
        assert self.conn is not None
        return self.conn

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        return self._send([(sql, params)])[0]

    def _send(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        if self.conn is None:
            self.conn, contexts = self._db._start(statements)
            return contexts
        return _flight(self.conn, statements)

    def execute(self, sql: str, **params: Any) -> int:
        raise TypeError("reader() is for reads; use transaction() to write")

    def after_commit(self, fn: Callable[[], None]) -> None:
        raise TypeError("reader() never commits; use transaction() to write")


_AutocommitTx = TypeVar("_AutocommitTx", _SingleTx, _ReaderTx)


def _flight(conn: pg8000.native.Connection, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """One statement as db.run sends it, several pipelined in one flight."""
    if len(statements) == 1:
        sql, params = statements[0]
        return [run(conn, sql, params)]
    return send(conn, statements)


def _run_after_commit(tx: Tx) -> None:
    """The transaction has committed: a failing hook is logged, never raised into the caller."""
    for fn in tx._after_commit:
        try:
            fn()
        except Exception:
            log.exception("after-commit hook failed")


def _natural_key_conflict(
    exc: BaseException, natural_keys: Mapping[str, Callable[[], DomainError]] | None
) -> DomainError | None:
    """The domain error for a unique violation on one of the unit of work's natural keys, else None."""
    if not natural_keys or sqlstate(exc) != UNIQUE_VIOLATION:
        return None
    make = natural_keys.get(constraint_name(exc) or "")
    if make is None:
        return None
    log.info("concurrent duplicate refused", extra={"constraint": constraint_name(exc)})
    return make()


def _map_failure(exc: BaseException) -> BaseException:
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if _is_dead_connection(exc):
        return DatabaseUnavailable()
    return exc


def _close_quietly(conn: pg8000.native.Connection) -> None:
    """Closing a connection we are giving up on: it may already be dead, which is why we close it."""
    with contextlib.suppress(Exception):
        conn.close()


_database: Database | None = None
_database_lock = threading.Lock()


def get_database() -> Database:
    """The container's Database, created on first use (never at import)."""
    global _database
    if _database is None:
        with _database_lock:
            if _database is None:
                _database = Database(get_settings())
    return _database


def reset_database() -> None:
    global _database
    with _database_lock:
        if _database is not None:
            _database.close()
        _database = None
