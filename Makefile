# Every target installs .venv first when it is missing, so each works alone on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test smoke stats clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

test: install
	$(BIN)/ruff check src tests
	$(BIN)/pytest -q

# Main job on the embedded default: distil the student on the bundled faces.
smoke: install
	$(BIN)/mfs-train profile=smoke

stats: install
	$(BIN)/mfs stats --size 224 --json
	$(BIN)/mfs stats --size 256 --json

clean:
	rm -rf $(VENV) runs outputs multirun .pytest_cache
