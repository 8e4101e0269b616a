# One command each: `make demo`, `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WEB    := web
ATLAS  := $(WEB)/node_modules/world-atlas/countries-50m.json
# The PostgreSQL the tests marked `postgres` use; they fail if it is unreachable, unless
# DECONFLICT_SKIP_POSTGRES=1 is set to skip them explicitly.
DECONFLICT_TEST_PG ?= postgresql://postgres@127.0.0.1:5432/test
DB_URL ?= $(DECONFLICT_TEST_PG)
export DECONFLICT_TEST_PG

.PHONY: demo test bench bench-api lint setup clean serve

setup: $(STAMP) $(ATLAS)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Natural Earth country outlines for the demo map, from npm (not copied into the repo).
$(ATLAS): $(WEB)/package.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(ATLAS)

demo: setup
	$(BIN)/deconflict demo --report report

serve: setup
	$(BIN)/deconflict serve

test: setup
	$(BIN)/pytest -q -n 2 -p no:cacheprovider

bench: setup
	$(BIN)/python -m benchmarks.engine --sizes 10000,100000,1000000 --json bench-engine.json
	$(BIN)/python -m benchmarks.ledger --entries 1000000 --json bench-ledger.json

# The HTTP service under load: a real `deconflict serve` on 127.0.0.1, on SQLite and PostgreSQL.
bench-api: setup
	$(BIN)/python -m benchmarks.api --pg-url $(DB_URL) --json bench-api.json

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(WEB)/node_modules report bench-engine.json bench-api.json
