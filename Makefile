# Two commands for a newcomer: `make demo` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup engine images browser demo test lint unit clean

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

engine: $(BIN)/grader
	scripts/ensure-engine.sh $(BIN)

images: engine
	fixtures/images/build.sh

browser:
	scripts/ensure-browser.sh

setup: images browser

demo: images
	$(BIN)/grader grade fixtures/submissions/complete --json demo-report.json

lint: $(BIN)/grader
	$(BIN)/ruff check grader checks tests scripts benchmarks
	$(BIN)/mypy

# Fast tests only (no engine needed: the static checks run `docker compose config`, which does not
# talk to one), with coverage; every static check module must be at least 85 % covered by them.
STATIC_CHECKS := checks/dockerfile_present.py checks/dockerfile_practices.py checks/compose_file.py \
                 checks/compose_services.py checks/compose_volume.py checks/security_policy.py
unit: $(BIN)/grader
	$(BIN)/pytest -m 'not docker and not browser' --cov=checks --cov=grader --cov-report=term:skip-covered
	@for module in $(STATIC_CHECKS); do \
	  $(BIN)/coverage report --include=$$module --fail-under=85 >/dev/null \
	    || { echo "$$module: under 85 % covered by the unit tests"; $(BIN)/coverage report -m --include=$$module; exit 1; }; \
	done; echo "static checks: every module at least 85 % covered"

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) demo-report.json .mypy_cache .ruff_cache .pytest_cache
