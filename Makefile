# The two commands of README.md: `make run` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

DASHBOARD := dashboard
# root in CI containers; sudo elsewhere
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench bento clean-home dashboard chromium

$(BIN)/tradecast: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $@

# The web app: npm packages from package-lock.json, then the build the service serves at /ui.
$(DASHBOARD)/node_modules/.package-lock.json: $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund

$(DASHBOARD)/dist/index.html: $(DASHBOARD)/node_modules/.package-lock.json \
		$(shell find $(DASHBOARD)/src $(DASHBOARD)/index.html $(DASHBOARD)/vite.config.ts -type f)
	cd $(DASHBOARD) && npm run build

dashboard: $(DASHBOARD)/dist/index.html

# Debian's Chromium for the browser tests (Playwright drives it; never `playwright install`).
chromium:
	@command -v chromium >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

run: $(BIN)/tradecast dashboard
	$(BIN)/tradecast demo

test: $(BIN)/tradecast dashboard chromium
	$(BIN)/python -m pytest -q

lint: $(BIN)/tradecast
	$(BIN)/ruff check .

bench: $(BIN)/tradecast
	$(BIN)/tradecast bench all --out benchmarks/results/latest

# The service as a Bento (README.md, "Scaling out"): requirements from the pins, then build.
bento: $(BIN)/tradecast
	$(BIN)/python -m scaleout.bento
	$(BIN)/bentoml build
