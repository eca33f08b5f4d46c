# The two set-up commands from the README: `make demo` and `make test`.
#
# Both install from the locks in requirements/ (exact versions with hashes), never from
# pyproject.toml's ranges, so a test run today installs what it installed yesterday.
# `make lock` refreshes the locks after a dependency change in pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# The Python version the locks are resolved for (the lowest the project supports).
LOCK_PYTHON := 3.11
LOCK := $(UV) pip compile pyproject.toml --universal --python-version $(LOCK_PYTHON) \
	--generate-hashes -c requirements/constraints.txt --custom-compile-command "make lock" -q

.PHONY: install node-tools install-demo test lint typecheck layers demo lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the locks (seconds, where pip takes minutes); it comes from its own hashed lock.
$(UV): $(BIN)/python requirements/tools.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/tools.txt
	@touch $(UV)

# modelward (editable) with exactly what the tests need.
install: $(UV) node-tools
	$(UV) pip sync -q --python $(BIN)/python --require-hashes requirements/test.txt
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .

# Node tools the tests and the demo use (axe-core, Azurite), from requirements/npm/package-lock.json.
# Without npm the tests that need them skip and say so (under CI they fail; .ci/run installs
# npm), and the demo skips Azure and says so.
node-tools:
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix requirements/npm --no-audit --no-fund --loglevel=error >/dev/null; \
	else echo "make: npm not found: the browser tests will skip"; fi

lint: install
	$(BIN)/ruff check scanner tests benchmarks scripts
	$(BIN)/ruff format --check scanner tests benchmarks scripts

typecheck: install
	$(BIN)/mypy

# Layers import downwards only, and nothing imports in a cycle (contracts in pyproject.toml).
layers: install
	$(BIN)/lint-imports --no-cache

test: install lint typecheck layers
	$(BIN)/python -m pytest -q -ra

# Starts a local MLflow server, an emulated AWS account, an Azurite storage account (when npm
# is there to install it), fake-gcs-server and a Vertex AI shape server, seeds them, scans
# them, and writes every output into out/demo/ (the servers stop when the scan is done).
# Adds to the environment (never removes): `make test` and `make demo` share one .venv, and the
# demo lock is resolved within the test lock, so both agree on every version.
install-demo: $(UV) node-tools
	$(UV) pip install -q --python $(BIN)/python --require-hashes -r requirements/demo.txt
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .

demo: install-demo
	$(BIN)/modelward demo -o out/demo

# Re-resolve every lock from pyproject.toml (and the pins in requirements/constraints.txt).
lock: $(UV)
	$(LOCK) --extra test -o requirements/test.txt
	$(LOCK) --extra demo -c requirements/test.txt -o requirements/demo.txt
	$(UV) pip compile requirements/tools.in --universal --python-version $(LOCK_PYTHON) \
		--generate-hashes --custom-compile-command "make lock" -q -o requirements/tools.txt

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .mypy_cache
