"""Benchmarks (not tests): each prints a baseline, the project's figure and their ratio, measured in one run.

Run all: `make bench` (= `python -m bench.run_all`), or `make bench-quick` (~2-3 minutes); one:
`python -m bench.lambda_load`, `python -m bench.cold_start`, `python -m bench.import_time`,
`python -m bench.catalog_read`, `python -m bench.expiry`, `python -m bench.sqs_processor`.
See docs/benchmarks.md and docs/performance.md.
"""
