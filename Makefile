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

.PHONY: test-slow
test-slow: setup ## Run the test suite including the tests marked slow
	RUN_SLOW=1 $(PY) -m pytest $(PYTEST_ARGS)

# The workflow and citation checkers live in their own environment: cffconvert pins
# jsonschema < 4, which the book's tools must not be held to. See constraints-lint.txt.
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.env-stamp

$(LINT_STAMP): constraints-lint.txt
	@test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --disable-pip-version-check -q -r constraints-lint.txt
	touch $@

.PHONY: lint
lint: setup $(LINT_STAMP) ## Lint: ruff (Python), actionlint (.github/workflows), cffconvert (CITATION.cff)
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests
	$(LINT_VENV)/bin/actionlint .github/workflows/*.yml
	$(LINT_VENV)/bin/cffconvert --validate --infile CITATION.cff

.PHONY: bench
bench: setup ## Run every benchmark; JSON files land in results/bench/
	mkdir -p results/bench
	$(PY) -m paretoalign bench all --out results/bench

# ------------------------------------------------------------------ the study (make reproduce)
# A chain of real file targets under results/$(PROFILE)/: a rerun after no change does
# nothing, and editing one table of configs/$(PROFILE).toml reruns only the steps that read
# it (each profile table is mirrored into results/$(PROFILE)/config/<table>.json, rewritten
# only when that table changes). Each step also depends on the code of the layers it runs.
PROFILE ?= default
RESULTS_ROOT ?= results
R := $(RESULTS_ROOT)/$(PROFILE)
CONFIG ?= configs/$(PROFILE).toml
SEC := $(R)/config
REPRO := $(PY) -m paretoalign.repro
CLI ?= $(PY) -m paretoalign
STEP = $(REPRO) run --log $(R)/timings.json --step
code = $(wildcard $(foreach d,$(1),src/paretoalign/$(d)/*.py)) $(wildcard src/paretoalign/*.py)
# the command-line module of a step (what it writes, e.g. train's summary.json, lives there)
cli = src/paretoalign/cli/$(1).py

DATA := $(R)/data/stats.json
CALIB := $(R)/data/calibration.json
TRAIN := $(R)/train/summary.json
SEEDS := $(R)/seeds/seeds.json
FRONT := $(R)/front.parquet
GROUPS := $(R)/groups.json
KPIS := $(R)/kpis.parquet
EXPERIMENT := $(R)/experiment.json
ALIGN := $(R)/alignment.parquet
ALIGN_SUMMARY := $(R)/alignment_summary.json
HEADLINE := $(R)/figures/headline.png
VALID := $(R)/validation.json
BENCH_TASKS ?= data world topk metrics train serve
# `make reproduce` times the benchmarks at small sizes (BENCH_SIZE=quick, a few minutes)
# into the profile's own folder, which the book's performance chapter reads; the sizes the
# issues ask for (BENCH_SIZE=full, about an hour on 2 cores) go to results/bench/, written
# by `make bench` or `make reproduce BENCH_SIZE=full`.
BENCH_SIZE ?= quick
ifeq ($(BENCH_SIZE),full)
BENCH_DIR := $(RESULTS_ROOT)/bench
BENCH_FLAGS :=
else
BENCH_DIR := $(R)/bench
BENCH_FLAGS := --quick
endif
BENCH := $(foreach t,$(BENCH_TASKS),$(BENCH_DIR)/$(t).json)
# Steps that write several files have every one of them as a target (grouped `&:` rules),
# so a step interrupted after its first file is rerun.
RESULTS := $(DATA) $(CALIB) $(TRAIN) $(SEEDS) $(FRONT) $(GROUPS) $(KPIS) $(EXPERIMENT) $(ALIGN) \
	$(ALIGN_SUMMARY) $(HEADLINE) $(VALID) $(BENCH)
# A profile on a real data set (`[data] source = "folder"`, e.g. otto) runs the offline
# half only: a log cannot answer slates it never showed, so there is no experiment, no
# alignment and no book (whose chapters 4-6 need the shop). Its data folder is written
# once by `paretoalign data ...` (see book/real-data.md).
DATA_SOURCE := $(shell sed -n '/^\[data\]/,/^\[/s/^source *= *"\([a-z]*\)".*/\1/p' $(CONFIG) 2>/dev/null)
ifeq ($(DATA_SOURCE),folder)
DATA_FOLDER := $(shell sed -n '/^\[data\]/,/^\[/s/^folder *= *"\([^"]*\)".*/\1/p' $(CONFIG))
DATA := $(DATA_FOLDER)/stats.json
RESULTS := $(DATA) $(TRAIN) $(FRONT) $(GROUPS) $(BENCH)
endif

NOTEBOOKS := 01_data 02_training 03_front 04_experiment 05_alignment 06_validation 07_performance
EXECUTED := $(foreach n,$(NOTEBOOKS),$(R)/notebooks/$(n).ipynb)
BOOK_SOURCES := $(wildcard book/*.md book/*.yml book/*.bib)
# book/real-data.md is executed by the build itself: it runs `paretoalign align` on the
# bundled example experiment, so its output depends on that code and those files too.
BOOK_CODE := $(wildcard $(addprefix src/paretoalign/align/examples/,*.py *.csv)) $(call code,align front plots) \
	$(call cli,align)
BOOK_HTML := book/_build/html
BOOK_STAMP := book/_build/.built-$(PROFILE)
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX := book/_static_vendor/mathjax/tex-mml-chtml.js

$(SEC)/.stamp: $(CONFIG) src/paretoalign/config.py | $(EXT_STAMP)
	$(REPRO) sections --profile $(CONFIG) --out $(SEC)
	touch $@
$(SEC)/%.json: $(SEC)/.stamp ;

# `make book` renders existing results without running pipeline steps (PIPELINE=off).
ifneq ($(PIPELINE),off)
ifeq ($(DATA_SOURCE),folder)
$(DATA):
	@echo "error: no data set in $(DATA_FOLDER)/ for PROFILE=$(PROFILE); write it once with"
	@echo "  $(CLI) data otto TRAIN.jsonl TEST.jsonl --out $(DATA_FOLDER)"
	@echo "(or 'data yoochoose' / 'data diginetica'); see book/real-data.md"
	@exit 1
else
$(DATA): $(SEC)/data.json $(SEC)/shop.json $(call code,data world) $(call cli,world) | $(EXT_STAMP)
	$(STEP) data -- $(CLI) world simulate --profile $(PROFILE)
endif

$(CALIB): $(DATA) $(call cli,world) | $(EXT_STAMP)
	$(STEP) calibrate -- $(CLI) world calibrate --profile $(PROFILE) --json $@

$(TRAIN): $(DATA) $(SEC)/train.json $(call code,data model ranking metrics front world) $(call cli,train) $(EXT_SOURCES) | $(EXT_STAMP)
	$(STEP) train -- $(CLI) train --profile $(PROFILE)

# the profile's model once more for each seed of [seeds] (the training chapter's table)
$(SEEDS): $(TRAIN) $(SEC)/seeds.json $(call code,data model ranking metrics front world) $(call cli,train) $(call cli,seeds) $(EXT_SOURCES) | $(EXT_STAMP)
	$(STEP) seeds -- $(CLI) seeds --profile $(PROFILE)

$(FRONT) $(GROUPS) &: $(TRAIN) $(SEC)/front.json $(call code,front ranking metrics) $(call cli,front) $(EXT_SOURCES) | $(EXT_STAMP)
	$(STEP) front -- $(CLI) front --profile $(PROFILE)

$(KPIS) $(EXPERIMENT) &: $(FRONT) $(GROUPS) $(SEC)/experiment.json $(SEC)/shop.json $(call code,world online front metrics model) $(call cli,experiment) | $(EXT_STAMP)
	$(STEP) experiment -- $(CLI) experiment --profile $(PROFILE)

$(ALIGN) $(ALIGN_SUMMARY) $(HEADLINE) &: $(KPIS) $(EXPERIMENT) $(SEC)/align.json $(call code,align front plots) $(call cli,align) | $(EXT_STAMP)
	$(STEP) align -- $(CLI) align --profile $(PROFILE)

$(VALID): $(ALIGN) $(ALIGN_SUMMARY) $(SEC)/validate.json $(SEC)/shop.json $(call code,world online align validate) $(call cli,validate) | $(EXT_STAMP)
	$(STEP) validate -- $(CLI) validate --profile $(PROFILE)

$(BENCH_DIR)/%.json: $(call code,bench) $(call cli,bench) $(EXT_SOURCES) | $(EXT_STAMP)
	$(STEP) bench:$* -- $(CLI) bench $* --json $@ $(BENCH_FLAGS)
endif

# One executed notebook per page, run by papermill with this profile's parameters.
NB_RUN = $(STEP) notebook:$* -- $(REPRO) execute notebooks/$*.md $@ -p profile $(PROFILE)
PLOTS := $(wildcard src/paretoalign/plots/*.py)
$(R)/notebooks/01_data.ipynb: $(DATA) $(CALIB)
$(R)/notebooks/02_training.ipynb: $(TRAIN) $(SEEDS)
$(R)/notebooks/03_front.ipynb: $(FRONT) $(GROUPS)
$(R)/notebooks/04_experiment.ipynb: $(KPIS) $(EXPERIMENT)
$(R)/notebooks/05_alignment.ipynb: $(ALIGN) $(ALIGN_SUMMARY) $(KPIS)
$(R)/notebooks/06_validation.ipynb: $(VALID)
$(R)/notebooks/07_performance.ipynb: $(BENCH)
$(R)/notebooks/07_performance.ipynb: NB_RUN += -p bench_dir $(BENCH_DIR)
$(R)/notebooks/%.ipynb: notebooks/%.md $(PLOTS) | $(EXT_STAMP)
	$(NB_RUN)

# MathJax, vendored once from npm (pinned version and checksum) so the book reads offline.
$(MATHJAX):
	@command -v npm >/dev/null || { echo "error: npm is needed once to vendor MathJax $(MATHJAX_VERSION) into $(@D)"; exit 1; }
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null) && \
	echo "$(MATHJAX_SHA256)  $$tmp/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum --check --quiet && \
	tar -xzf "$$tmp/mathjax-$(MATHJAX_VERSION).tgz" -C "$$tmp" && \
	rm -rf $(@D) && mkdir -p $(@D)/output/chtml $(@D)/input/tex && \
	cp "$$tmp/package/LICENSE" "$$tmp/package/es5/tex-mml-chtml.js" $(@D)/ && \
	cp -r "$$tmp/package/es5/output/chtml/fonts" $(@D)/output/chtml/ && \
	cp -r "$$tmp/package/es5/input/tex/extensions" $(@D)/input/tex/

$(BOOK_STAMP): $(EXECUTED) $(BOOK_SOURCES) $(BOOK_CODE) $(MATHJAX) | $(EXT_STAMP)
	rm -f book/_build/.built-*
	rm -rf book/notebooks && mkdir -p book/notebooks
	cp $(EXECUTED) book/notebooks/
	$(STEP) book -- $(VENV)/bin/jupyter-book build -W -n --keep-going book
	touch $@

.PHONY: reproduce
ifeq ($(DATA_SOURCE),folder)
reproduce: setup $(RESULTS) ## Run every step of PROFILE (default|smoke|otto) and build the book
	@echo
	@$(REPRO) timings $(R)/timings.json
	@echo
	@echo "PROFILE=$(PROFILE) reads a real data set: the offline half is done (model, front and"
	@echo "benchmarks in $(R)/); the book needs the shop's online half ('make reproduce')."
else
reproduce: setup $(RESULTS) $(BOOK_STAMP) ## Run every step of PROFILE (default|smoke|otto) and build the book
	@echo
	@$(REPRO) timings $(R)/timings.json
	@echo
	@echo "The book ($(PROFILE) profile): file://$(abspath $(BOOK_HTML))/index.html"
endif

.PHONY: results
results: $(RESULTS) ## Run the steps of PROFILE only (no notebooks, no book)

.PHONY: notebooks
notebooks: $(RESULTS) $(EXECUTED) ## Run the steps of PROFILE and execute its notebooks (no book build)

# The README's computed parts (its timing table and docs/headline.png) come from a real run
# of the default profile: `make reproduce && make docs` rewrites them (repro/docs.py).
.PHONY: docs
docs: setup ## Rewrite the README's timing table and docs/headline.png from results/PROFILE
	@test -f $(R)/timings.json -a -f $(HEADLINE) || { echo "error: no finished run in $(R)/ (run 'make reproduce PROFILE=$(PROFILE)' first)"; exit 1; }
	$(REPRO) docs --results $(R) --profile $(PROFILE) --commit "$$(git describe --always --dirty 2>/dev/null || echo unknown)"

.PHONY: book
book: setup ## Rebuild only the book from PROFILE's existing results (no pipeline step runs)
	@missing=""; for f in $(RESULTS); do test -e "$$f" || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then echo "error: results missing for PROFILE=$(PROFILE):$$missing"; \
	echo "run 'make reproduce PROFILE=$(PROFILE)' first"; exit 1; fi
	@$(MAKE) --no-print-directory $(BOOK_STAMP) PIPELINE=off
	@echo "The book ($(PROFILE) profile): file://$(abspath $(BOOK_HTML))/index.html"

.PHONY: book-check
book-check: setup ## Load every page of the built book in headless Chromium; screenshots in results/PROFILE/screenshots
	@test -f $(BOOK_STAMP) || { echo "error: the book in $(BOOK_HTML) was not built for PROFILE=$(PROFILE) (run 'make book PROFILE=$(PROFILE)')"; exit 1; }
	$(REPRO) check $(BOOK_HTML) --screenshots $(R)/screenshots --report $(R)/bookcheck.json

# ------------------------------------------------------------------ housekeeping
.PHONY: clean
clean: ## Remove build outputs (keeps .venv and results/)
	rm -rf build $(EXT_STAMP)

.PHONY: help
help: ## List the verbs
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
