# One command each: `make demo`, `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WEB    := web
NPM_STAMP := $(WEB)/node_modules/.installed
# What the operations view and the API docs load from npm, copied into the Python package so that
# a source checkout and an installed wheel serve the same files (gitignored, never committed).
NODE   := $(WEB)/node_modules
VENDOR := src/deconflict/web/vendor
# The stamp lives in what it stamps: deleting the copied files copies them again.
VENDOR_STAMP := $(VENDOR)/.vendored
# The browser the map's tests drive: Debian's Chromium (Playwright never downloads one).
CHROMIUM  := /usr/bin/chromium
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The PostgreSQL the tests marked `postgres` use; they fail if it is unreachable, unless
# DECONFLICT_SKIP_POSTGRES=1 is set to skip them explicitly.
DECONFLICT_TEST_PG ?= postgresql://postgres@127.0.0.1:5432/test
DB_URL ?= $(DECONFLICT_TEST_PG)
export DECONFLICT_TEST_PG

.PHONY: demo test bench bench-api lint setup clean serve dist

setup: $(STAMP) $(NPM_STAMP) $(VENDOR_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,report]'
	touch $(STAMP)

# The front-end packages from npm, not copied into the repo: Leaflet, topojson-client, the Natural
# Earth country outlines (world-atlas) and Swagger UI. No install scripts: none of them needs one
# (swagger-ui-dist's dependency @scarf/scarf has one, which only reports the install).
$(NPM_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# Only the files the pages load, each package with its licence.
$(VENDOR_STAMP): $(NPM_STAMP)
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/leaflet $(VENDOR)/topojson-client $(VENDOR)/world-atlas $(VENDOR)/swagger-ui
	cp -R $(NODE)/leaflet/dist/leaflet.js $(NODE)/leaflet/dist/leaflet.css \
		$(NODE)/leaflet/dist/images $(NODE)/leaflet/LICENSE $(VENDOR)/leaflet/
	cp $(NODE)/topojson-client/dist/topojson-client.min.js $(NODE)/topojson-client/LICENSE \
		$(VENDOR)/topojson-client/
	cp $(NODE)/world-atlas/countries-50m.json $(NODE)/world-atlas/LICENSE $(VENDOR)/world-atlas/
	cp $(NODE)/swagger-ui-dist/swagger-ui-bundle.js $(NODE)/swagger-ui-dist/swagger-ui.css \
		$(NODE)/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt \
		$(NODE)/swagger-ui-dist/LICENSE $(NODE)/swagger-ui-dist/NOTICE $(VENDOR)/swagger-ui/
	touch $(VENDOR_STAMP)

# A wheel and an sdist in dist/, each carrying the view and everything it loads (the vendored
# npm files above): `pip install dist/deconflict-*.whl` serves with no npm and no network.
# Built with the set-up's own setuptools (no isolated environment, so no download).
dist: setup
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

demo: setup
	$(BIN)/deconflict demo --report report

# The hub over HTTP with the demo scenario loaded (report/demo.db), and a sign-in link to the
# operations view for each party; its map reaches back to the scenario's November 2015.
serve: demo
	DECONFLICT_MAP_HISTORY_DAYS=0 $(BIN)/deconflict serve --db report/demo.db --links

test: setup $(CHROMIUM)
	$(BIN)/pytest -q -n 2 -p no:cacheprovider

# The restart of a hub of 10^5 active notices, from its store to serving (about two minutes);
# RESTART_SIZES=100000,1000000 for 10^6 as well (a quarter of an hour more).
RESTART_SIZES ?= 100000

bench: setup
	$(BIN)/python -m benchmarks.engine --sizes 10000,100000,1000000 --json bench-engine.json
	$(BIN)/python -m benchmarks.ledger --entries 1000000 --json bench-ledger.json
	$(BIN)/python -m benchmarks.restart --sizes $(RESTART_SIZES) --pg-url $(DB_URL) --json bench-restart.json

# The HTTP service under load: a real `deconflict serve` on 127.0.0.1, on SQLite and PostgreSQL.
bench-api: setup
	$(BIN)/python -m benchmarks.api --workers 1,2 --rates 0,250,500,1000 --pg-url $(DB_URL) --json bench-api.json

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(VENDOR) dist build report bench-engine.json bench-api.json bench-restart.json
