"""scripts/database.sh finds or makes a PostGIS database, in three ways (README)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts/database.sh"
PGBIN = (
    Path("/usr/lib/postgresql")
    / sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]
    / "bin"
)
SERVER = "postgres://postgres@127.0.0.1:5432"


def run(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(env)
    done = subprocess.run(
        [str(SCRIPT)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", url, "-qAtc", sql],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """Outside /tmp/pytest-of-root (mode 700): the cluster's owner must reach it."""
    directory = Path(tempfile.mkdtemp(prefix="intercalaire-var-"))
    directory.chmod(0o755)
    yield directory
    data = directory / "pgdata"
    if (data / "postmaster.pid").exists():
        stop = [str(PGBIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, timeout=60, check=False)
    shutil.rmtree(directory, ignore_errors=True)


def test_a_database_url_given_is_used_as_it_is() -> None:
    url = f"{SERVER}/postgres"
    assert run(DATABASE_URL=url) == url


def test_a_server_on_localhost_gets_the_database_created_with_postgis() -> None:
    name = "intercalaire_script_test"
    psql(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{name}"')
    try:
        url = run(INTERCALAIRE_DB_NAME=name)
        assert url == f"{SERVER}/{name}"
        assert psql(url, "SELECT postgis_lib_version()").startswith("3.")
        assert run(INTERCALAIRE_DB_NAME=name) == url  # a second run changes nothing
    finally:
        psql(f"{SERVER}/postgres", f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.slow
def test_without_a_server_a_project_local_cluster_is_made_and_started(
    var_dir: Path,
) -> None:
    url = run(INTERCALAIRE_DB_STRATEGY="local", INTERCALAIRE_VAR=str(var_dir))

    assert url.startswith("postgres://intercalaire@/intercalaire?host=")
    assert f"host={var_dir}/pgrun" in url
    assert (var_dir / "pgdata/PG_VERSION").is_file()
    assert psql(url, "SELECT postgis_lib_version()").startswith("3.")
    assert psql(url, "SELECT extname FROM pg_extension WHERE extname = 'btree_gist'")
    # Started once: a second run finds it running and answers the same URL.
    assert run(INTERCALAIRE_DB_STRATEGY="local", INTERCALAIRE_VAR=str(var_dir)) == url
