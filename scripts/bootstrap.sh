#!/usr/bin/env bash
# Everything `make run` and `make test` need, installed by the project itself:
# system packages (apt, when root or with sudo), .venv, npm packages, compiled
# translations, and a reachable PostGIS database (scripts/database.sh).
# Idempotent: a second run only checks and takes seconds.
#   scripts/bootstrap.sh [--test|--bench]
#   (--test adds what the test suite needs: Chromium; --bench, the benchmarks'
#   load generator wrk, performance.md §6.4)
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
WITH_BENCH=0
[ "${1:-}" = "--test" ] && WITH_TEST=1
[ "${1:-}" = "--bench" ] && WITH_BENCH=1
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- System packages -----------------------------------------------------------------
pg_version() { ls -1 /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1; }
missing=()
if [ -z "$(pg_version)" ] || [ ! -x "/usr/lib/postgresql/$(pg_version)/bin/initdb" ]; then
  missing+=(postgresql postgresql-contrib)
fi
ldconfig -p 2>/dev/null | grep 'libgdal\.so' >/dev/null || missing+=(gdal-bin)
command -v gdalinfo >/dev/null || missing+=(gdal-bin)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v msgfmt >/dev/null || missing+=(gettext)
[ "$WITH_TEST" = 1 ] && { [ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core); }
[ "$WITH_BENCH" = 1 ] && { command -v wrk >/dev/null || missing+=(wrk); }

apt_install() {
  local prefix=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      prefix=(sudo)
    else
      echo "Missing system packages. Run, then retry:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y $*" >&2
      exit 1
    fi
  fi
  log "apt-get install $*"
  "${prefix[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${prefix[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "Install: ${missing[*]} (no apt-get here)" >&2; exit 1; }
  apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
fi
# PostGIS must match the PostgreSQL server's major version.
PG=$(pg_version)
if [ ! -f "/usr/share/postgresql/$PG/extension/postgis.control" ]; then
  apt_install "postgresql-$PG-postgis-3"
fi

# --- Python -------------------------------------------------------------------------
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
lock_sum=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat .venv/.lock-installed 2>/dev/null)" != "$lock_sum" ]; then
  log "installing Python dependencies (requirements.lock)"
  # (grep drops the machine-wide pip config's notes about absent local mirrors)
  { .venv/bin/python -m pip install -q --upgrade pip &&
    .venv/bin/python -m pip install -q --no-deps -r requirements.lock; } 2>&1 |
    { grep -v "^WARNING: Location" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
  echo "$lock_sum" > .venv/.lock-installed
fi

# --- Front-end assets ---------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Translations -------------------------------------------------------------------
shopt -s nullglob
for po in locale/*/LC_MESSAGES/*.po; do
  mo=${po%.po}.mo
  [ -f "$mo" ] && [ "$mo" -nt "$po" ] || msgfmt --check -o "$mo" "$po"
done

# --- Database and local settings ----------------------------------------------------
mkdir -p var
scripts/database.sh > var/database_url.tmp
DATABASE_URL_FOUND=$(cat var/database_url.tmp); rm -f var/database_url.tmp
env_file=var/local.env
touch "$env_file"; chmod 600 "$env_file"
set_env() {  # set_env KEY VALUE [keep]: write KEY=VALUE unless kept and present
  if grep -q "^$1=" "$env_file"; then
    [ "${3:-}" = keep ] && return 0
    # The copy is made private as it is created: mv gives the file the copy's mode,
    # and a plain redirection made the secrets readable by all on the second run.
    (umask 077; grep -v "^$1=" "$env_file" > "$env_file.tmp")
    mv "$env_file.tmp" "$env_file"
  fi
  printf '%s=%s\n' "$1" "$2" >> "$env_file"
}
set_env DATABASE_URL "$DATABASE_URL_FOUND"
set_env DJANGO_SECRET_KEY "$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')" keep
set_env RESIDENT_PSEUDONYM_KEY "$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')" keep
set_env DJANGO_DEBUG true keep
set_env DJANGO_SECURE false keep
log "database: $DATABASE_URL_FOUND (settings in $env_file)"
