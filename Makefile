# The two set-up commands from the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs modelward (editable) with what the tests need.
install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'

lint: install
	$(BIN)/ruff check scanner tests benchmarks

test: install lint
	$(BIN)/python -m pytest -q -ra

# Starts a local MLflow server and an emulated AWS account, seeds them, scans them, and
# writes every output into out/demo/ (the servers stop when the scan is done).
demo: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	$(BIN)/modelward demo -o out/demo

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
