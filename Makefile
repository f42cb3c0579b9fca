# GitOps Lab — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: soak run up test lint typecheck unit bench test-kind fmt clean serve notebook notebook-files

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: set everything up and open the lab on the embedded cluster
run: $(STAMP)
	$(BIN)/gitops-lab app .gitops-lab/lab

## up: the same lab without the app: its cluster and reconciler in this terminal
up: $(STAMP)
	@test -f .gitops-lab/lab/lab.yaml || $(BIN)/gitops-lab init .gitops-lab/lab
	$(BIN)/gitops-lab up .gitops-lab/lab

## test: set everything up and run every check: ruff, mypy, import contracts, the whole suite
test: $(STAMP) lint typecheck
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check lab tests bench
	$(BIN)/ruff format --check lab tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: measure speed and memory; writes docs/benchmarks.md and bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench

## notebook: open the self-paced notebooks in JupyterLab
notebook: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	$(BIN)/jupyter lab notebooks/

## notebook-files: regenerate notebooks/*.ipynb from their percent-format sources
notebook-files: $(STAMP)
	$(BIN)/python notebooks/generate.py

## soak: the 30-minute soak (not part of bench, never in CI)
soak: $(STAMP)
	$(BIN)/python -m bench soak --minutes 30

## test-kind: the tests that need Docker and kind
test-kind: $(STAMP)
	$(BIN)/python -m pytest -m kind -p no:cacheprovider

fmt: $(STAMP)
	$(BIN)/ruff format lab tests bench
	$(BIN)/ruff check --fix lab tests bench

clean:
	rm -rf $(VENV) .gitops-lab .mypy_cache .ruff_cache
