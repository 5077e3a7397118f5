#!/bin/sh
# Run by the postgis image on a new volume (/docker-entrypoint-initdb.d, after its
# own 10_postgis.sh), as the image's superuser; idempotent, so it can be run again
# by hand on an older volume (README, "Running in production"):
#   docker compose exec -u postgres db sh /docker-entrypoint-initdb.d/20-intercalaire-roles.sh
# It creates the extensions the migrations need (only a superuser may create
# postgis), then two roles that are not superusers: the tables' owner, which
# migrates (and so owns the SECURITY DEFINER functions of the GDPR paths: they run
# with its rights, not a superuser's), and the application's role, to which
# `manage.py grant_app_role` then grants its privileges.
set -eu
: "${POSTGRES_DB:?}"
: "${OWNER_DATABASE_PASSWORD:?set OWNER_DATABASE_PASSWORD}"
: "${APP_DATABASE_PASSWORD:?set APP_DATABASE_PASSWORD}"
OWNER_ROLE="${OWNER_ROLE:-intercalaire_owner}"
APP_ROLE="${APP_ROLE:-intercalaire_app}"

# As the image's superuser (the entrypoint's POSTGRES_USER, `postgres` by default),
# whoever runs the script.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username="${POSTGRES_USER:-postgres}" \
    --dbname="$POSTGRES_DB" \
    -v db="$POSTGRES_DB" -v owner="$OWNER_ROLE" -v app="$APP_ROLE" \
    -v owner_password="$OWNER_DATABASE_PASSWORD" \
    -v app_password="$APP_DATABASE_PASSWORD" <<'EOSQL'
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
SELECT format('CREATE ROLE %I', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I', :'app')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
-- Neither may create roles or databases, bypass row security or replicate.
ALTER ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    NOREPLICATION PASSWORD :'owner_password';
ALTER ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    NOREPLICATION NOINHERIT PASSWORD :'app_password';
-- The owner of the database owns its public schema (pg_database_owner, PostgreSQL 15).
ALTER DATABASE :"db" OWNER TO :"owner";
EOSQL
