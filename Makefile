# The two commands: `make run` (whole local system) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e fuzz fuzz-short faults faults-short lint format reset token jobs dead-letters bench migrate clean-venv

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.run

# Every tier: unit (no database), integration (PostgreSQL + emulated AWS), e2e (the whole stack).
test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

# Schemathesis over /openapi.json with member, admin and partner credentials (tests/fuzz): zero 5xx and zero
# responses the document does not describe. CI runs the short budget; FUZZ_SECONDS sets any other.
FUZZ_SECONDS ?= 900
fuzz: $(STAMP)
	XANADU_FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -q tests/fuzz $(PYTEST_ARGS)

fuzz-short: $(STAMP)
	XANADU_FUZZ_SECONDS=150 $(PY) -m pytest -q tests/fuzz $(PYTEST_ARGS)

# The fault suite (tests/faults): mixed load while database connections are killed, the database restarts,
# the queue service freezes and dies, the API dies after a commit; then every invariant. Seconds of load
# per scenario: FAULT_SECONDS (CI: the short run).
FAULT_SECONDS ?= 60
faults: $(STAMP)
	XANADU_FAULTS_SECONDS=$(FAULT_SECONDS) $(PY) -m pytest -q -s tests/faults $(PYTEST_ARGS)

faults-short: $(STAMP)
	XANADU_FAULTS_SECONDS=12 $(PY) -m pytest -q -s tests/faults $(PYTEST_ARGS)

# What CI checks before the tests: lint, format and strict types (configuration in pyproject.toml).
LINTED := app.py chalicelib tests
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

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

bench: $(STAMP)
	$(PY) -m bench.run_all

clean-venv:
	rm -rf $(VENV)
