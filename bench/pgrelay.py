"""A TCP relay between the app and PostgreSQL that counts round trips and can add network delay.

Two jobs, one tool:
- **Counting** (delay 0): per connection, a *flight* is the bytes the client sends before the next
  server reply. Every flight waits for at least one reply, so flights are the database round trips
  the app really makes, counted on the wire rather than estimated from the code. The time at which
  each flight starts is recorded, so a caller that logs when each of its requests began and ended can
  attribute flights to requests.
- **Simulated RDS Proxy hop** (delay > 0): every chunk is forwarded `delay` after it arrived, in each
  direction, in order, without holding back the chunks behind it (a link with latency, not a queue
  with service time). With 0.5 ms per direction each round trip costs 1 ms more, roughly what a
  proxy hop in the same AZ adds.

Threads, not asyncio: asyncio's selector rounds timeouts up to whole milliseconds, too coarse for a
0.5 ms delay; `time.sleep` on Linux is accurate to ~0.1 ms, and the relay learns its average overshoot.
Run it in its own process (as below) so its CPU and GIL are not the app's. The benchmark measures
what one hop really adds to a round trip (`SELECT 1` through it vs direct) and reports it.

  python -m bench.pgrelay --target 127.0.0.1:5432 [--delay-ms 0.5] [--port 0]
  Prints {"port": N} and then answers commands on stdin, one JSON line each:
    reset      -> zero the counters and the flight log
    stats      -> {"flights", "replies", "bytes_up", "bytes_down", "connections", "flight_times": [...]}
    quit
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

_CHUNK = 65536
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: SO_TIMESTAMPNS_OLD, timespec in SCM data
_ANCILLARY = socket.CMSG_SPACE(16)


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's receive timestamp (CLOCK_REALTIME) of a recvmsg chunk; now if there is none."""
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanos = struct.unpack("qq", payload[:16])
            return seconds + nanos / 1e9
    return time.time()


class _Link:
    """One client connection and its server connection, with the flight state machine."""

    def __init__(self, relay: "Relay", client: socket.socket, server: socket.socket):
        self.relay, self.client, self.server = relay, client, server
        self.server_spoke = True  # a client send after a server reply (or at the start) opens a flight

    def close(self) -> None:
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass


class Relay:
    def __init__(self, target: tuple[str, int], delay_s: float = 0.0, host: str = "127.0.0.1", port: int = 0):
        self.target, self.delay = target, max(0.0, delay_s)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._closed = False
        self._lateness = 0.0  # running estimate of how late a sleep-then-send lands (seconds)
        self.reset()

    # -- counters -------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.flights = 0
            self.replies = 0
            self.bytes_up = 0
            self.bytes_down = 0
            self.flight_times: list[float] = []

    def stats(self, with_times: bool = True) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {"flights": self.flights, "replies": self.replies, "bytes_up": self.bytes_up,
                                   "bytes_down": self.bytes_down, "connections": len(self._links),
                                   "delay_ms": self.delay * 1000}
            if with_times:
                out["flight_times"] = list(self.flight_times)
        return out

    def _saw(self, link: _Link, upstream: bool, size: int, at: float) -> None:
        with self._lock:
            if upstream:
                self.bytes_up += size
                if link.server_spoke:
                    link.server_spoke = False
                    self.flights += 1
                    self.flight_times.append(at)
            else:
                self.bytes_down += size
                if not link.server_spoke:
                    link.server_spoke = True
                    self.replies += 1

    # -- plumbing -------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, server)
            with self._lock:
                self._links.append(link)
            for src, dst, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(link, src, dst, upstream), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        if self.delay <= 0:
            try:
                while True:
                    data = src.recv(_CHUNK)
                    if not data:
                        break
                    self._saw(link, upstream, len(data), time.monotonic())
                    dst.sendall(data)
            except OSError:
                pass
            self._drop(link)
            return
        # Delayed: one thread per direction reads a chunk, sleeps until the chunk's arrival + delay, sends
        # it. The arrival time is the kernel's receive timestamp (SO_TIMESTAMPNS), so a chunk that came in
        # while the thread slept for the previous one still leaves `delay` after *it* arrived: a link
        # with latency, not a queue, and one thread wake-up per chunk instead of a reader/writer hand-off.
        src.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        try:
            while True:
                data, ancillary, _, _ = src.recvmsg(_CHUNK, _ANCILLARY)
                if not data:
                    break
                arrived = _kernel_time(ancillary)
                self._saw(link, upstream, len(data), time.monotonic() - (time.time() - arrived))
                wait = arrived + self.delay - time.time() - self._lateness
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
                # Integral control: sleeps overshoot by ~0.05-0.1 ms; learn it so delays are right on
                # average. One observation moves the estimate by at most 2% of the delay.
                late = max(-self.delay, min(self.delay, time.time() - (arrived + self.delay)))
                self._lateness = min(0.8 * self.delay, max(0.0, self._lateness + 0.02 * late))
        except OSError:
            pass
        self._drop(link)

    def _drop(self, link: _Link) -> None:
        link.close()
        with self._lock:
            if link in self._links:
                self._links.remove(link)

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()


# -- the relay as a child process, driven by the benchmark ----------------------------------------
class RelayProcess:
    """`python -m bench.pgrelay` in its own process; `url(database_url)` points a URL at it."""

    def __init__(self, target_host: str, target_port: int, delay_ms: float = 0.0):
        self.delay_ms = delay_ms
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.pgrelay", "--target", f"{target_host}:{target_port}",
             "--delay-ms", str(delay_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def reset(self) -> None:
        self._ask("reset")

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def url(self, database_url: str) -> str:
        from urllib.parse import urlparse, urlunparse

        parts = urlparse(database_url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunparse(parts._replace(netloc=f"{userinfo}127.0.0.1:{self.port}"))

    def close(self) -> None:
        try:
            self._ask("quit")
        except Exception:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="host:port of PostgreSQL")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added delay per direction (default 0)")
    parser.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    relay = Relay((host, int(port)), args.delay_ms / 1000, port=args.port)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    print(json.dumps({"port": relay.port}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "reset":
            relay.reset()
            print(json.dumps({"ok": True}), flush=True)
        elif command == "stats":
            print(json.dumps(relay.stats()), flush=True)
        elif command == "quit":
            print(json.dumps({"ok": True}), flush=True)
            break
        else:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
