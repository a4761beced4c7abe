"""`make run`: the whole system on this machine, with nothing but Python (dev only, never deployed).

Starts, in order: a placeholder-image server, embedded PostgreSQL (data kept in .var/local, or the
server DATABASE_URL names), migrations and the demo catalog, moto server (Cognito user pool, SQS
queues), `chalice local` for the API, and the worker that feeds the app's SQS and schedule handlers.
One Ctrl-C (or SIGTERM) stops all of it, PostgreSQL included, at any moment of start-up too; if this
process is killed outright, its children stop anyway (devtools.lifetime), and a PostgreSQL an earlier
run left on the same data dir is stopped before ours starts. See docs/local-stack.md.

The running stack publishes its endpoints and ids in <data dir>/env.json for `devtools.token`,
`devtools.jobs` and tests; `StackInfo.load()` reads it.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from devtools import lifetime, localaws

if TYPE_CHECKING:
    from devtools.localdb import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]
STAGE = "local"
DATABASE_NAME = "xanadu"
STARTUP_TIMEOUT_S = 90


def data_dir() -> Path:
    """Where the local stack keeps its state: XANADU_DATA_DIR, default .var/local (git-ignored)."""
    return Path(os.environ.get("XANADU_DATA_DIR") or ROOT / ".var" / "local").resolve()


class StackNotRunning(SystemExit):
    """token/jobs need the stack `make run` started; exit with a message saying so."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}\nStart the local stack with `make run` (in another terminal) first.")


@dataclass(frozen=True)
class StackInfo:
    """What a running stack publishes in env.json."""

    api_url: str
    images_url: str
    database_url: str
    aws: localaws.LocalAws
    pid: int

    def app_env(self) -> dict[str, str]:
        """The environment the app runs with: emulated AWS plus the database."""
        return {**self.aws.app_env(), "DATABASE_URL": self.database_url}

    def save(self, directory: Path) -> None:
        document = {"api_url": self.api_url, "images_url": self.images_url, "database_url": self.database_url,
                    "pid": self.pid, "aws": asdict(self.aws), "env": self.app_env()}
        (directory / "env.json").write_text(json.dumps(document, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path | None = None) -> "StackInfo":
        path = (directory or data_dir()) / "env.json"
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise StackNotRunning(f"{path} does not exist.") from None
        if not _alive(document["pid"]):
            raise StackNotRunning(f"The stack that wrote {path} (pid {document['pid']}) is not running.")
        return cls(document["api_url"], document["images_url"], document["database_url"],
                   localaws.LocalAws(**document["aws"]), document["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunSettings:
    api_port: int
    aws_port: int
    static_port: int
    db_port: int
    database_url: str | None
    data_dir: Path
    log_level: str

    @classmethod
    def from_env(cls) -> "RunSettings":
        env = os.environ
        return cls(
            api_port=int(env.get("XANADU_API_PORT", "8000")),
            aws_port=int(env.get("XANADU_AWS_PORT", "4566")),
            static_port=int(env.get("XANADU_STATIC_PORT", "8001")),
            db_port=int(env.get("XANADU_DB_PORT", "54329")),
            database_url=env.get("DATABASE_URL") or None,
            data_dir=data_dir(),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )


class _Stop(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM, so start-up or waiting unwinds into cleanup."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _already_stopping)
    raise _Stop(signal.Signals(signum).name)


def _already_stopping(signum: int, frame: FrameType | None) -> None:
    print("still stopping (PostgreSQL gets a clean shutdown)...", file=sys.stderr, flush=True)


def _require_free(port: int, what: str, variable: str) -> None:
    """Fail fast with a useful message; moto in particular would hang on a taken port."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(f"Port {port} ({what}) is in use. Is another `make run` running? "
                             f"Stop it, or set {variable} to another port.") from None


def _say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def main() -> int:
    settings = RunSettings.from_env()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    lifetime.tie_to_parent(signal.SIGTERM)  # `make` killed: we get SIGTERM and stop everything
    try:
        with ExitStack() as cleanup:
            return _run(settings, cleanup)
    except _Stop:
        _say("stopped")
        return 0


def _run(settings: RunSettings, cleanup: ExitStack) -> int:
    from chalicelib.platform import logs
    from devtools.localdb import LocalPostgres

    logs.configure(settings.log_level)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pg = None if settings.database_url else LocalPostgres(settings.data_dir / "postgres", settings.db_port)
    _require_free(settings.api_port, "API", "XANADU_API_PORT")
    _require_free(settings.aws_port, "moto", "XANADU_AWS_PORT")
    _require_free(settings.static_port, "images", "XANADU_STATIC_PORT")
    if pg is not None:
        if pg.stop_leftover():
            _say(f"stopped the PostgreSQL an earlier run left running on {pg.data_dir}")
        _require_free(settings.db_port, "PostgreSQL", "XANADU_DB_PORT")

    images_url = _start_static(settings, cleanup)
    database_url = _start_database(settings, pg, cleanup)
    _prepare_database(database_url, images_url)
    aws = _start_aws(settings, cleanup)

    # The app connects as the least-privilege role the migrations ensured (issue 8), as in AWS.
    from devtools.localdb import as_app_role

    app_database_url = os.environ.get("APP_DATABASE_URL") or as_app_role(database_url)
    info = StackInfo(f"http://127.0.0.1:{settings.api_port}", images_url, app_database_url, aws, os.getpid())
    os.environ.update(info.app_env())
    os.environ["LOG_LEVEL"] = settings.log_level
    # Member email (EMAIL_MODE=log) goes to files here, never to the log: the log carries no personal data.
    os.environ.setdefault("EMAIL_OUTBOX_DIR", str(settings.data_dir / "email-outbox"))
    info.save(settings.data_dir)

    api = _start_api(settings, cleanup)
    worker_lines = _start_worker(aws, cleanup)
    _wait_healthy(info.api_url, api)
    _print_banner(settings, info, worker_lines)
    while api.poll() is None:
        time.sleep(0.5)
    _say(f"chalice local exited with status {api.returncode}; stopping everything")
    return 1


def _start_static(settings: RunSettings, cleanup: ExitStack) -> str:
    from devtools.static import start_static_server

    server, images_url = start_static_server(settings.static_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    cleanup.callback(stop)
    return images_url


def _start_database(settings: RunSettings, pg: LocalPostgres | None, cleanup: ExitStack) -> str:
    if pg is None:
        assert settings.database_url is not None
        _say("using the database in DATABASE_URL")
        return settings.database_url
    _say(f"starting PostgreSQL on 127.0.0.1:{settings.db_port} (data in {pg.data_dir})")
    cleanup.callback(_stop_postgres, pg)
    pg.start_attached()
    return pg.create_database(DATABASE_NAME)


def _stop_postgres(pg: LocalPostgres) -> None:
    _say("stopping PostgreSQL")
    pg.stop()


def _prepare_database(database_url: str, images_url: str) -> None:
    """Migrations and the demo catalog; both are no-ops on a database that already has them."""
    from chalicelib.platform.config import Settings
    from chalicelib.platform.db import Database
    from chalicelib.platform.migrations import apply_all
    from devtools.seed import seed_catalog

    db = Database(Settings(database_url=database_url))
    try:
        applied = apply_all(db)
        added = seed_catalog(db, images_url)
    finally:
        db.close()
    _say(f"database ready (migrations applied: {', '.join(applied) or 'none needed'}; "
         f"demo products added: {added})")


def _start_aws(settings: RunSettings, cleanup: ExitStack) -> localaws.LocalAws:
    server, endpoint = localaws.start_server(port=settings.aws_port, state_dir=settings.data_dir)
    cleanup.callback(server.stop)
    return localaws.bootstrap(endpoint)


# `chalice ...` as `python -c`, so that on Linux the API first asks to be sent SIGTERM when we die
# (PR_SET_PDEATHSIG): even a SIGKILLed `make run` leaves no orphan holding the API port.
_CHALICE_CLI = (
    "import os, signal, sys\n"
    "if sys.platform == 'linux':\n"
    "    import ctypes; ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"
    "    if os.getppid() != int(os.environ['XANADU_RUNNER_PID']): sys.exit('the runner is gone')\n"
    "from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer\n"
    "ChaliceRequestHandler.disable_nagle_algorithm = True  # else ~40 ms of delayed-ACK stall per response\n"
    "ThreadedHTTPServer.request_queue_size = 256  # listen backlog: socketserver's 5 resets bursts of clients\n"
    "import devtools.gateway; devtools.gateway.install()  # unknown paths: 404 with our body, as deployed\n"
    "from chalice.cli import main\n"
    "sys.argv[0] = 'chalice'\n"
    "sys.exit(main())\n"
)


def _start_api(settings: RunSettings, cleanup: ExitStack) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", _CHALICE_CLI, "--project-dir", str(ROOT), "local", "--host", "127.0.0.1",
               "--port", str(settings.api_port), "--stage", STAGE, "--no-autoreload"]
    # Its own session: a terminal's Ctrl-C reaches only us, and we stop the API in order.
    api = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                   "XANADU_RUNNER_PID": str(os.getpid())}, start_new_session=True)
    cleanup.callback(_stop_process, api)
    return api


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_worker(aws: localaws.LocalAws, cleanup: ExitStack) -> list[str]:
    from devtools.worker import Worker, discover, load_app

    app, config = load_app(ROOT, STAGE)
    worker = Worker(discover(app, STAGE, config), localaws.client("sqs", aws.endpoint),
                    s3=localaws.client("s3", aws.endpoint))
    worker.start()
    cleanup.callback(worker.stop)
    return worker.running


def _wait_healthy(api_url: str, api: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"chalice local exited with status {api.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read()[:300]!r}"
        except OSError as error:
            last = str(error)
        time.sleep(0.25)
    raise SystemExit(f"the API did not become healthy within {STARTUP_TIMEOUT_S}s ({last})")


def _print_banner(settings: RunSettings, info: StackInfo, worker_lines: list[str]) -> None:
    member, admin = localaws.DEMO_MEMBER, localaws.DEMO_ADMIN
    database = info.database_url if settings.database_url else f"{info.database_url}   (data in {settings.data_dir})"
    lines = [
        "",
        "Xanadu Rewards is running. Ctrl-C stops everything.",
        f"  API         {info.api_url}   (GET /health, /prod/products, /openapi.json)",
        f"  Images      {info.images_url}/<SKU>.svg",
        f"  AWS (moto)  {info.aws.endpoint}   user pool {info.aws.user_pool_id}, client {info.aws.client_id}",
        f"  Database    {database}",
        f"  Email       {os.environ.get('EMAIL_OUTBOX_DIR')}/*.eml   (member email is written here, not sent)",
        "  Worker      " + ("\n              ".join(worker_lines) if worker_lines else "no SQS or schedule handlers"),
        f"  Demo users  {member[0]} / {member[1]}",
        f"              {admin[0]} / {admin[1]}   (group {localaws.ADMIN_GROUP})",
        "  Token       make -s token [EMAIL=anyone@example.com]   (any email works; new users are created)",
        f"              curl -H \"Authorization: Bearer $(make -s token)\" {info.api_url}/prod/points",
        "  Jobs        make jobs ARGS=list | make jobs ARGS='run NAME' | make dead-letters [REDRIVE=1]",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
