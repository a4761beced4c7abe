"""What the machine did during a phase (CPU by party, from /proc) and the pgbench TPC-B baseline.

Shared by the Lambda-shaped benchmarks (bench/lambda_load.py). Linux only: /proc is read directly.
"""
from __future__ import annotations

import glob
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

PGBENCH_SCALE = 8


# -- CPU accounting (Linux /proc; figures are informational) ----------------------------------------
class CpuMeter:
    """Cores used during a phase: whole machine, PostgreSQL, this process, and waited-for children."""

    def __init__(self, postmaster: int | None, pids: tuple[int, ...] = ()) -> None:
        self._postmaster = postmaster
        self.pid_cpu = {pid: pid_cpu(pid) for pid in pids}
        self._machine = _machine_jiffies()
        self._pg = _postgres_cpu(postmaster)
        self._own = os.times()
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._t = time.perf_counter()

    def stop(self) -> dict[str, float]:
        if self._postmaster:
            # Backends that just exited (pgbench's) count only once the postmaster has reaped them; until
            # then their time is in neither place. Wait (briefly) for the tree to shrink back.
            deadline = time.monotonic() + 3
            while _zombie_children(self._postmaster) and time.monotonic() < deadline:
                time.sleep(0.05)
        seconds = time.perf_counter() - self._t
        machine = _machine_jiffies()
        own = os.times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
        ncpu = os.cpu_count() or 1
        return {
            "seconds": seconds,
            "machine_cores": (busy / total * ncpu) if total else float("nan"),
            "postgres_cores": (_cpu_delta(self._pg, _postgres_cpu(self._postmaster)) / seconds
                               if self._postmaster else float("nan")),
            "this_process_cores": ((own.user + own.system) - (self._own.user + self._own.system)) / seconds,
            "children_cores": ((children.ru_utime + children.ru_stime)
                               - (self._children.ru_utime + self._children.ru_stime)) / seconds,
            "pids_cores": sum(pid_cpu(pid) - before for pid, before in self.pid_cpu.items()) / seconds,
        }


def pid_cpu(pid: int) -> float:
    """CPU seconds (user+system) of one process, 0 if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _postgres_cpu(postmaster: int | None) -> dict[int, float]:
    """CPU seconds of our PostgreSQL server's processes by pid: the postmaster (its own time plus that of
    its reaped children, so backends that exit mid-phase still count) and its live children. Only our
    server's tree: other PostgreSQL servers on the machine (say, a test run's) are "other"."""
    if postmaster is None:
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            out[pid] = sum(int(x) for x in fields[11:15]) / ticks
        elif ppid == postmaster and fields[0] != "Z":  # a zombie's time is not yet in the postmaster's
            out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _zombie_children(postmaster: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            count += fields[0] == "Z" and int(fields[1]) == postmaster
    return count


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # Totals, not per-pid deltas: a backend that exits moves its CPU time into the postmaster's cutime,
    # so the sum over the tree is continuous while per-pid differences would count it twice.
    return sum(after.values()) - sum(before.values())


def postmaster_pid(db: Any) -> int | None:
    """Our embedded server's postmaster (first line of postmaster.pid); None for BENCH_DATABASE_URL."""
    if db.pg is None:
        return None
    try:
        return int((db.pg.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


# -- pgbench baseline -------------------------------------------------------------------------------
class PgBench:
    """pgbench's TPC-B-like workload in its own database on the benchmark's server."""

    NAME = "xanadu_bench_pgbench"

    def __init__(self, db: Any, clients: int, scale: int = PGBENCH_SCALE):
        self.db, self.clients, self.scale = db, clients, scale
        self.exe = str(db.bin_dir / "pgbench")
        self.conn_args, self.env = db.pgbench_args()
        self.phases: list[dict[str, Any]] = []
        self.latencies: list[float] = []

    def init(self) -> float:
        self.db.create_database(self.NAME)
        started = time.perf_counter()
        subprocess.run([self.exe, *self.conn_args, "-i", "-s", str(self.scale), "-q", self.NAME], env=self.env,
                       check=True, capture_output=True, text=True)
        return time.perf_counter() - started

    @property
    def command(self) -> str:
        return f"pgbench -c {self.clients} -j {min(2, self.clients)} -T <s> -n (scale {self.scale})"

    def run(self, seconds: int) -> dict[str, Any]:
        self.db.checkpoint()
        logdir = Path(tempfile.mkdtemp(prefix="xanadu-pgbench-"))
        meter = CpuMeter(postmaster_pid(self.db))
        done = subprocess.run(
            [self.exe, *self.conn_args, "-c", str(self.clients), "-j", str(min(2, self.clients)), "-T", str(seconds),
             "-n", "-l", "--log-prefix", str(logdir / "pgbench_log"), self.NAME],
            env=self.env, capture_output=True, text=True, cwd=str(logdir),
        )
        cpu = meter.stop()
        try:
            if done.returncode != 0:
                raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
            tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
            count = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
            if not tps or not count:
                raise RuntimeError(f"could not parse pgbench output:\n{done.stdout}")
            for path in glob.glob(str(logdir / "pgbench_log*")):
                with open(path) as fh:
                    for line in fh:
                        parts = line.split()
                        if len(parts) >= 3:
                            self.latencies.append(int(parts[2]) / 1000.0)  # microseconds -> ms
        finally:
            shutil.rmtree(logdir, ignore_errors=True)
        phase = {"tps": float(tps.group(1)), "transactions": int(count.group(1)), "seconds": seconds,
                 "cpu": cpu, "output": done.stdout.strip()}
        self.phases.append(phase)
        return phase

    def combined_tps(self) -> float:
        # Transactions over time across the halves (each half's tps excludes connection set-up).
        return sum(p["transactions"] for p in self.phases) / sum(p["transactions"] / p["tps"] for p in self.phases)

    def drop(self) -> None:
        self.db.drop_database(self.NAME)
