# The entry points of the project: `make demo`, `make test`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions the tests pass with; `make constraints` writes it anew.
CONSTRAINTS := .ci/constraints.txt

.PHONY: install demo serve test lint pytest bench clean screenshots constraints

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/hashwall demo

serve: install
	$(BIN)/hashwall serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy server moderation wall_ui

# tests/provide_browser.py finds (or fetches) the Chromium the browser tests drive.
pytest: install
	@chromium="$$($(BIN)/python tests/provide_browser.py)" && \
	echo "browser tests use $$chromium" && \
	HASHWALL_TEST_CHROMIUM="$$chromium" $(BIN)/python -m pytest

test: lint pytest

# Screenshots of every page at every size, into docs/screenshots/ (shown in the README).
screenshots: install
	$(BIN)/python -m tests.screenshots

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.bluesky --compress --out bench/results

# Resolve pyproject's ranges afresh into exact pins; run the tests before committing them.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet --upgrade pip
	.venv-constraints/bin/python -m pip install --quiet -e ".[dev]"
	{ echo "# Exact versions the test suite passes with; 'make constraints' writes this file."; \
	  .venv-constraints/bin/python -m pip freeze --exclude-editable --all \
	    | grep -v -i -E '^(pip|setuptools|wheel)=='; } > $(CONSTRAINTS)
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) hashwall-demo.sqlite3* test-output
