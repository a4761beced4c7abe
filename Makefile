# The two commands: `make run` (whole local system) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e lint format reset token jobs dead-letters bench migrate \
	clean-venv package deploy deploy-check

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
	$(PY) -m devtools.ops $(or $(ARGS),list)

dead-letters: $(STAMP)
	$(PY) -m devtools.ops dead-letters $(if $(REDRIVE),--redrive)

migrate: $(STAMP)
	$(PY) -m devtools.migrate

bench: $(STAMP)
	$(PY) -m bench.run_all

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
