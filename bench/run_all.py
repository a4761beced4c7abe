"""Run every benchmark, print a summary table, write bench/results/<timestamp>.json.

Each benchmark runs in its own Python process (as `python -m bench.<name>`), so one benchmark's imported
app, patched classes or environment never leak into the next. Defaults take about 12 minutes in all (the full-size expiry benchmark is ~9 of them; BENCH_EXPIRY_MEMBERS shrinks it).

  python -m bench.run_all                       # the code in this working tree
  python -m bench.run_all --only cold_start,catalog_read
  python -m bench.run_all --ref HEAD            # a committed version (git archive into a temp dir), measured
                                                # with this tree's bench/; handy while the tree is mid-edit
Knobs (env): BENCH_COLD_RUNS, BENCH_CATALOG_CALLS, BENCH_CHECKOUT_SECONDS, BENCH_PGBENCH_SECONDS, BENCH_SOLO_SECONDS,
BENCH_CLIENTS, BENCH_SQS_MESSAGES, BENCH_EXPIRY_MEMBERS, BENCH_EXPIRY_LOTS_PER_MEMBER, BENCH_IMPORT_ROWS, BENCH_DATABASE_URL (use that server instead of an embedded one), BENCH_NAGLE.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, machine_info, verdict, write_json

BENCHMARKS = ("cold_start", "catalog_read", "checkout_throughput", "sqs_processor", "expiry", "import_members")
RESULTS = ROOT / "bench" / "results"


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return ""


def _summary(results: list[dict], failures: dict[str, str]) -> str:
    lines = [f"{'benchmark':<21} {'baseline':<26} {'project':<36} {'ratio / check':<34} verdict",
             "-" * 128]
    for r in results:
        d = r["data"]
        if r["name"] == "cold_start":
            base = f"{d['baseline_median_ms']:.1f} ms median"
            proj = f"{d['project_median_ms']:.1f} ms median"
        elif r["name"] == "sqs_processor":
            base = f"{d['baseline_msgs_per_s']:.0f} msg/s direct writes"
            proj = f"{d['project_msgs_per_s']:.0f} msg/s via the SQS handler"
        elif r["name"] == "expiry":
            base = f"{d['statement_s']:.1f} s one statement"
            proj = f"{d['job_s']:.1f} s job, {d['job_max_rss_mb']:.0f} MB peak RSS"
        elif r["name"] == "import_members":
            base = f"{d['copy_s']:.1f} s COPY (unlogged)"
            proj = f"{d['import_s']:.1f} s import, {d['import_max_rss_mb']:.0f} MB peak RSS"
        elif r["name"] == "catalog_read":
            base = f"{d['baseline_median_ms']:.3f} / {d['baseline_p99_ms']:.3f} ms p50/p99"
            proj = f"{d['project_median_ms']:.3f} / {d['project_p99_ms']:.3f} ms p50/p99"
        else:
            base = f"{d['pgbench_tps']:.0f} tps (pgbench TPC-B)"
            proj = f"{d['project_tps']:.1f}/s, p99 {d['checkout_p99_ms']:.1f} ms"
        checks = [f"{c['what']} {c['value']:g} ({c['target']}) {verdict(c['ok'])}" for c in r["checks"]]
        lines.append(f"{r['name']:<21} {base:<26} {proj:<36} {checks[0]:<34} {verdict(r['ok'])}")
        for extra in checks[1:]:
            lines.append(f"{'':<21} {'':<26} {'':<36} {extra:<34}")
    for name, error in failures.items():
        lines.append(f"{name:<21} ERROR: {error}")
    return "\n".join(lines)


def run_here(only: list[str], results_dir: Path, meta: dict) -> int:
    started = time.time()
    info = {**machine_info(), **meta}
    print(f"Benchmarks on {info['nproc']} x {info['cpu']}, Python {info['python']}, {info['date']} "
          f"(load average at start {info['loadavg_at_start']})")
    results: list[dict] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="xanadu-bench-") as tmp:
        for name in only:
            out = Path(tmp) / f"{name}.json"
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--json", str(out)], cwd=str(ROOT))
            print(f"  ({name} took {time.perf_counter() - t0:.0f}s)")
            if done.returncode != 0 or not out.exists():
                failures[name] = f"exit status {done.returncode}"
                continue
            results.append(json.loads(out.read_text()))
    table = _summary(results, failures)
    print("\n== Summary ==\n" + table)
    path = results_dir / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + ".json")
    write_json(path, {"machine": info, "elapsed_s": round(time.time() - started, 1), "results": results,
                      "errors": failures, "summary": table.splitlines()})
    print(f"\nwritten: {path}")
    return 1 if failures else 0


def run_at_ref(ref: str, only: list[str]) -> int:
    """Export `ref` with git archive, put this tree's bench/ in it, and run there."""
    commit = _git("rev-parse", ref)
    if not commit:
        print(f"unknown git ref {ref!r}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="xanadu-bench-ref-") as tmp:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        shutil.rmtree(Path(tmp) / "bench", ignore_errors=True)
        shutil.copytree(ROOT / "bench", Path(tmp) / "bench",
                        ignore=shutil.ignore_patterns("results", "__pycache__"))
        env = {**os.environ, "BENCH_RESULTS_DIR": str(RESULTS), "BENCH_CODE": f"{ref} = {commit} (git archive)"}
        print(f"measuring {ref} ({commit[:10]}) exported to {tmp}")
        return subprocess.run([sys.executable, "-m", "bench.run_all", "--only", ",".join(only)],
                              cwd=tmp, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--ref", help="measure this git ref instead of the working tree")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in only if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if args.ref:
        return run_at_ref(args.ref, only)
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    code = os.environ.get("BENCH_CODE") or (f"working tree at {head}" + (" + uncommitted changes" if dirty else "")
                                            if head else "working tree")
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS)
    return run_here(only, results_dir, {"code": code})


if __name__ == "__main__":
    sys.exit(main())
