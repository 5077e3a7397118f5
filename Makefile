# The two commands: `make run` serves the platform, `make test` runs the whole suite.
# Both install what they need first (scripts/bootstrap.sh); see README.md.
PY := .venv/bin/python
MANAGE := $(PY) manage.py
# Production-shaped settings for `check --deploy` (values are throwaway, never used to serve).
DEPLOY_ENV := DJANGO_DEBUG=false DJANGO_SECURE=true DJANGO_ALLOWED_HOSTS=intercalaire.example.gouv.fr \
	DJANGO_SECRET_KEY=deploy-check-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ

.PHONY: run test setup setup-test lint typecheck migrations-check deploy-check pytest fuzz openapi lock bench messages

run: setup
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo
	$(MANAGE) runserver 127.0.0.1:8000

setup:
	@scripts/bootstrap.sh

setup-test:
	@scripts/bootstrap.sh --test

test: setup-test lint typecheck migrations-check deploy-check pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy .

migrations-check:
	$(MANAGE) makemigrations --check --dry-run
	$(MANAGE) check --fail-level WARNING

deploy-check:
	env $(DEPLOY_ENV) $(MANAGE) check --deploy --fail-level WARNING

# --create-db: a test database left by an earlier run may predate a migration.
pytest:
	env DJANGO_DEBUG=false .venv/bin/pytest --create-db $(PYTEST_ARGS)

# Schemathesis's deep profile over the API (reliability.md D1): many random examples per
# operation and role, then the stateful phase. `make test` runs the fast profile.
fuzz: setup-test
	env DJANGO_DEBUG=false FUZZ_PROFILE=deep .venv/bin/pytest --create-db tests/fuzz $(PYTEST_ARGS)

# Regenerate the committed OpenAPI schema after an API change (a test compares them).
# In English, the API's reference language, whatever LANGUAGE_CODE says.
openapi:
	env DJANGO_DEBUG=false $(MANAGE) spectacular --lang en --file tests/openapi.yaml --validate --fail-on-warn

# Refresh requirements.lock from pyproject.toml's ranges.
lock:
	rm -rf var/lockenv && python3 -m venv var/lockenv
	var/lockenv/bin/pip install -q --upgrade pip && var/lockenv/bin/pip install -q '.[dev]'
	var/lockenv/bin/pip freeze --exclude intercalaire | sort > requirements.lock

messages:
	$(MANAGE) makemessages -l fr -l en --ignore='.venv/*' --ignore='node_modules/*' --ignore='var/*'

bench:
	@scripts/bootstrap.sh --bench
	$(PY) -m bench $(BENCH_ARGS)
