# Field service backend: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi
export FIELDSERVICE_ENV ?= development

.PHONY: run test test-sqlite test-postgres install install-dev install-system install-font lint migrate seed clean \
	translations catalogs vendor-assets \
	restore-check compose-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Page texts (Flask-Babel): message ids are English; zh is the catalog. The compiled .mo files are committed;
# `make catalogs` recompiles them after a .po edit (run/test do it when a .po is newer than its .mo).
CATALOG_DIR := fieldservice/translations
CATALOGS_MO := $(patsubst %.po,%.mo,$(wildcard $(CATALOG_DIR)/*/LC_MESSAGES/messages.po))

$(CATALOG_DIR)/%/LC_MESSAGES/messages.mo: $(CATALOG_DIR)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -d $(CATALOG_DIR) -l $*

catalogs: $(CATALOGS_MO)

translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o $(CATALOG_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOG_DIR)/messages.pot -d $(CATALOG_DIR) -l zh --no-fuzzy-matching --ignore-obsolete

# The office pages' front-end packages (htmx), pinned by fieldservice/web/assets/package-lock.json and copied
# into fieldservice/web/static/vendor (committed, so `make run` needs no Node); SHA256SUMS is checked by a test.
ASSETS := fieldservice/web/assets
VENDOR := fieldservice/web/static/vendor

vendor-assets:
	cd $(ASSETS) && npm ci --no-audit --no-fund --loglevel=error
	cp $(ASSETS)/node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp $(ASSETS)/node_modules/htmx.org/LICENSE $(VENDOR)/htmx.LICENSE
	cd $(VENDOR) && sha256sum htmx.min.js > SHA256SUMS

NODE_E2E := tests/sync/node
NODE_STAMP := $(NODE_E2E)/node_modules/.installed
NODE_CLIENTS := tests/clients/node
CLIENTS_STAMP := $(NODE_CLIENTS)/node_modules/.installed

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# WatermelonDB for the end-to-end sync test, pinned by the lock file
$(NODE_STAMP): $(NODE_E2E)/package.json $(NODE_E2E)/package-lock.json
	cd $(NODE_E2E) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# tus-js-client, openapi-typescript and tsc for the client tests (tests/clients), pinned by the lock file
$(CLIENTS_STAMP): $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian system packages: Chromium for the browser test (Playwright is only the driver: never
# `playwright install`), a TrueType CJK font for the PDFs, and docker-compose to validate compose.yaml without a
# container engine (tests/ops/test_deploy_files.py). The check runs every time (it is cheap, and a
# stamp could outlive a removed package); apt runs only when something is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := chromium fonts-wqy-zenhei docker-compose
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc

install-system:
	@command -v chromium >/dev/null && command -v docker-compose >/dev/null && [ -f $(CJK_FONT) ] || ( $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES) )

# the font alone, for `make run` (PDFs); the browser is needed only by the tests
install-font:
	@[ -f $(CJK_FONT) ] || ( $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends fonts-wqy-zenhei )

install: $(STAMP)

install-dev: $(DEV_STAMP)

migrate: $(STAMP) catalogs
	$(BIN)/flask db upgrade

# The demo once (seed-demo is idempotent), then what the scheduler process would do on its first tick:
# maintenance visits for the plans' next 30 days (idempotent too), so the dispatch board is not empty
# without `flask scheduler run`.
seed: migrate
	$(BIN)/flask seed-demo
	$(BIN)/flask maintenance generate

run: seed install-font
	@echo
	@echo "Field service is starting on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/api/docs)"
	@echo "Get a token: curl -s -X POST http://$(HOST):$(PORT)/api/v1/auth/token -H 'Content-Type: application/json' -d '{\"username\":\"dispatcher\",\"password\":\"dispatch-demo-pass\"}'"
	@echo
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# The suite runs twice: on SQLite and on PostgreSQL. With CI=true an unreachable PostgreSQL fails the run.
test: test-sqlite test-postgres

test-sqlite: $(DEV_STAMP) $(NODE_STAMP) $(CLIENTS_STAMP) install-system catalogs
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadfile

test-postgres: $(DEV_STAMP) $(NODE_STAMP) $(CLIENTS_STAMP) install-system catalogs
	TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadfile

# docs/deploy.md: dump the PostgreSQL test database, restore it into a fresh one, run `flask verify-archive`
restore-check: $(DEV_STAMP)
	TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest -p no:cacheprovider -q tests/ops/test_backup_restore.py

# validate compose.yaml without a container engine (Debian's docker-compose when `docker compose` is missing)
compose-check:
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || ( $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends docker-compose )
	SECRET_KEY=x POSTGRES_PASSWORD=x MINIO_ROOT_PASSWORD=x $$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) -f compose.yaml config -q && echo "compose.yaml: valid"

lint: $(DEV_STAMP)
	$(BIN)/ruff check fieldservice sync media schedules tests

clean:
	rm -rf $(VENV) instance .pytest_cache
