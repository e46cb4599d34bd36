# The course's commands. `make run` and `make test` work on a fresh clone with only Python 3.11 and make.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

# Settings the notebook outputs depend on: identical for run, refresh and test.
export PYTHONHASHSEED := 0
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export MPLCONFIGDIR := $(CURDIR)/build/.matplotlib
export JUPYTER_PLATFORM_DIRS := 1

# No plugin autoloading (schemathesis, hypothesis ... cost ~3 s per run and no test needs them); nbval is named.
PYTEST := PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/pytest
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 120

.PHONY: help install run test lint unit nbval portability refresh lab serve mlflow-ui clean lock bench slides edge-assets edge-demo

help:  ## list the commands
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@echo "==> setting up $(VENV) from requirements.txt (first time: a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@mkdir -p build/.matplotlib
	@touch $(STAMP)

install: $(STAMP)  ## create or update .venv from the pins (free when nothing changed)

run: $(STAMP)  ## execute all notebooks into build/ and print the time table
	$(BIN)/python tools/run_notebooks.py

test: lint  ## lint, then unit tests, nbval in order, and nbval cold and portable (three jobs share the cores)
	$(MAKE) --no-print-directory -j3 --output-sync=line nbval portability unit

lint: $(STAMP)
	$(BIN)/ruff check helpers tests tools benchmarks conftest.py

unit: $(STAMP)
	$(PYTEST) tests

nbval: $(STAMP)  # in order, from an empty state folder: the committed data, artifacts and figures stay untouched
	rm -rf build/nbval-state
	COURSE_STATE_DIR=$(CURDIR)/build/nbval-state $(PYTEST) -p nbval $(NBVAL) notebooks

# numpy picks SIMD kernels (AVX2, AVX-512, NEON...) at run time by CPU, and they may order ties or round the last
# digit differently. This run switches off every optional kernel this CPU has, so the baseline code runs, and
# uses another hash seed, so set and dict order cannot leak into an output either: the committed outputs must
# reproduce both ways, i.e. on any student's CPU. Each notebook also starts cold, in its own empty state folder
# (COURSE_STANDALONE_ROOT), as it does for a student who opens it first: the same run proves every notebook
# stands alone.
portability: $(STAMP)  ## nbval with each notebook cold, numpy's optional SIMD kernels off and another hash seed
	rm -rf build/nbval-portable
	NPY_DISABLE_CPU_FEATURES="$$($(BIN)/python tools/numpy_baseline.py)" PYTHONHASHSEED=1 \
		COURSE_STANDALONE_ROOT=$(CURDIR)/build/nbval-portable $(PYTEST) -p nbval $(NBVAL) notebooks

refresh: $(STAMP)  ## re-execute the committed notebooks in place (authors)
	COURSE_FIGURES_DIR=$(CURDIR)/figures $(BIN)/python tools/refresh_notebooks.py

lab: $(STAMP)  ## open JupyterLab on the notebooks
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

serve: $(STAMP)  ## run the model API on port $(PORT) (the production bundle once notebook 05 made it)
	$(BIN)/python -m helpers.api --port $(PORT) $(if $(wildcard artifacts/production/metadata.json),--model-dir artifacts/production)

mlflow-ui: $(STAMP)  ## open the MLflow UI on the local store (artifacts/mlflow/)
	$(BIN)/python -m helpers.mlops ui

slides: $(STAMP)  ## build offline reveal.js slides of every notebook into build/slides/
	$(BIN)/python tools/build_slides.py

bench: $(STAMP)  ## run the benchmarks (speed is measured here, never in tests)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

lock: $(STAMP)  ## recompile requirements.txt from requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-header --allow-unsafe requirements.in -o requirements.txt

clean:  ## remove build/, artifacts/ and generated data (not the committed notebooks)
	rm -rf build artifacts data/*.csv data/*.json

# Advanced notebook A2 (compression and edge): the browser runtime comes from the npm registry, pinned in
# deploy/edge/web/package-lock.json, installed once into build/edge/ (never a CDN, never at notebook run time).
EDGE_DIR := build/edge
EDGE_ASSETS := $(EDGE_DIR)/ort/ort.wasm.min.js
EDGE_PORT ?= 8765

$(EDGE_ASSETS): deploy/edge/web/package.json deploy/edge/web/package-lock.json
	@echo "==> installing onnxruntime-web (npm registry) into $(EDGE_DIR)/"
	@rm -rf $(EDGE_DIR)/npm $(EDGE_DIR)/ort
	@mkdir -p $(EDGE_DIR)/npm $(EDGE_DIR)/ort
	@cp deploy/edge/web/package.json deploy/edge/web/package-lock.json $(EDGE_DIR)/npm/
	npm ci --prefix $(EDGE_DIR)/npm --ignore-scripts --no-audit --no-fund --loglevel=error
	@cd $(EDGE_DIR)/npm/node_modules/onnxruntime-web/dist && \
		cp ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm ../package.json $(CURDIR)/$(EDGE_DIR)/ort/ && \
		cp ort.wasm.min.js $(CURDIR)/$(EDGE_ASSETS)
	@rm -rf $(EDGE_DIR)/npm/node_modules  # 150 MB of builds the page does not load

edge-assets: $(EDGE_ASSETS)  ## install the edge page's browser runtime (onnxruntime-web, npm) into build/edge/

edge-demo: $(STAMP) $(EDGE_ASSETS)  ## serve the edge page on localhost, print its URL (Ctrl-C stops it)
	$(BIN)/python -m helpers.edge.server --port $(EDGE_PORT)
