"""Run every benchmark, print each figure beside its same-run baseline and target, write bench/results/.

Each benchmark runs in its own Python process (as `python -m bench.<name>`), so one benchmark's imported
app, patched classes or environment never leak into the next.

  python -m bench.run_all                       # everything, full size (~12-15 minutes; make bench)
  python -m bench.run_all --quick               # small N, short phases (~2-3 minutes; make bench-quick)
  python -m bench.run_all --only lambda_load,cold_start
  python -m bench.run_all --ref HEAD            # a committed version (git archive into a temp dir), measured
                                                # with this tree's bench/; handy while the tree is mid-edit
--quick sets BENCH_QUICK=1 and small sizes (see QUICK below) unless the environment already sets them, and
leaves out sqs_processor (no target in issue 11). Knobs: each benchmark's --help (import_members: BENCH_IMPORT_ROWS).
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

BENCHMARKS = ("lambda_load", "cold_start", "import_time", "catalog_read", "expiry", "sqs_processor", "import_members")
QUICK_BENCHMARKS = ("lambda_load", "cold_start", "import_time", "catalog_read", "expiry")
# Quick mode: enough samples for a ratio that moves when the code does, in about two minutes.
QUICK = {
    "BENCH_QUICK": "1",  # lambda_load: 5 s phases, 20 counted iterations, 2 s latency phases, pgbench 2 x 3 s
    "BENCH_COLD_RUNS": "5",
    "BENCH_IMPORT_RUNS": "2",
    "BENCH_CATALOG_CALLS": "600",
    "BENCH_EXPIRY_MEMBERS": "20000",  # 100,000 lots instead of 1,000,000
    "BENCH_EXPIRY_REPEATS": "1",
    "BENCH_SQS_MESSAGES": "300",
}
RESULTS = ROOT / "bench" / "results"


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return ""


def _lines(r: dict) -> list[tuple[str, str, str, str]]:
    """(figure, baseline, project, ratio and target) rows of one benchmark's result."""
    d, checks = r["data"], {c["what"]: c for c in r["checks"]}

    def judged(what: str, text: str) -> str:
        c = checks.get(what)
        return f"{text} ({c['target']}) {verdict(c['ok'])}" if c else text

    name = r["name"]
    if name == "lambda_load":
        rows = []
        base = d["pgbench"]["tps"]
        for t in d["throughput"]:
            what = f"{t['scenario']} tps ratio ({d['workers']} workers)"
            lat = t["latency"].get(t["scenario"], {})  # the scenario's main request (checkout: the checkout call)
            ratio = f"{t['tps_ratio']:.3f}"
            rows.append((f"{t['scenario']} x{d['workers']} {t['variant']}", f"pgbench {base:.0f} tps",
                         f"{t['ops_per_s']:.0f}/s p50 {lat.get('p50_ms', float('nan')):.1f} p99 "
                         f"{lat.get('p99_ms', float('nan')):.1f} ms",
                         judged(what, ratio) if t["variant"] == "today" else ratio + " (prototype)"))
        counts = {(c["scenario"], c["variant"]): c for c in d["counts"]}
        for (scenario, variant), c in counts.items():
            trips = ", ".join(f"{k} {v['mean']:.1f}" for k, v in c["flights"].items())
            rows.append((f"round trips {scenario} {variant}", "counted on the wire", trips,
                         f"{c['statements_per_op']:.1f} statements/op"))
        for lat in d["latency"]:
            kind = lat["scenario"]
            direct, relay = lat["direct"].get(kind), lat["relay"].get(kind)
            if not direct or not relay:
                continue
            what = f"{kind} p50 via {d['delay_ms']:g} ms relay (ms)"
            text = f"p50 {relay['p50_ms']:.2f} ms"
            rows.append((f"{kind} via {d['delay_ms']:g} ms hop {lat['variant']}", f"direct p50 {direct['p50_ms']:.2f} ms",
                         f"p50 {relay['p50_ms']:.2f} p99 {relay['p99_ms']:.2f} ms",
                         judged(what, text) if lat["variant"] == "today" and what in checks else text))
        if "equivalence" in d:
            rows.append(("prototype == today", "today's code", f"{d['equivalence']['steps']} steps",
                         "identical" if d["equivalence"]["ok"] else "DIFFERENT"))
        return rows
    if name == "cold_start":
        return [("cold start (median)", f"bare {d['baseline_median_ms']:.1f} ms", f"{d['project_median_ms']:.1f} ms",
                 judged("median ratio", f"{d['ratio']:.2f}x"))]
    if name == "import_time":
        return [("imports (self time)", f"bare {d['baseline_total_ms']:.0f} ms",
                 f"{d['project_total_ms']:.0f} ms (ours {d['ours_ms']:.0f})", "info: see the per-module list")]
    if name == "catalog_read":
        return [("warm catalog p50", f"raw {d['baseline_median_ms']:.3f} ms", f"{d['project_median_ms']:.3f} ms",
                 judged("median ratio", f"{d['median_ratio']:.2f}x")),
                ("warm catalog p99", f"raw {d['baseline_p99_ms']:.3f} ms", f"{d['project_p99_ms']:.3f} ms",
                 judged("p99 ratio", f"{d['p99_ratio']:.2f}x"))]
    if name == "expiry":
        return [(f"expiry {d['lots']:,} lots", f"statement {d['statement_s']:.1f} s",
                 f"job {d['job_s']:.1f} s, {d['job_max_rss_mb']:.0f} MB",
                 judged("job / statement time", f"{d['ratio']:.2f}x") + "; "
                 + judged("job peak RSS MB", f"{d['job_max_rss_mb']:.0f} MB"))]
    if name == "import_members":
        return [(f"import {d['rows']:,} rows", f"COPY (unlogged) {d['copy_s']:.1f} s",
                 f"import {d['import_s']:.1f} s, {d['import_max_rss_mb']:.0f} MB",
                 judged("import / COPY time", f"{d['ratio']:.1f}x") + "; "
                 + judged("import peak RSS MB", f"{d['import_max_rss_mb']:.0f} MB"))]
    if name == "sqs_processor":
        return [("order events", f"direct {d['baseline_msgs_per_s']:.0f} msg/s", f"{d['project_msgs_per_s']:.0f} msg/s",
                 judged("throughput ratio", f"{d['ratio']:.2f}x"))]
    return [(name, "", "", verdict(r["ok"]))]


def _summary(results: list[dict], failures: dict[str, str]) -> str:
    rows = [("figure", "same-run baseline", "project", "ratio (target) verdict")]
    for r in results:
        rows += _lines(r)
    rows += [(name, "ERROR", error, "") for name, error in failures.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[j]) if j < 3 else cell for j, cell in enumerate(row)))
        if i == 0:
            out.append("-" * (sum(widths) + 40))
    return "\n".join(out)


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


def run_at_ref(ref: str, only: list[str], quick: bool = False) -> int:
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
        return subprocess.run([sys.executable, "-m", "bench.run_all", "--only", ",".join(only)]
                              + (["--quick"] if quick else []), cwd=tmp, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small N, short phases (~2-3 minutes)")
    parser.add_argument("--ref", help="measure this git ref instead of the working tree")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            os.environ.setdefault(name, value)
    default = QUICK_BENCHMARKS if args.quick else BENCHMARKS
    only = [n.strip() for n in (args.only or ",".join(default)).split(",") if n.strip()]
    unknown = [n for n in only if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if args.ref:
        return run_at_ref(args.ref, only, args.quick)
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    code = os.environ.get("BENCH_CODE") or (f"working tree at {head}" + (" + uncommitted changes" if dirty else "")
                                            if head else "working tree")
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or RESULTS)
    return run_here(only, results_dir, {"code": code, "quick": args.quick})


if __name__ == "__main__":
    sys.exit(main())
