# paretoalign — the user's verbs. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIP_INSTALL := $(PIP) install --disable-pip-version-check -q -c constraints.txt
ENV_STAMP := $(VENV)/.env-stamp
EXT_STAMP := $(VENV)/.ext-stamp
EXT_SOURCES := $(wildcard fastmetrics/CMakeLists.txt fastmetrics/src/*.cpp fastmetrics/include/*/*.hpp)
PYTEST_ARGS ?=

# ------------------------------------------------------------------ environment
$(ENV_STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) pybind11 scikit-build-core scipy-openblas32
	$(PIP_INSTALL) --no-build-isolation -e '.[dev,book,bench]'
	touch $@ $(EXT_STAMP)

$(EXT_STAMP): $(ENV_STAMP) $(EXT_SOURCES)
	$(PIP_INSTALL) --no-build-isolation --no-deps -e .
	touch $@

.PHONY: setup
setup: $(EXT_STAMP) ## Create .venv, install the pinned dependencies and build the extension

# ------------------------------------------------------------------ checks
.PHONY: test
test: setup ## Run the test suite (creates the environment first if needed)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: setup ## Lint with ruff
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests

.PHONY: bench
bench: setup ## Run every benchmark; JSON files land in results/bench/
	mkdir -p results/bench
	$(PY) -m paretoalign bench all --out results/bench

# ------------------------------------------------------------------ housekeeping
.PHONY: clean
clean: ## Remove build outputs (keeps .venv and results/)
	rm -rf build $(EXT_STAMP)

.PHONY: help
help: ## List the verbs
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
