"""The fault suite's stack (make faults, make faults-short): every part a process of its own so that it can
be frozen, killed and restarted while load runs: PostgreSQL (embedded), moto server (SQS, Cognito), the
API (chalice local, as make run serves it, with tests/faults/injection.py loaded) and, in this process,
the local worker (SQS poller and schedules, devtools/worker.py) plus the test's own load and checks.

Collected only when XANADU_FAULTS_SECONDS (seconds of load per scenario) is set. Short liveness bounds
(ORDER_RESEND_AFTER_SECONDS=20, ORDER_FAIL_AFTER_SECONDS=90) so "every order reaches CONFIRMED or a
final state within the bound" is checked in a minute or two, not the production hour (the bounds must stay
above the time this loaded machine needs to drain the queue: below it, recovery fails orders that are
merely queued, which is correct but not what the suite wants to see).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
collect_ignore_glob = [] if os.environ.get("XANADU_FAULTS_SECONDS") else ["test_*.py"]

RESEND_AFTER, FAIL_AFTER = 20, 90
os.environ.setdefault("ORDER_RESEND_AFTER_SECONDS", str(RESEND_AFTER))
os.environ.setdefault("ORDER_FAIL_AFTER_SECONDS", str(FAIL_AFTER))

_MOTO = (
    "import sys, time\n"
    "from devtools import localaws\n"
    "server, endpoint = localaws.start_server(port=int(sys.argv[1]))\n"
    "print(endpoint, flush=True)\n"
    "time.sleep(10**9)\n"
)
_API = (
    "import sys\n"
    "from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer\n"
    "ChaliceRequestHandler.disable_nagle_algorithm = True\n"
    "ThreadedHTTPServer.request_queue_size = 256\n"
    "import devtools.gateway; devtools.gateway.install()\n"
    "import tests.faults.injection as injection; injection.install()\n"
    "from chalice.cli import main\n"
    "sys.argv[0] = 'chalice'\n"
    "sys.exit(main())\n"
)


@dataclass
class Process:
    """A child process that can be frozen, thawed, killed and started again on the same port."""

    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env={**os.environ, **self.env}, stdout=out, stderr=out)
        return self

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class Stack:
    pg: Any
    moto: Process
    api: Process
    api_url: str
    aws_port: int
    trigger: Path
    worker: Any = None

    def restart_moto(self) -> None:
        from devtools import localaws

        self.moto.kill()
        self.moto.start()
        wait_http(f"http://127.0.0.1:{self.aws_port}/moto-api/")
        localaws.bootstrap(f"http://127.0.0.1:{self.aws_port}")  # queues and pool again, same names and ids

    def restart_api(self) -> None:
        self.api.kill()
        self.api.start()
        wait_http(f"{self.api_url}/health")


_PG: dict[str, Any] = {}
_MOTO_PROC: dict[str, Any] = {}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A PostgreSQL this suite may stop and start (fast shutdown) at will."""
    from devtools.localdb import LocalPostgres, free_port

    pg = LocalPostgres(Path(tempfile.mkdtemp(prefix="xanadu-faults-pg-")), free_port()).start()
    _PG["pg"] = pg
    try:
        yield pg.create_database("xanadu_faults", drop=True)
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto server as a process of its own (so it can be frozen and killed)."""
    from devtools import localaws
    from devtools.localdb import free_port

    port = free_port()
    moto = Process([sys.executable, "-c", _MOTO, str(port)], tmp_path_factory.mktemp("moto") / "moto.log").start()
    _MOTO_PROC["moto"], _MOTO_PROC["port"] = moto, port
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/")
        yield localaws.bootstrap(f"http://127.0.0.1:{port}")
    finally:
        moto.kill()


@pytest.fixture(scope="session")
def stack(environment: None, owner_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from devtools.localdb import free_port
    from devtools.worker import Worker, discover, load_app
    from tests.support.fixtures import reset_database_state

    reset_database_state(owner_db)
    logs = tmp_path_factory.mktemp("faults")
    port = free_port()
    trigger = logs / "kill-after-commit"
    env = {"XANADU_FAULT_TRIGGER": str(trigger), "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    api = Process(
        [
            sys.executable,
            "-c",
            _API,
            "--project-dir",
            str(ROOT),
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--stage",
            "local",
            "--no-autoreload",
        ],
        logs / "api.log",
        env,
    ).start()
    stack = Stack(_PG["pg"], _MOTO_PROC["moto"], api, f"http://127.0.0.1:{port}", _MOTO_PROC["port"], trigger)
    try:
        wait_http(f"{stack.api_url}/health")
        from devtools import localaws

        app, config = load_app(ROOT, "local")
        import logging

        logging.getLogger().setLevel(logging.WARNING)  # the worker's per-message lines would drown the report
        stack.worker = Worker(
            discover(app, "local", config), localaws.client("sqs", f"http://127.0.0.1:{stack.aws_port}")
        )
        stack.worker.start()
        yield stack
    finally:
        if stack.worker is not None:
            stack.worker.stop()
        api.kill()
        print(f"--- API log ---\n{(logs / 'api.log').read_text(errors='replace')[-6000:]}")
