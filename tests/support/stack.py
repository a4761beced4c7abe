"""`make run` (python -m devtools.run) as a test starts it: free ports, a private data dir, its output in a
file, signals as a terminal or a supervisor sends them, and checks that nothing it started outlives it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT_NAMES = ("API", "AWS", "STATIC", "DB")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


class LocalStack:
    """One `python -m devtools.run` process on its own ports and data dir."""

    def __init__(
        self,
        data_dir: Path,
        log: Path,
        ports: dict[str, int] | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        log_level: str = "WARNING",
    ) -> None:
        self.data_dir = data_dir
        self.ports = ports or {name: free_port() for name in PORT_NAMES}
        self.api = f"http://127.0.0.1:{self.ports['API']}"
        self.log = log
        # Not the suite's own database, nor make flags of an outer make.
        environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MAKEFLAGS", "MFLAGS")}
        environment.update({f"XANADU_{name}_PORT": str(port) for name, port in self.ports.items()})
        environment.update(XANADU_DATA_DIR=str(data_dir), LOG_LEVEL=log_level, PYTHONUNBUFFERED="1")
        environment.update(env or {})
        self.environment = environment
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command or [sys.executable, "-m", "devtools.run"],
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def wait_for(self, text: str, timeout: float = 120) -> None:
        """Until `text` appears in the output (the runner prints a line as it enters each start-up step)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"devtools.run exited ({self.process.returncode}) before {text!r}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output()}")

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the banner, printed once everything is up and GET /health answered 200."""
        self.wait_for("Xanadu Rewards is running", timeout)
        with urllib.request.urlopen(f"{self.api}/health", timeout=10) as response:
            assert response.status == 200

    def send(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"devtools.run still running {timeout}s after the signal:\n{self.output()}") from None

    def survivors(self) -> list[str]:
        """Processes this stack started that are still alive: anything whose command line names its data dir
        (PostgreSQL, initdb) or its API port (chalice local)."""
        marks = [str(self.data_dir).encode(), f"--port\0{self.ports['API']}\0".encode()]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
            except (OSError, StopIteration):
                continue
            if "zombie" not in state and any(mark in cmdline for mark in marks):
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
                found.append(f"{entry.name}: {command}")
        return found

    def wait_all_gone(self, timeout: float = 20) -> list[str]:
        """Survivors still there after `timeout` seconds (an empty list when everything stopped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.survivors() + [
                f"port {name} {port} still accepts"
                for name, port in self.ports.items()
                if not refuses_connections(port)
            ]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def force_cleanup(self) -> None:
        """After a test: nothing of this stack may stay (kill the runner, stop its PostgreSQL)."""
        from devtools.localdb import LocalPostgres

        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        LocalPostgres(self.data_dir / "postgres", self.ports["DB"]).stop_leftover()

    def interrupt(self) -> float:
        """Ctrl-C; returns how long the whole stack took to stop."""
        started = time.monotonic()
        self.send(signal.SIGINT)
        self.wait_exit(20)
        return time.monotonic() - started


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    """One JSON call to a running stack: (status, parsed body)."""
    from tests.support.http import http_call

    status, _, parsed = http_call(base, method, path, token=token, body=body, timeout=30)
    return status, parsed


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    """Start `devtools.run` on a data dir (`start(data_dir, log_level="WARNING")`); afterwards nothing is
    left running, and the logs are shown."""
    stacks: list[LocalStack] = []

    def start(data_dir: Path, log_level: str = "WARNING") -> LocalStack:
        stacks.append(LocalStack(data_dir, tmp_path / f"run-{len(stacks) + 1}.log", log_level=log_level))
        return stacks[-1]

    yield start
    for number, stack in enumerate(stacks, 1):
        stack.force_cleanup()
        print(f"--- devtools.run #{number} output ---\n{stack.output()}")
