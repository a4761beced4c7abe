# The two commands: `make run` (whole local system) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e browser-test fuzz fuzz-short faults faults-short lint format \
	reset token jobs dead-letters bench bench-quick soak migrate clean-venv package deploy deploy-check

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 packages with pip and requires <26.3
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
# The frontend's sign-in and calls in headless Debian Chromium against a `make run` stack the test starts.
# Installs what it needs: Debian's chromium (as root, when /usr/bin/chromium is missing) and the locked npm
# packages (Amplify v5, axios, esbuild, playwright-core; never a browser download).
BROWSER_DIR := tests/e2e/browser
browser-test: $(STAMP)
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 || { echo "Chromium is missing: run 'apt-get install -y chromium' as root" >&2; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error && npm run -s build
	XANADU_BROWSER_TEST=1 $(PY) -m pytest -q tests/e2e/test_browser.py $(PYTEST_ARGS)

reset:
	rm -rf .var/local

token: $(STAMP)
	$(PY) -m devtools.token $(EMAIL) $(if $(PASSWORD),--password '$(PASSWORD)')

jobs: $(STAMP)
	$(PY) -m devtools.ops $(or $(ARGS),list)

dead-letters: $(STAMP)
	$(PY) -m devtools.ops dead-letters $(if $(REDRIVE),--redrive)

# Import a CSV of members and balances into the running stack (`make run`): make import FILE=members.csv [DRY_RUN=1]
import: $(STAMP)
	@test -n "$(FILE)" || { echo "set FILE=<members.csv> (columns in docs/operator-tools.md)"; exit 2; }
	$(PY) -m devtools.ops import $(FILE) $(if $(DRY_RUN),--dry-run)

migrate: $(STAMP)
	$(PY) -m devtools.migrate

# Benchmarks (not tests; docs/benchmarks.md): every figure beside its same-run baseline, results in bench/results/.
bench: $(STAMP)
	$(PY) -m bench.run_all

# The same in ~2-3 minutes (small N, short phases): re-measure after each change.
bench-quick: $(STAMP)
	$(PY) -m bench.run_all --quick

# 10 minutes of mixed traffic through Lambda-shaped containers with the SQS processor and schedules, then
# the invariants (bench/soak.py; not in CI). ARGS='--minutes 1' for a short run.
soak: $(STAMP)
	$(PY) -m bench.soak $(ARGS)

clean-venv:
	rm -rf $(VENV)

# -- AWS (docs/operations.md) --------------------------------------------------------------------
STAGE ?= dev
OUT := out/$(STAGE)

# The stage's SAM template and deployment zip (python3.12, cp312 wheels) in out/<stage>/.
package: $(STAMP)
	$(PY) -m devtools.package --stage $(STAGE) --out $(OUT)

# Package, upload to S3_BUCKET, deploy the stack xanadu-<stage>. Needs AWS credentials, S3_BUCKET and
# the stage's parameters (infra/stages/<stage>.json or XANADU_DEPLOY_PARAMS); refuses placeholders.
deploy: $(STAMP)
	@test -n "$(S3_BUCKET)" || { echo "set S3_BUCKET=<bucket for deployment artifacts>"; exit 2; }
	$(PY) -m devtools.package --stage $(STAGE) --print-parameters > /dev/null
	$(PY) -m devtools.package --stage $(STAGE) --out $(OUT)
	aws cloudformation package --template-file $(OUT)/sam.yaml --s3-bucket $(S3_BUCKET) \
		--s3-prefix xanadu-$(STAGE) --output-template-file $(OUT)/packaged.yaml
	aws cloudformation deploy --template-file $(OUT)/packaged.yaml --stack-name xanadu-$(STAGE) \
		--s3-bucket $(S3_BUCKET) --s3-prefix xanadu-$(STAGE) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--parameter-overrides $$($(PY) -m devtools.package --stage $(STAGE) --print-parameters) DeploymentId=$$(date -u +%Y%m%dT%H%M%SZ)

# Offline proof for every deployed stage (CI): package, cfn-lint, SAM transform, tests/deploy.
deploy-check: $(STAMP)
	$(PY) -m devtools.deploy_check
