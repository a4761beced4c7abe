"""Benchmarks (not tests): each prints a baseline, the project's figure and their ratio, measured in one run.

Run all: `make bench` (= `python -m bench.run_all`); one: `python -m bench.cold_start`,
`python -m bench.catalog_read`, `python -m bench.checkout_throughput`. See docs/benchmarks.md.
"""
