# pumpcare — the two commands a newcomer needs:
#   make run    virtualenv, install, migrate the embedded SQLite database, load the demo
#               clinic, serve http://127.0.0.1:8000 with a Celery worker and beat alongside
#   make test   the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
# and, for the clinical core:
#   make mutation   every mutant of therapy/ against its tests; writes docs/mutation.md (1-1.5 h)
# and for the services that decide safety (titration, discontinuation, LRA-5 proposals):
#   make mutation-services   their mutants against the Django tests; docs/mutation.md (2-3 h)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test mutation mutation-services install system-packages lint format schema check-schema clean

$(BIN)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "pumpcare needs Python 3.11 (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

install: $(BIN)/.installed

run: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py loaddemo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py run_daily_jobs
	DEBUG=$${DEBUG:-1} PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run-dev.sh

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Mutation testing of the calculation core (mutmut; scripts/mutation.py says how). CI runs a
# seeded sample of it (scripts/mutation.py sample) after the tests.
mutation: install
	$(BIN)/python scripts/mutation.py full

# The same for the services that decide safety (scripts/mutation.py --target services): the
# functions named in pyproject.toml [tool.pumpcare.mutation-services], on SQLite.
mutation-services: install
	nice -n 10 $(BIN)/python scripts/mutation.py full --target services

# Debian packages beyond Python (pdftoppm for the card tests, HarfBuzz subsetting, fonts,
# Chromium for the browser tests);
# needs root or sudo. CI (.ci/run) runs it before make test.
system-packages:
	scripts/install-system-packages.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The OpenAPI schema kept in docs/ (a test fails when it no longer matches the code).
schema: install
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --file docs/openapi.yaml

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis
