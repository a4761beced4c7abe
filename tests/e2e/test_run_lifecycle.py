"""`make run` stops everything it started whenever it is interrupted, restarts over a leftover PostgreSQL, and
its API takes a burst of 64 simultaneous connections (issue 7, findings 5 and 6)."""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stack import PORT_NAMES, LocalStack, free_port

pytestmark = pytest.mark.slow

Launch = Callable[..., LocalStack]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start devtools.run stacks; afterwards none is left running, and their output is shown on failure."""
    stacks: list[LocalStack] = []

    def start(data_dir: Path | None = None, **kwargs: object) -> LocalStack:
        stack = LocalStack(data_dir or tmp_path / "local", tmp_path / f"run-{len(stacks) + 1}.log", **kwargs)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack

    yield start
    for number, stack in enumerate(stacks, 1):
        stack.force_cleanup()
        print(f"--- devtools.run #{number} ---\n{stack.output()}")


def assert_everything_stopped(stack: LocalStack) -> None:
    left = stack.wait_all_gone(timeout=20)
    assert left == [], f"still running after devtools.run ended: {left}\n{stack.output()}"
    assert not (stack.data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()


# -- interrupted at several moments of start-up -----------------------------------------------------------------
MOMENTS = {
    # output line that marks the moment, seconds to wait after it
    "during initdb": ("starting PostgreSQL", 0.0),
    "while PostgreSQL starts or migrations run": ("starting PostgreSQL", 2.0),
    "while moto, the API and the worker start": ("database ready", 0.0),
    "once ready": ("Xanadu Rewards is running", 0.0),
}


# SIGINT and SIGTERM share one handler: SIGTERM is sent at two moments (and after ready in the SIGKILL test).
CASES = [(moment, signal.SIGINT) for moment in MOMENTS] + [
    ("during initdb", signal.SIGTERM),
    ("while moto, the API and the worker start", signal.SIGTERM),
]


@pytest.mark.parametrize("moment,signum", CASES, ids=[f"{m}-{signal.Signals(s).name}" for m, s in CASES])
def test_an_interrupt_at_any_moment_of_start_up_stops_everything(launch: Launch, moment: str, signum: int) -> None:
    marker, delay = MOMENTS[moment]
    stack = launch()
    stack.wait_for(marker)
    time.sleep(delay)
    stack.send(signum)
    assert stack.wait_exit(30) == 0, stack.output()
    assert_everything_stopped(stack)

    again = launch(stack.data_dir, ports=stack.ports)  # whatever the moment, the data dir is usable
    again.wait_ready()
    again.send(signal.SIGINT)
    assert again.wait_exit(30) == 0
    assert_everything_stopped(again)


def test_sigint_then_sigkill_five_seconds_later_leaves_nothing_running(launch: Launch) -> None:
    stack = launch()
    stack.wait_for("starting PostgreSQL")
    time.sleep(1.0)
    stack.send(signal.SIGINT)
    time.sleep(5.0)
    stack.send(signal.SIGKILL)
    stack.process.wait(10)
    assert_everything_stopped(stack)
    again = launch(stack.data_dir, ports=stack.ports)
    again.wait_ready()


@pytest.mark.parametrize("marker", ["database ready", "Xanadu Rewards is running"], ids=["starting", "ready"])
def test_a_sigkilled_runner_takes_its_children_with_it(launch: Launch, marker: str) -> None:
    stack = launch()
    stack.wait_for(marker)
    stack.send(signal.SIGKILL)
    stack.process.wait(10)
    assert_everything_stopped(stack)  # PostgreSQL got SIGINT (fast shutdown), the API SIGTERM, from Linux

    again = launch(stack.data_dir, ports=stack.ports)
    again.wait_ready()
    again.send(signal.SIGTERM)
    assert again.wait_exit(30) == 0
    assert_everything_stopped(again)


def test_killing_make_stops_the_stack(launch: Launch) -> None:
    """`make run` itself SIGKILLed: the runner gets SIGTERM from Linux and stops everything in order."""
    stack = launch(command=["make", "-s", "run"])
    stack.wait_ready()
    stack.send(signal.SIGKILL)  # make, not the runner
    stack.process.wait(10)
    assert_everything_stopped(stack)
    assert "stopping PostgreSQL" in stack.output()  # the orderly shutdown ran, not only the guards


# -- a PostgreSQL left over from the same data dir ---------------------------------------------------------------
@pytest.mark.parametrize("same_port", [True, False], ids=["same-port", "other-port"])
def test_a_leftover_postgresql_is_stopped_instead_of_blocking_the_next_run(
    launch: Launch, tmp_path: Path, same_port: bool
) -> None:
    from devtools.localdb import LocalPostgres

    ports = {name: free_port() for name in PORT_NAMES}
    data_dir = tmp_path / "local"
    leftover = LocalPostgres(data_dir / "postgres", ports["DB"] if same_port else free_port()).start()
    pid = leftover.leftover_pid()
    assert pid is not None  # a server nobody owns: started with pg_ctl, as an interrupted old run left it

    stack = launch(data_dir, ports=ports)
    stack.wait_ready()
    assert "stopped the PostgreSQL an earlier run left running" in stack.output()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    stack.send(signal.SIGINT)
    assert stack.wait_exit(30) == 0
    assert_everything_stopped(stack)


# -- the API's listen backlog ------------------------------------------------------------------------------------
def test_the_api_answers_64_simultaneous_connections(launch: Launch) -> None:
    stack = launch()
    stack.wait_ready()
    answers = burst(stack.ports["API"], connections=64)
    assert answers == [200] * 64


def burst(port: int, connections: int) -> list[int]:
    """Open `connections` sockets at once (non-blocking connects, one thread), require every handshake to
    complete before a dropped SYN could be retried (1 s), then send a request on each and read every answer.
    A listen backlog smaller than the burst shows as a slow handshake, a reset or a missing answer."""
    sockets = []
    for _ in range(connections):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        sockets.append(client)
    pending, deadline = set(sockets), time.monotonic() + 0.9
    while pending and time.monotonic() < deadline:
        _, writable, _ = select.select([], list(pending), [], max(0.0, deadline - time.monotonic()))
        for client in writable:
            error = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert error == 0, f"connect failed: {error}"
            pending.discard(client)
    assert not pending, f"{len(pending)} of {connections} handshakes did not complete within 0.9 s"

    request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    for client in sockets:
        client.setblocking(True)
        client.sendall(request)
        client.setblocking(False)
    replies = dict.fromkeys(sockets, b"")
    open_sockets, deadline = set(sockets), time.monotonic() + 60
    while open_sockets and time.monotonic() < deadline:
        readable, _, _ = select.select(list(open_sockets), [], [], 1.0)
        for client in readable:
            chunk = client.recv(65536)  # ConnectionResetError fails the test
            if chunk:
                replies[client] += chunk
            else:
                open_sockets.discard(client)
                client.close()
    assert not open_sockets, f"{len(open_sockets)} connections got no complete answer within 60 s"
    return [int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0 for reply in replies.values()]
