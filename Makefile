# Quick start: `make demo` and `make test` each work on a fresh machine with only Python installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench sandbox lock clean

# Installs exactly what requirements.lock pins (hash-checked), then the project itself without re-resolving.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lmsbot demo

# Two workers (pytest-xdist) on the 2 cores CI has; the process tests wait on I/O as much as on CPU.
test: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/ruff format --check bot handlers storage tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sandbox: $(STAMP)
	$(BIN)/lmsbot sandbox --port 8900 --seed demo

# Re-pins requirements.lock from pyproject.toml (after changing a dependency); pip-tools runs in a throw-away venv.
lock:
	$(PYTHON) -m venv /tmp/lmsbot-lock-venv
	/tmp/lmsbot-lock-venv/bin/pip install --quiet pip-tools
	/tmp/lmsbot-lock-venv/bin/pip-compile --quiet --extra dev --generate-hashes --strip-extras \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
