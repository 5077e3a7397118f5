#!/usr/bin/env bash
# Finds or makes a PostGIS database and prints its URL on stdout (logs on stderr).
#  1. DATABASE_URL, when set;
#  2. else a server already listening on 127.0.0.1:5432 (database created if missing);
#  3. else a project-local cluster under var/ (or $INTERCALAIRE_VAR), initialised with the
#     system's initdb as a non-root user and started on a Unix socket and a free port.
# INTERCALAIRE_DB_STRATEGY=local forces 3 (used by the tests of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${INTERCALAIRE_DB_NAME:-intercalaire}
VAR=$(realpath -m "${INTERCALAIRE_VAR:-var}")
log() { printf '==> %s\n' "$*" >&2; }
PGBIN=/usr/lib/postgresql/$(ls -1 /usr/lib/postgresql | sort -n | tail -n 1)/bin

ensure_extensions() {  # ensure_extensions URL
  PGOPTIONS="-c client_min_messages=warning" psql "$1" -v ON_ERROR_STOP=1 -qAt >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;
SQL
}

strategy=${INTERCALAIRE_DB_STRATEGY:-auto}
if [ "$strategy" = auto ] && [ -n "${DATABASE_URL:-}" ]; then
  ensure_extensions "$DATABASE_URL" || { log "cannot prepare \$DATABASE_URL (is PostGIS installed there?)"; exit 1; }
  echo "$DATABASE_URL"; exit 0
fi

if [ "$strategy" = auto ] && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p 5432; then
  user=${PGUSER:-postgres}
  admin="postgres://$user@127.0.0.1:5432/postgres"
  if psql "$admin" -qAtc 'select 1' >/dev/null 2>&1; then
    if [ "$(psql "$admin" -qAtc "select 1 from pg_database where datname = '$NAME'")" != 1 ]; then
      log "creating database $NAME on 127.0.0.1:5432"
      psql "$admin" -qAtc "CREATE DATABASE \"$NAME\"" >/dev/null
    fi
    url="postgres://$user@127.0.0.1:5432/$NAME"
    ensure_extensions "$url"
    echo "$url"; exit 0
  fi
  log "a server listens on 127.0.0.1:5432 but refuses user '$user' without a password:"
  log "set DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432/$NAME, or stop it to use a local cluster."
  exit 1
fi

# --- Project-local cluster ------------------------------------------------------------
data=$VAR/pgdata; sock=$VAR/pgrun; logfile=$VAR/postgres.log
mkdir -p "$VAR"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses root: the cluster belongs to the 'postgres' system user.
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  as_owner=(runuser -u postgres --)
  mkdir -p "$data" "$sock"; chown postgres "$data" "$sock"
  touch "$logfile"; chown postgres "$logfile"
  if ! "${as_owner[@]}" test -w "$data"; then
    log "user 'postgres' cannot reach $data (a parent directory is not traversable);"
    log "set INTERCALAIRE_VAR to a directory it can reach, or set DATABASE_URL."
    exit 1
  fi
fi
if [ ! -f "$data/PG_VERSION" ]; then
  log "initialising a local PostgreSQL cluster in $data"
  "${as_owner[@]}" "$PGBIN/initdb" -D "$data" --username=intercalaire --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
port_file=$VAR/pgport
if ! "$PGBIN/pg_isready" -q -h "$sock" -p "$(cat "$port_file" 2>/dev/null || echo 0)"; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$port" > "$port_file"
  log "starting the local cluster on socket $sock, port $port"
  "${as_owner[@]}" "$PGBIN/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
    -o "-p $port -k $sock -c listen_addresses=''" start >/dev/null
fi
port=$(cat "$port_file")
admin="postgres://intercalaire@/postgres?host=$sock&port=$port"
if [ "$(psql "$admin" -qAtc "select 1 from pg_database where datname = '$NAME'")" != 1 ]; then
  psql "$admin" -qAtc "CREATE DATABASE \"$NAME\"" >/dev/null
fi
url="postgres://intercalaire@/$NAME?host=$sock&port=$port"
ensure_extensions "$url"
echo "$url"
