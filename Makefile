# `make run`: set up and serve the embedded platform with demo tenants on 127.0.0.1:5000.
# `make test`: install and run every check (ruff, the whole pytest suite).
# `make bench`: the benchmark at full scale on PostgreSQL (README, "Benchmarks").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
CATALOGUES := $(shell find core plugins -name '*.po' -path '*/LC_MESSAGES/*')
AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: run test install translations bench bench-smoke

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Cellule needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# the Helm library for tests/test_helm.py: it declares Python >= 3.12 but loads on 3.11
	$(BIN)/python -m pip install --quiet --ignore-requires-python 'helm-sdkpy==0.1.32'
	rm -f $(VENV)/.installed-* && touch $@

translations: $(STAMP) $(CATALOGUES:.po=.mo)

# axe-core for the browser tests, pinned by tests/browser/package-lock.json. Without npm they
# are skipped (and fail with CI=true); npm gives its files an old date, hence the touch.
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "npm ci (tests/browser)" && cd tests/browser && npm ci --loglevel=error && touch $(CURDIR)/$@; \
	else echo "npm not found: the browser tests will be skipped (they fail with CI=true)"; fi

%.mo: %.po
	$(BIN)/pybabel compile --statistics -i $< -o $@

run: install translations
	$(BIN)/cellule db upgrade
	$(BIN)/cellule demo
	CELLULE_TENANT_DIRECTORY=on $(BIN)/cellule run --host 127.0.0.1 --port 5000

test: install translations $(AXE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The benchmark's data: a database of its own, filled once (about 12 minutes and 14 GiB for
# a million cases on 2 cores), reused by every later `make bench`.
BENCH_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
BENCH_DATABASE ?= cellule_bench
BENCH_APP_ROLE ?= cellule_bench_app
BENCH_SIZE ?= --tenants 1000 --cases 1000000
BENCH_DATA ?= bench-data
BENCH_OPTIONS ?=
PSQL = psql "$(BENCH_ADMIN_URL)" -v ON_ERROR_STOP=1 -qtA

bench: install translations $(BENCH_DATA)/manifest.json
	$(BIN)/python -m benchmarks.run --manifest $(BENCH_DATA)/manifest.json \
	  --out $(BENCH_DATA)/results $(BENCH_OPTIONS)

$(BENCH_DATA)/manifest.json:
	mkdir -p $(BENCH_DATA)
	$(PSQL) -c "SELECT 1 FROM pg_roles WHERE rolname = '$(BENCH_APP_ROLE)'" | grep -q 1 || \
	  $(PSQL) -c "CREATE ROLE $(BENCH_APP_ROLE) LOGIN NOSUPERUSER NOBYPASSRLS"
	$(PSQL) -c "DROP DATABASE IF EXISTS $(BENCH_DATABASE) WITH (FORCE)" -c "CREATE DATABASE $(BENCH_DATABASE)"
	$(BIN)/python -m benchmarks.generate $(BENCH_SIZE) --manifest $@ \
	  --database-url "$$(echo '$(BENCH_ADMIN_URL)' | sed 's|/[^/]*$$|/$(BENCH_DATABASE)|')" \
	  --app-url "$$(echo '$(BENCH_ADMIN_URL)' | sed 's|//[^@]*@|//$(BENCH_APP_ROLE)@|; s|/[^/]*$$|/$(BENCH_DATABASE)|')"

# A run of seconds on a few generated tenants, as the test suite does it.
bench-smoke: install translations
	$(BIN)/pytest tests/test_benchmark_run.py
