# The README's two commands are `make demo` and `make test`; both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
BENCH_ARGS ?= --db sqlite --processes 1 --concurrency 64 --orders 3000
PYTEST_ARGS ?=
# The suite runs in parallel (pytest-xdist): most tests wait on sockets, PostgreSQL or
# subprocesses, so more workers than the 2 cores we plan for keep both busy. Tests marked
# `xdist_group` (see tests/conftest.py) run on one worker, one after the other.
PYTEST_WORKERS ?= 4

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/tickethub demo $(DEMO_ARGS)

# Byte-code caching stays on for the suite even where the environment turns it off
# (PYTHONDONTWRITEBYTECODE=1, as container images often set): the suite starts hundreds of
# Python processes (the workers, each `python -m hub` a test runs, the plugin kits' own
# pytest runs), and without .pyc files each one compiled hub, plugins and tests from source
# again and pytest re-wrote every test module — collecting the suite cost a worker 18 s of
# CPU instead of 7.5 s. The caches land in __pycache__ folders, which git ignores.
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: install
	$(BIN)/tickethub bench orders $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
