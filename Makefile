# Spectra — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter that bootstraps uv and the venv (never the venv's own python).
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

export SPECTRA_HOME := $(CURDIR)
export SPECTRA_SANDBOX_PORT ?= 50151
# The Gemini stand-in (served by the sandbox process; airflow_settings.yaml points gemini_default at it)
export SPECTRA_LLM_PORT ?= 50251
# The Airflow API server (UI, REST, the tasks' execution API); everything below follows it.
export SPECTRA_AIRFLOW_PORT ?= 8080
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT := 60
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN := sqlite:///$(AIRFLOW_HOME)/airflow.db
export AIRFLOW__API__PORT := $(SPECTRA_AIRFLOW_PORT)
export AIRFLOW__API__HOST := 127.0.0.1
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL := http://127.0.0.1:$(SPECTRA_AIRFLOW_PORT)/execution/
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS := admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE := $(AIRFLOW_HOME)/passwords.json

.PHONY: help install demo test bench up backfill browser lint format airflow-db clean

help:
	@echo "make demo   - install, then run spectra_daily through Airflow on the sandbox (14 days)"
	@echo "make test   - install, then run the whole test suite"
	@echo "make bench  - benchmarks (the full evaluation suite too); figures in var/bench/results.json"
	@echo "make up     - the Airflow UI (airflow standalone) on http://127.0.0.1:$(SPECTRA_AIRFLOW_PORT) over the demo's state"
	@echo "make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD - run spectra_daily for those days (scheduler)"
	@echo "make lint   - ruff check + ruff format --check + import rules (lint-imports, .importlinter) + types (mypy)"

# Idempotent bootstrap: uv (pip-installed if missing) → .venv → pinned requirements → the package.
# Re-runs only when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@test -x $(VENV)/bin/python || $(PYTHON) -m uv venv --quiet --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(VENV)/bin/python -r requirements.txt
	$(PYTHON) -m uv pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	@touch $@

install: $(STAMP)

# Airflow's metadata DB (SQLite inside the checkout), migrated when missing or after an upgrade.
$(AIRFLOW_HOME)/.migrated: $(STAMP)
	@mkdir -p $(AIRFLOW_HOME)
	@test -f $(AIRFLOW_HOME)/passwords.json || echo '{"admin": "admin"}' > $(AIRFLOW_HOME)/passwords.json
	$(BIN)/airflow db migrate >/dev/null
	@touch $@

airflow-db: $(AIRFLOW_HOME)/.migrated

demo: $(STAMP) airflow-db
	PATH="$(BIN):$$PATH" $(BIN)/spectra demo
	@echo; echo "== the closed-loop evaluation (short: 2 scenarios, 3 days, 1 seed; the full suite: spectra evaluate --scenario all)"
	$(BIN)/spectra evaluate --scenario steady aa_null --days 3 --seeds 1 --jobs 2 --out var/demo/evaluation

backfill: $(STAMP) airflow-db
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD"; exit 2; }
	PATH="$(BIN):$$PATH" $(BIN)/spectra backfill --from-date $(FROM) --to-date $(TO)

# The browser test drives Debian's Chromium (never a downloaded browser): installed here when
# missing and possible (root with apt-get); otherwise that test skips and says why.
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium could not be installed: the browser test will be skipped"

# Lint first (ruff, the import contracts, mypy): a type error fails the suite like a failing test.
test: $(STAMP) browser lint
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -n auto -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

up: $(STAMP) airflow-db
	PATH="$(BIN):$$PATH" $(BIN)/spectra up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var .airflow
