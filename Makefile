# The two commands a newcomer needs:  make run  and  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed  ## set up, then run the bot (Telegram if a token is configured, else the terminal)
	$(BIN)/python -m back_care_guide

test: $(VENV)/.installed  ## set up, then run every check and test
	$(BIN)/python -m back_care_guide check
	$(BIN)/ruff check back_care_guide tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

check: $(VENV)/.installed
	$(BIN)/python -m back_care_guide check

bench: $(VENV)/.installed  ## the load benchmark against a bare PTB echo bot (about 20 minutes); writes BENCHMARKS.md
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
