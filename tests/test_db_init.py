"""scripts/db-init/, which the compose database runs on a new volume, run here on a
new database of the test server: the owner it creates is no superuser, yet migrates
the whole schema, grants the application's role, and the GDPR paths delete through
functions that run with the owner's rights only (reliability.md §H4)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts/db-init/20-intercalaire-roles.sh"
GDPR_FUNCTIONS = (
    "intercalaire_forget_resident_history",
    "intercalaire_forget_contexts",
    "intercalaire_purge_resident_access",
)


@dataclass(frozen=True)
class Server:
    host: str
    port: str
    user: str

    def url(self, role: str, database: str) -> str:
        return f"postgres://{role}:secret-{role}@{self.host}:{self.port}/{database}"

    def psql(self, database: str, statement: str, *, role: str | None = None) -> str:
        done = subprocess.run(
            [
                *("psql", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", self.host),
                *("-p", self.port, "-U", role or self.user, "-d", database),
                *("-c", statement),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode:
            raise subprocess.CalledProcessError(
                done.returncode, statement, done.stdout, done.stderr
            )
        return done.stdout.strip()


@dataclass(frozen=True)
class Volume:
    """A database as the compose volume has it after its first start."""

    server: Server
    database: str
    owner: str
    app: str

    def init(self) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "PGHOST": self.server.host,
            "PGPORT": self.server.port,
            "PGUSER": self.server.user,
            "POSTGRES_DB": self.database,
            "OWNER_ROLE": self.owner,
            "APP_ROLE": self.app,
            "OWNER_DATABASE_PASSWORD": f"secret-{self.owner}",
            "APP_DATABASE_PASSWORD": f"secret-{self.app}",
        }
        return subprocess.run(
            ["sh", str(SCRIPT)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def manage(self, role: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "DATABASE_URL": self.server.url(role, self.database),
            "DJANGO_DEBUG": "false",
        }
        return subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture
def volume() -> Iterator[Volume]:
    settings = connection.settings_dict
    server = Server(
        host=settings["HOST"] or "127.0.0.1",
        port=str(settings["PORT"] or 5432),
        user=settings["USER"] or "postgres",
    )
    tag = secrets.token_hex(4)
    found = Volume(
        server=server,
        database=f"init_{tag}",
        owner=f"init_owner_{tag}",
        app=f"init_app_{tag}",
    )
    server.psql("postgres", f"CREATE DATABASE {found.database}")
    try:
        yield found
    finally:
        server.psql("postgres", f"DROP DATABASE IF EXISTS {found.database} (FORCE)")
        for role in (found.app, found.owner):
            server.psql("postgres", f"DROP ROLE IF EXISTS {role}")


def test_the_owner_is_no_superuser_yet_migrates_and_the_gdpr_functions_run_as_it(
    volume: Volume,
) -> None:
    server, database = volume.server, volume.database
    first = volume.init()
    assert first.returncode == 0, first.stderr
    # Run again by hand on an older volume: it changes nothing and fails nowhere.
    again = volume.init()
    assert again.returncode == 0, again.stderr
    roles = server.psql(
        database,
        "SELECT string_agg(concat_ws(',', rolname, rolsuper, rolcreaterole, "
        "rolcreatedb, rolbypassrls, rolcanlogin), ' ' ORDER BY rolname) "
        f"FROM pg_roles WHERE rolname IN ('{volume.owner}', '{volume.app}')",
    )
    assert roles == f"{volume.app},f,f,f,f,t {volume.owner},f,f,f,f,t"
    assert server.psql(
        database,
        f"SELECT datdba::regrole FROM pg_database WHERE datname = '{database}'",
    ) == (volume.owner)

    for step in (
        ("migrate", "--noinput"),
        ("createcachetable",),
        ("grant_app_role", volume.app),
    ):
        done = volume.manage(volume.owner, *step)
        assert done.returncode == 0, (step, done.stderr[-3000:])

    owners = server.psql(
        database,
        "SELECT string_agg(DISTINCT concat_ws(',', p.proowner::regrole, r.rolsuper, "
        "p.prosecdef), ' ') FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
        f"WHERE p.proname IN {GDPR_FUNCTIONS}",
    )
    assert owners == f"{volume.owner},f,t"

    # A read of resident data older than any retention, which the purge deletes
    # through the owner's function: the application's role may not delete it itself
    # (the privilege is checked before any trigger could be lifted).
    server.psql(
        database,
        "INSERT INTO occupancy_residentaccess "
        "(at, channel, method, request_id, occupant_ids) "
        "VALUES (now() - interval '5 years', 'api:stay.list', 'GET', 'r-1', '{1}')",
        role=volume.owner,
    )
    with pytest.raises(subprocess.CalledProcessError) as refused:
        server.psql(
            database,
            "DELETE FROM occupancy_residentaccess",
            role=volume.app,
        )
    assert "permission denied for table occupancy_residentaccess" in (
        refused.value.stderr
    )
    purge = volume.manage(volume.app, "purge_residents", "--json")
    assert purge.returncode == 0, purge.stderr[-3000:]
    assert server.psql(database, "SELECT count(*) FROM occupancy_residentaccess") == "0"
