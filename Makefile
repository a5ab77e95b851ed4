# revops: `make demo` runs the whole pipeline on embedded defaults; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.revops-installed
# (defined before the rules that name them: make expands prerequisites as it reads)
# Superset in its own venv (its pins conflict with the project's): bi/requirements.txt
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.revops-bi-installed
BI_ENV := SUPERSET_CONFIG_PATH=$(CURDIR)/bi/superset_config.py SUPERSET_HOME=$(CURDIR)/.revops/bi

.PHONY: bi bi-serve demo test test-fast bench lint format warehouse-start warehouse-stop clean help

help:
	@echo "make demo   - set up .venv and run the pipeline end to end on the simulator"
	@echo "make test   - set up .venv and run the test suite"
	@echo "make bench  - run the benchmarks"
	@echo "make lint   - ruff"
	@echo "make bi     - Superset (in .venv-bi) on the warehouse's marts, as bi_reader"

# pip byte-compiles every package as it installs (about half of a fresh install's 58 s here).
# Kept: with PYTHONDONTWRITEBYTECODE set (as on this machine) nothing else writes .pyc files, and
# every process would compile each module it imports (a fresh clone's pytest: 652 s, not 530 s)
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "revops needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing revops and its pinned dependencies into $(VENV) (first time: a few minutes)"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/revops demo

# the tests run on TEST_WORKERS pytest-xdist workers: most of the suite waits on subprocesses
# and servers (Airflow, dbt, PostgreSQL, Chromium), so a 2-core machine runs 3 at once
TEST_WORKERS ?= 3

# the two virtual environments install side by side (each pip mostly waits on unpacking)
test:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(BI_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

bench: $(STAMP)
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_attribution.py
	$(BIN)/python scripts/bench_attribution_marts.py
	$(BIN)/python scripts/bench_next_day.py
	$(BIN)/python scripts/bench_airflow.py

lint: $(STAMP)
	$(BIN)/ruff check src dags tests scripts airflow_config
	$(BIN)/ruff format --check src dags tests scripts airflow_config

format: $(STAMP)
	$(BIN)/ruff format src dags tests scripts airflow_config

warehouse-start: $(STAMP)
	$(BIN)/revops warehouse status >/dev/null || $(BIN)/revops warehouse start

warehouse-stop: $(STAMP)
	$(BIN)/revops warehouse stop


$(BI_STAMP): bi/requirements.txt
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	@echo "installing Superset into $(BI_VENV) (first time: about a minute)"
	@$(BI_VENV)/bin/python -m pip install -q --upgrade pip
	@$(BI_VENV)/bin/python -m pip install -q -r bi/requirements.txt
	@touch $(BI_STAMP)

bi: $(STAMP) $(BI_STAMP)
	$(BIN)/revops warehouse status >/dev/null || $(BIN)/revops warehouse start
	$(BI_ENV) $(BI_VENV)/bin/python bi/setup.py "$$($(BIN)/revops warehouse url --show-password)"

bi-serve: $(BI_STAMP)
	$(BI_ENV) $(BI_VENV)/bin/superset run -p 8088 --with-threads

clean:
	-$(BIN)/revops warehouse stop
	rm -rf .revops out
