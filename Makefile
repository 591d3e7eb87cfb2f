# The entry points of the project: `make demo`, `make test`, `make bench`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve test lint pytest bench clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
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

clean:
	rm -rf $(VENV) hashwall-demo.sqlite3* test-output
