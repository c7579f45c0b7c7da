# Two commands for a newcomer: `make demo` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup engine images demo test lint unit clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

engine: $(BIN)/grader
	scripts/ensure-engine.sh $(BIN)

images: engine
	fixtures/images/build.sh

setup: images

demo: setup
	$(BIN)/grader grade fixtures/submissions/complete --json demo-report.json

lint: $(BIN)/grader
	$(BIN)/ruff check grader checks tests scripts
	$(BIN)/mypy

# Fast tests only (no engine needed).
unit: $(BIN)/grader
	$(BIN)/pytest -m 'not docker'

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) demo-report.json .mypy_cache .ruff_cache .pytest_cache
