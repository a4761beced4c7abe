"""`make run` in a subprocess (python -m devtools.run), on free ports and a private data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import http_call

ROOT = Path(__file__).resolve().parents[2]


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    status, _, parsed = http_call(base, method, path, token=token, body=body, timeout=30)
    return status, parsed


class RunningStack:
    """`python -m devtools.run` in a subprocess, on free ports and a private data dir."""

    def __init__(self, data_dir: Path, log: Path, log_level: str = "WARNING") -> None:
        from devtools.localdb import free_port

        self.data_dir = data_dir
        self.ports = {name: free_port() for name in ("API", "AWS", "STATIC", "DB")}
        self.api = f"http://127.0.0.1:{self.ports['API']}"
        self._log = log
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the suite's own database
        env.update({f"XANADU_{name}_PORT": str(port) for name, port in self.ports.items()})
        env.update(XANADU_DATA_DIR=str(data_dir), LOG_LEVEL=log_level, PYTHONUNBUFFERED="1")
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devtools.run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self, tail: int = 4000) -> str:
        return self._log.read_text(errors="replace")[-tail:]

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the banner: devtools.run prints it once everything is up and /health answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"devtools.run exited early:\n{self.output()}"
            if "Xanadu Rewards is running" in self.output(tail=1_000_000):
                assert _call(self.api, "GET", "/health")[0] == 200
                return
            time.sleep(0.2)
        pytest.fail(f"the local stack did not become ready:\n{self.output()}")

    def interrupt(self) -> float:
        """Ctrl-C; returns how long the whole stack took to stop."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"devtools.run did not stop within 20 s of SIGINT:\n{self.output()}")
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[Path], RunningStack]]:
    """Start `devtools.run` on a data dir; afterwards nothing is left running, and the logs are shown on failure."""
    from devtools.localdb import LocalPostgres

    stacks: list[RunningStack] = []

    def start(data_dir: Path, log_level: str = "WARNING") -> RunningStack:
        stacks.append(RunningStack(data_dir, tmp_path / f"run-{len(stacks) + 1}.log", log_level))
        return stacks[-1]

    yield start
    for number, stack in enumerate(stacks, 1):
        stack.kill()
        LocalPostgres(stack.data_dir / "postgres", stack.ports["DB"]).stop()
        print(f"--- devtools.run #{number} output ---\n{stack.output()}")
