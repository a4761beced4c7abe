# The two commands: `make run` (whole local system) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test reset token jobs dead-letters bench bench-quick migrate clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.run

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

reset:
	rm -rf .var/local

token: $(STAMP)
	$(PY) -m devtools.token $(EMAIL) $(if $(PASSWORD),--password '$(PASSWORD)')

jobs: $(STAMP)
	$(PY) -m devtools.jobs $(or $(ARGS),list)

dead-letters: $(STAMP)
	$(PY) -m devtools.jobs dead-letters $(if $(REDRIVE),--redrive)

migrate: $(STAMP)
	$(PY) -m devtools.migrate

# Benchmarks (not tests; docs/benchmarks.md): every figure beside its same-run baseline, results in bench/results/.
bench: $(STAMP)
	$(PY) -m bench.run_all

# The same in ~2-3 minutes (small N, short phases): re-measure after each change.
bench-quick: $(STAMP)
	$(PY) -m bench.run_all --quick

clean-venv:
	rm -rf $(VENV)
