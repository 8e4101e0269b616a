# One command each: `make demo`, `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WEB    := web
NPM_STAMP := $(WEB)/node_modules/.installed
# The browser the map's tests drive: Debian's Chromium (Playwright never downloads one).
CHROMIUM  := /usr/bin/chromium
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The PostgreSQL the tests marked `postgres` use; they fail if it is unreachable, unless
# DECONFLICT_SKIP_POSTGRES=1 is set to skip them explicitly.
DECONFLICT_TEST_PG ?= postgresql://postgres@127.0.0.1:5432/test
DB_URL ?= $(DECONFLICT_TEST_PG)
export DECONFLICT_TEST_PG

.PHONY: demo test bench bench-api lint setup clean serve

setup: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The map's front-end packages from npm, not copied into the repo: Leaflet, topojson-client and
# the Natural Earth country outlines (world-atlas).
$(NPM_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

demo: setup
	$(BIN)/deconflict demo --report report

# The hub over HTTP with the demo scenario loaded (report/demo.db), and a sign-in link to the
# operations view for each party.
serve: demo
	$(BIN)/deconflict serve --db report/demo.db --links

test: setup $(CHROMIUM)
	$(BIN)/pytest -q -n 2 -p no:cacheprovider

bench: setup
	$(BIN)/python -m benchmarks.engine --sizes 10000,100000,1000000 --json bench-engine.json
	$(BIN)/python -m benchmarks.ledger --entries 1000000 --json bench-ledger.json

# The HTTP service under load: a real `deconflict serve` on 127.0.0.1, on SQLite and PostgreSQL.
bench-api: setup
	$(BIN)/python -m benchmarks.api --workers 1,2 --rates 0,250,500,1000 --pg-url $(DB_URL) --json bench-api.json

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(WEB)/node_modules report bench-engine.json bench-api.json
