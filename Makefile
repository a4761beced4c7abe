# The two commands: `make run` (whole local system) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test browser-test reset token jobs dead-letters bench migrate clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.run

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

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
	$(PY) -m devtools.jobs $(or $(ARGS),list)

dead-letters: $(STAMP)
	$(PY) -m devtools.jobs dead-letters $(if $(REDRIVE),--redrive)

migrate: $(STAMP)
	$(PY) -m devtools.migrate

bench: $(STAMP)
	$(PY) -m bench.run_all

clean-venv:
	rm -rf $(VENV)
