# The two commands: `make run` (demo service on SQLite) and `make test` (lint, types, the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/symbioza migrate
	$(BIN)/symbioza seed
	$(BIN)/symbioza keys demo
	@echo "Serving on http://$(HOST):$(PORT)  (docs: http://$(HOST):$(PORT)/docs)"
	$(BIN)/symbioza serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two workers (pytest-xdist), each on databases of its own (tests/conftest.py).
test: lint
	$(BIN)/pytest -n 2

clean:
	rm -rf $(VENV) symbioza.db .mypy_cache .ruff_cache .pytest_cache
