"""Where a cold start's imports go: `python -X importtime` on the cold-start child, aggregated.

Runs bench/_cold_child.py (fresh interpreter, import the app, first GET /prod/products through the
handler) under `-X importtime`, several times per side, and sums each module's *self* time into groups:
each of our modules (`app`, `chalicelib.*`) by name, third-party code by top-level package (pydantic,
pydantic_core, chalice, pg8000, ...), and the standard library as one line. Medians over the runs.
The baseline (bench/bare_app.py) shows what any Chalice + pg8000 function imports anyway; the
difference is what the project adds. Wall-clock figures from -X importtime include its own overhead,
so read them as shares, not as the cold-start time (bench/cold_start.py measures that).

  python -m bench.import_time [--runs 5] [--top 25]     (env: BENCH_IMPORT_RUNS)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

from bench.common import ROOT, Result, api_gateway_event, app_env, cold_env, env_int, median, postgres

CHILD = ROOT / "bench" / "_cold_child.py"
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
OURS = ("app", "chalicelib", "bare_app")


def group_of(module: str) -> str:
    """Our modules by full name; everything else by top-level package; the standard library as one."""
    top = module.split(".")[0]
    if top in OURS:
        return module
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "(stdlib)"
    return top


def _sample(kind: str, env: dict[str, str]) -> tuple[dict[str, float], float]:
    done = subprocess.run([sys.executable, "-X", "importtime", str(CHILD), kind], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    groups: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            groups[group_of(m.group(4))] += int(m.group(1)) / 1000.0
    total = json.loads([l for l in done.stdout.splitlines() if l.startswith("{")][-1])["ms"]
    return dict(groups), total


def run(runs: int | None = None, top: int = 25) -> Result:
    runs = runs or env_int("BENCH_IMPORT_RUNS", 5)
    result = Result("import_time", "Import time per module: the cold-start child under -X importtime")
    print(f"[import_time] {runs} runs per side")
    samples: dict[str, list[dict[str, float]]] = {"baseline": [], "project": []}
    totals: dict[str, list[float]] = {"baseline": [], "project": []}
    with postgres("xanadu_bench_imports") as db:
        env = cold_env(app_env(db.url))
        env.update({"XANADU_AUTH_MODE": "cognito", "BENCH_PROJECT_ROOT": str(ROOT),
                    "BENCH_EVENT": json.dumps(api_gateway_event("GET", "/prod/products"))})
        for kind in ("baseline", "project"):  # warm-up: bytecode in __pycache__
            _sample(kind, env)
        for i in range(runs):
            for kind in (("baseline", "project") if i % 2 == 0 else ("project", "baseline")):
                groups, total = _sample(kind, env)
                samples[kind].append(groups)
                totals[kind].append(total)

    def medians(kind: str) -> dict[str, float]:
        names = {name for s in samples[kind] for name in s}
        return {name: median([s.get(name, 0.0) for s in samples[kind]]) for name in names}

    base, proj = medians("baseline"), medians("project")
    base_sum, proj_sum = sum(base.values()), sum(proj.values())
    ours = sum(v for k, v in proj.items() if k.split(".")[0] in OURS)
    extra = {k: v - base.get(k, 0.0) for k, v in proj.items()}
    result.rows += [
        ("imports, baseline", f"{base_sum:.1f} ms of self time (bare Chalice + pg8000); whole cold start "
                              f"{median(totals['baseline']):.1f} ms under -X importtime"),
        ("imports, project", f"{proj_sum:.1f} ms, of which our modules {ours:.1f} ms; whole cold start "
                             f"{median(totals['project']):.1f} ms under -X importtime"),
        ("project - baseline", f"{proj_sum - base_sum:.1f} ms more imports; the largest differences:"),
    ]
    for name, ms in sorted(extra.items(), key=lambda kv: -kv[1])[:top]:
        if ms < 0.3:
            break
        result.rows.append(("", f"{ms:7.1f} ms  {name}" + (f"  (baseline {base[name]:.1f} ms)" if name in base else "")))
    result.data = {"baseline_ms": base, "project_ms": proj, "baseline_total_ms": base_sum,
                   "project_total_ms": proj_sum, "ours_ms": ours, "runs": runs,
                   "cold_start_ms": {k: median(v) for k, v in totals.items()}}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    from bench.common import finish

    return finish(run(args.runs, args.top), args.json)


if __name__ == "__main__":
    sys.exit(main())
