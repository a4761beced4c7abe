"""Cold start: a fresh Python process imports the app and serves its first GET /prod/products.

Each sample is a new interpreter (`bench/_cold_child.py`) that takes the time on its first line,
imports the app, builds nothing else, calls the Lambda handler (`app.app(event, context)`) with an API
Gateway REST proxy event and stops the clock when it holds the response dict. So a sample covers
imports, lazy settings/DB set-up, the first connection to PostgreSQL, the query and serialisation:
what a Lambda cold start adds on top of the runtime's own interpreter start (which both sides pay
equally and is excluded; the parent-observed process time is reported too, for information).

Baseline: bench/bare_app.py, a bare Chalice app whose one route runs the same SQL with
pg8000.native and json.dumps the rows. Samples alternate baseline/project so drift hits both.
Target (issue 11): project median / baseline median <= 1.2.

  python -m bench.cold_start [--runs 15] [--warmup 1]      (env: BENCH_COLD_RUNS)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench.common import (
    ROOT,
    Result,
    api_gateway_event,
    app_env,
    cold_env,
    env_int,
    median,
    percentile,
    postgres,
)

TARGET_RATIO = 1.2
CHILD = ROOT / "bench" / "_cold_child.py"


def _sample(kind: str, env: dict[str, str], expected: int) -> tuple[float, float, float]:
    """(wall ms measured by the child, its CPU ms over the same span, ms the parent saw from spawn to exit)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(CHILD), kind], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120)
    wall = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{kind} cold start failed:\n{done.stdout}\n{done.stderr}")
    line = [l for l in done.stdout.splitlines() if l.startswith("{") and '"ms"' in l][-1]
    out = json.loads(line)
    if out["status"] != 200 or out["products"] != expected:
        raise RuntimeError(f"{kind} answered {out} (expected 200 with {expected} products)")
    return out["ms"], out["cpu_ms"], wall


def run(runs: int | None = None, warmup: int = 1) -> Result:
    runs = runs or env_int("BENCH_COLD_RUNS", 15)
    result = Result("cold_start", "Cold start: first GET /prod/products in a fresh process")
    print(f"[cold_start] setting up ({runs} samples per side, {warmup} warm-up)")
    with postgres("xanadu_bench_cold") as db:
        env = cold_env(app_env(db.url))
        env["XANADU_AUTH_MODE"] = "cognito"  # as deployed: API Gateway's authorizer, no token verification code
        env["BENCH_PROJECT_ROOT"] = str(ROOT)
        env["BENCH_EVENT"] = json.dumps(api_gateway_event("GET", "/prod/products"))
        expected = db.active_products()
        # Warm-up: byte-compiles both sides into __pycache__ and warms the OS page cache, so both are
        # measured with cached bytecode (what a deployed package with .pyc files would see).
        for _ in range(warmup):
            _sample("baseline", env, expected)
            _sample("project", env, expected)
        base_ms, proj_ms, base_cpu, proj_cpu, base_wall, proj_wall = [], [], [], [], [], []
        for i in range(runs):
            order = ("baseline", "project") if i % 2 == 0 else ("project", "baseline")
            for kind in order:
                ms, cpu, wall = _sample(kind, env, expected)
                (base_ms if kind == "baseline" else proj_ms).append(ms)
                (base_cpu if kind == "baseline" else proj_cpu).append(cpu)
                (base_wall if kind == "baseline" else proj_wall).append(wall)
    b, p = median(base_ms), median(proj_ms)
    ratio = p / b
    result.rows += [
        ("baseline median", f"{b:.1f} ms (bare Chalice + pg8000, min {min(base_ms):.1f}, p90 {percentile(base_ms, 90):.1f})"),
        ("project median", f"{p:.1f} ms (app.py, min {min(proj_ms):.1f}, p90 {percentile(proj_ms, 90):.1f})"),
        ("child CPU (info)", f"baseline {median(base_cpu):.1f} ms, project {median(proj_cpu):.1f} ms, ratio "
                             f"{median(proj_cpu) / median(base_cpu):.2f} (same span; less sensitive to a busy machine)"),
        ("process wall (info)", f"baseline {median(base_wall):.1f} ms, project {median(proj_wall):.1f} ms "
                                f"(spawn to exit, incl. interpreter start)"),
        ("samples", f"{runs} per side, interleaved"),
    ]
    result.check("median ratio", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
    result.data = {"baseline_ms": base_ms, "project_ms": proj_ms, "baseline_cpu_ms": base_cpu,
                   "project_cpu_ms": proj_cpu, "cpu_ratio": median(proj_cpu) / median(base_cpu),
                   "baseline_wall_ms": base_wall,
                   "project_wall_ms": proj_wall, "baseline_median_ms": b, "project_median_ms": p,
                   "ratio": ratio, "target": TARGET_RATIO}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=None, help="samples per side (default $BENCH_COLD_RUNS or 15)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    from bench.common import finish

    return finish(run(args.runs, args.warmup), args.json)


if __name__ == "__main__":
    sys.exit(main())
