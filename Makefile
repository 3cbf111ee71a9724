# Everything bootstraps from Python 3.11+ and make: the virtual environment, uv, the locked packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed
export TREMPLIN_DATA_DIR ?= $(abspath ../shared/data)
DEMO_DIR := var/demo
DEMO_DATE ?= 2026-11-23

.PHONY: venv browser postgres demo serve test test-later check bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lock:
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

demo: $(STAMP)
	$(BIN)/python -m tremplin.dev.demo --out $(DEMO_DIR) --date $(DEMO_DATE)

# Debian's chromium for the browser tests of the counsellor pages
browser:
	scripts/install-chromium

# Debian's PostgreSQL server: the store and webhook tests start a throwaway cluster of their own on loopback
postgres:
	scripts/install-postgres

# the counsellor pages on the demo's operational store (after make demo)
serve: $(STAMP)
	$(BIN)/tremplin serve --home $(DEMO_DIR)

test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q

# the same suite with every process's clock a year ahead (Debian's libfaketime: servers and browsers included);
# a test that reads the wall clock, or production code that does outside tremplin.clock, shows up here
test-later: $(STAMP) browser postgres
	scripts/install-faketime
	FAKETIME="+365d" LD_PRELOAD="$$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -1)" \
		$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check tremplin matching connectors dags tests
	$(BIN)/ruff format --check tremplin matching connectors dags tests
	$(BIN)/mypy
	$(BIN)/mypy dags

bench: $(STAMP)
	$(BIN)/tremplin bench --seekers 20000 --vacancies 5000 --out bench/results.json
	$(BIN)/tremplin bench --seekers 200000 --vacancies 50000 --out bench/results.json
	$(BIN)/python -m tremplin.bench --scale --seekers 1000000 --vacancies 200000 --out bench/results.json
	$(BIN)/tremplin bench --airflow --seekers 1000000 --vacancies 200000 --out bench/results.json
	$(BIN)/tremplin bench --quality --out bench/results.json
	$(BIN)/tremplin bench --sms --out bench/results.json
	$(BIN)/tremplin bench --review --out bench/results.json

clean:
	rm -rf $(VENV) var .airflow
