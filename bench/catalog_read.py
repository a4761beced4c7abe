"""Warm catalog read: GET /prod/products through the Lambda handler of a warm container.

One process. Project: `app.app(event, context)` with an API Gateway REST proxy event for
GET /prod/products (routing, middleware, the catalog service, the repository's query on the pooled
pg8000 connection, pydantic models, JSON body, response dict). Baseline: the same SQL on a
pg8000.native connection, rows zipped into dicts and `json.dumps`-ed: the least any implementation
of this route can do in Python with this driver.

Both run after a warm-up, in alternating blocks (so drift and GC hit both), and both must produce
the same products in the same order. Targets (issue 11): median ratio <= 1.2 and p99 ratio <= 1.2.

  python -m bench.catalog_read [--calls 2000] [--warmup 200] [--blocks 4]   (env: BENCH_CATALOG_CALLS)
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time

from bench.common import (
    PRODUCTS_SQL,
    FakeLambdaContext,
    Result,
    api_gateway_event,
    app_env,
    apply_env,
    env_int,
    median,
    percentile,
    postgres,
)

TARGET_RATIO = 1.2


def run(calls: int | None = None, warmup: int = 200, blocks: int = 4) -> Result:
    calls = calls or env_int("BENCH_CATALOG_CALLS", 2000)
    result = Result("catalog_read", "Warm catalog read: GET /prod/products via the Lambda handler")
    print(f"[catalog_read] setting up ({calls} calls per side, {warmup} warm-up)")
    with postgres("xanadu_bench_catalog") as db:
        apply_env(app_env(db.url))
        import app as app_module  # after the environment, as in a Lambda container

        handler = app_module.app
        event = api_gateway_event("GET", "/prod/products")
        context = FakeLambdaContext()
        raw = db.conn()

        def project() -> str:
            return handler(event, context)["body"]

        def baseline() -> str:
            rows = raw.run(PRODUCTS_SQL)
            names = [c["name"] for c in raw.columns]
            return json.dumps({"products": [dict(zip(names, row)) for row in rows]}, default=str)

        # Same rows, same order, same values (the project may format floats/ids its own way).
        mine, theirs = json.loads(project())["products"], json.loads(baseline())["products"]
        assert len(mine) == len(theirs) == db.active_products() > 0, (len(mine), len(theirs))
        for a, b in zip(mine, theirs):
            assert all(a.get(k) == v for k, v in b.items()), f"project row {a} differs from baseline row {b}"

        for _ in range(warmup):
            project()
            baseline()
        samples: dict[str, list[float]] = {"baseline": [], "project": []}
        per_block = max(1, calls // blocks)
        clock = time.perf_counter_ns
        gc.collect()
        for block in range(blocks):
            order = (("baseline", baseline), ("project", project))
            if block % 2:
                order = order[::-1]
            for name, fn in order:
                out = samples[name]
                for _ in range(per_block):
                    started = clock()
                    fn()
                    out.append((clock() - started) / 1e6)
        raw.close()
        from bench.project import reset_database

        reset_database()

    b, p = samples["baseline"], samples["project"]
    b50, p50, b99, p99 = median(b), median(p), percentile(b, 99), percentile(p, 99)
    result.rows += [
        ("baseline", f"median {b50:.3f} ms, p99 {b99:.3f} ms (pg8000.native + json.dumps)"),
        ("project", f"median {p50:.3f} ms, p99 {p99:.3f} ms (app.app(event, ctx))"),
        ("calls", f"{len(p)} per side after {warmup} warm-up, {blocks} alternating blocks"),
    ]
    result.check("median ratio", p50 / b50, f"<= {TARGET_RATIO}", p50 / b50 <= TARGET_RATIO)
    result.check("p99 ratio", p99 / b99, f"<= {TARGET_RATIO}", p99 / b99 <= TARGET_RATIO)
    result.data = {"baseline_median_ms": b50, "baseline_p99_ms": b99, "project_median_ms": p50,
                   "project_p99_ms": p99, "median_ratio": p50 / b50, "p99_ratio": p99 / b99,
                   "calls": len(p), "target": TARGET_RATIO}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=None, help="calls per side (default $BENCH_CATALOG_CALLS or 2000)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--json", help="also write the result as JSON to this path")
    args = parser.parse_args(argv)
    from bench.common import finish

    return finish(run(args.calls, args.warmup, args.blocks), args.json)


if __name__ == "__main__":
    sys.exit(main())
