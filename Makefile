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

demo:
	@echo "make demo: the demo estate (MLflow + emulated AWS) is not implemented yet;" \
	      "try: $(BIN)/modelward scan --source path:DIR -o out" >&2
	@exit 2

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
