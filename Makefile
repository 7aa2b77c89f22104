# Two commands on a fresh clone: `make run` starts the kiosk, `make test` runs the tests.
# Both make the virtual environment in .venv on first use (Python 3.11 and npm are needed), with
# the versions pinned in constraints.txt, and fetch htmx (kiosk/web/assets.py) into vendor/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HTMX := vendor/htmx/.release

.PHONY: run test lint format bench clean constraints

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,postgres]'
	touch $(STAMP)

$(HTMX): kiosk/web/assets.py $(STAMP)
	$(BIN)/python -m kiosk.web.assets
	touch $(HTMX)

run: $(STAMP) $(HTMX)
	$(BIN)/kiosk run

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint $(HTMX)
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format
	$(BIN)/ruff check --fix

bench: $(STAMP) $(HTMX)
	$(BIN)/python bench/http_pages.py

# constraints.txt anew: the newest versions setup.cfg allows, resolved in a scratch environment
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet -e '.[test,postgres]'
	.venv-constraints/bin/python -m pip freeze --exclude-editable > constraints.txt
	rm -rf .venv-constraints

clean:
	rm -rf $(VENV) tests/artifacts .mypy_cache vendor
