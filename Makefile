# The two commands of README.md: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench bento clean-home

$(BIN)/tradecast: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $@

run: $(BIN)/tradecast
	$(BIN)/tradecast demo

test: $(BIN)/tradecast
	$(BIN)/python -m pytest -q

lint: $(BIN)/tradecast
	$(BIN)/ruff check .

bench: $(BIN)/tradecast
	$(BIN)/tradecast bench all --out benchmarks/results/latest

# The service as a Bento (README.md, "Scaling out"): requirements from the pins, then build.
bento: $(BIN)/tradecast
	$(BIN)/python -m scaleout.bento
	$(BIN)/bentoml build
