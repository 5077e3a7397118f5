"""docker-compose.yml and the Dockerfile, kept correct without Docker: their shape,
their agreement with the settings, and the commands they run, run here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import env

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
WEB: dict[str, Any] = SERVICES["web"]
MIGRATE: dict[str, Any] = SERVICES["migrate"]
INIT_SCRIPT = ROOT / "scripts/db-init/20-intercalaire-roles.sh"
# The roles the init script creates unless told otherwise.
INIT_DEFAULTS = dict(
    re.findall(r'^(\w+_ROLE)="\$\{\w+:-(\w+)\}"$', INIT_SCRIPT.read_text(), re.M)
)
# How the image and compose start the web tier (config/server.py).
SERVE = [
    *("exec", "python", "-m", "config.server"),
    *("--host", "0.0.0.0", "--port", "8000"),  # noqa: S104
]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def healthcheck_code(test: list[str]) -> str:
    """The Python source of a ``["CMD", "python", "-c", code]`` healthcheck."""
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


# --- docker-compose.yml


def test_the_database_is_postgis_15_with_a_volume_and_a_pg_isready_healthcheck() -> (
    None
):
    db = SERVICES["db"]
    assert re.fullmatch(r"postgis/postgis:15-3\.\d+", db["image"])
    volume = db["volumes"][0].split(":")
    assert volume == ["pgdata", "/var/lib/postgresql/data"]
    assert "pgdata" in COMPOSE["volumes"]
    test = db["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    assert test[1].startswith("pg_isready ")
    assert "-d intercalaire" in test[1]


def test_web_is_built_from_the_dockerfile_and_waits_for_the_migration() -> None:
    assert WEB["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert (MIGRATE["build"], MIGRATE["image"]) == (WEB["build"], WEB["image"])
    assert MIGRATE["depends_on"]["db"] == {"condition": "service_healthy"}
    assert WEB["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }


def _role(url: str) -> str:
    match = re.fullmatch(r"postgres://([a-z_]+):\$\{[A-Z_]+:\?[^}]+\}@db:5432/\w+", url)
    assert match, url
    return match[1]


def test_the_owner_migrates_and_grants_the_role_the_web_tier_uses() -> None:
    """reliability.md §H4: web and worker connect as a role that owns nothing;
    only the one-shot migration holds the owner's password."""
    steps = [step.strip() for step in MIGRATE["command"][2].split("&&")]
    assert MIGRATE["command"][:2] == ["sh", "-c"]
    assert steps[0] == "python manage.py migrate --noinput"
    app_role = _role(WEB["environment"]["DATABASE_URL"])
    # The role exists already (scripts/db-init): the owner, no superuser, may not
    # create roles.
    assert shlex.split(steps[-1]) == [
        *("python", "manage.py", "grant_app_role", app_role),
    ]
    owner = _role(MIGRATE["environment"]["DATABASE_URL"])
    assert "${OWNER_DATABASE_PASSWORD" in MIGRATE["environment"]["DATABASE_URL"]
    assert (owner, app_role) == (INIT_DEFAULTS["OWNER_ROLE"], INIT_DEFAULTS["APP_ROLE"])
    assert owner != app_role
    for service in ("web", "worker"):
        environment = SERVICES[service]["environment"]
        assert "POSTGRES_PASSWORD" not in str(environment), service
        assert "OWNER_DATABASE_PASSWORD" not in str(environment), service
        assert "${APP_DATABASE_PASSWORD" in environment["DATABASE_URL"], service
    # The web tier serves with the image's command.
    assert "command" not in WEB


def test_the_database_creates_the_owner_and_the_application_role_on_a_new_volume() -> (
    None
):
    """Nothing connects as the image's superuser: scripts/db-init/ (run by the
    image's entrypoint on a new volume; tests/test_db_init.py runs it here) creates
    the owner that migrates and the application's role, with the passwords the
    migrate and web services use."""
    db = SERVICES["db"]
    assert "POSTGRES_USER" not in db["environment"]  # the image's `postgres`
    source = INIT_SCRIPT.relative_to(ROOT)
    mount = f"./{source}:/docker-entrypoint-initdb.d/{INIT_SCRIPT.name}:ro"
    assert mount in db["volumes"]
    for variable in ("OWNER_DATABASE_PASSWORD", "APP_DATABASE_PASSWORD"):
        assert db["environment"][variable] == f"${{{variable}:?set {variable}}}"
    # After the image's own 10_postgis.sh.
    assert INIT_SCRIPT.name > "10_postgis.sh"
    assert "-h 127.0.0.1" in db["healthcheck"]["test"][1]


def test_web_healthcheck_asks_healthz() -> None:
    code = healthcheck_code(WEB["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in code
    compile(code, "healthcheck", "exec")


def test_the_shared_cache_the_web_tier_needs_is_created_on_start() -> None:
    assert WEB["environment"]["CACHE_BACKEND"] == "database"
    assert "python manage.py createcachetable" in MIGRATE["command"][2]


@pytest.mark.parametrize("service", ["migrate", "web", "worker"])
def test_every_variable_a_service_sets_is_read_by_the_settings(service: str) -> None:
    from organizations.management.commands.grant_app_role import PASSWORD_VARIABLE

    # grant_app_role reads the new role's password, not the settings.
    read = env.READ | ({PASSWORD_VARIABLE} if service == "migrate" else set())
    unknown = set(SERVICES[service]["environment"]) - read
    assert not unknown, f"{service} sets variables the settings ignore: {unknown}"


def test_every_required_variable_is_set_by_the_web_service() -> None:
    assert env.REQUIRED, "settings were not imported: the check below means nothing"
    assert env.REQUIRED - set(WEB["environment"]) == set()


def test_web_runs_production_settings() -> None:
    environment = WEB["environment"]
    assert environment["DJANGO_DEBUG"] == "false"
    assert environment["DJANGO_SECURE"] == "true"
    # Secrets come from the operator's environment, never from the file.
    for secret in ("DJANGO_SECRET_KEY", "RESIDENT_PSEUDONYM_KEY"):
        assert environment[secret].startswith(f"${{{secret}:?"), secret
    assert "${APP_DATABASE_PASSWORD" in environment["DATABASE_URL"]


def test_the_worker_runs_the_job_queue_with_the_web_image_and_volumes() -> None:
    worker = SERVICES["worker"]
    assert (worker["build"], worker["image"]) == (WEB["build"], WEB["image"])
    assert worker["command"] == ["python", "manage.py", "procrastinate", "worker"]
    # The worker alone writes the nightly copy of the reads of resident data.
    assert worker["volumes"] == [*WEB["volumes"], "audit:/app/var/audit"]
    assert worker["depends_on"]["web"] == {"condition": "service_healthy"}


# --- Dockerfile


def test_the_dockerfile_builds_a_non_root_python_311_image_with_gdal() -> None:
    instructions = dockerfile_instructions()
    froms = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert froms[-1] == "python:3.11-slim-bookworm"
    runs = " ".join(
        arguments for keyword, arguments in instructions if keyword == "RUN"
    )
    for needed in ("gdal-bin", "libgdal32", "gettext", "npm ci", "msgfmt"):
        assert needed in runs, needed
    assert "pip install --no-deps -r requirements.lock" in runs
    assert "collectstatic --noinput" in runs
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in ("root", "0")


def test_the_dockerfile_serves_with_the_deployed_server_and_checks_its_health() -> None:
    instructions = dict(dockerfile_instructions())
    assert ["exec", *yaml.safe_load(instructions["CMD"])] == SERVE
    healthcheck = shlex.split(instructions["HEALTHCHECK"])
    test = healthcheck[healthcheck.index("CMD") :]
    assert "http://127.0.0.1:8000/healthz" in healthcheck_code(test)


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "node_modules", "var", ".git"} <= ignored


# --- The commands, run here


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("source", ["compose", "dockerfile"])
def test_the_healthcheck_passes_on_a_live_server_and_fails_on_an_error(
    live_server: Any, source: str
) -> None:
    if source == "compose":
        code = healthcheck_code(WEB["healthcheck"]["test"])
    else:
        healthcheck = shlex.split(dict(dockerfile_instructions())["HEALTHCHECK"])
        code = healthcheck_code(healthcheck[healthcheck.index("CMD") :])
    environment = {**os.environ, "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1"}

    def run(url: str) -> int:
        here = code.replace("http://127.0.0.1:8000/healthz", url)
        return subprocess.run(
            [sys.executable, "-c", here], env=environment, timeout=30, check=False
        ).returncode

    assert run(f"{live_server.url}/healthz") == 0
    assert run(f"{live_server.url}/no-such-page") != 0


@pytest.mark.slow
def test_the_dockerfile_collectstatic_step_succeeds_with_its_throwaway_settings(
    tmp_path: Path,
) -> None:
    """The manifest storage refuses a stylesheet naming a missing file: try it here."""
    run = next(
        arguments
        for keyword, arguments in dockerfile_instructions()
        if keyword == "RUN" and "collectstatic" in arguments
    )
    words = shlex.split(run)
    assignments = dict(
        word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word)
    )
    assert assignments["DJANGO_DEBUG"] == "false"
    command = words[len(assignments) :]
    assert command[:2] == ["python", "manage.py"]
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in env.READ and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(assignments, STATIC_ROOT=str(tmp_path))
    result = subprocess.run(
        [sys.executable, *command[1:]],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "staticfiles.json").is_file()


def test_the_server_settings_serve_the_application_as_documented() -> None:
    """The image, compose and make bench serve with config/server.py: granian's
    WSGI interface, 2 workers of 2 threads unless the environment says otherwise."""
    from granian.constants import Interfaces

    from config import server

    deployed = server.server(host="0.0.0.0", port=8000)  # noqa: S104
    assert deployed.interface == Interfaces.WSGI
    assert (deployed.bind_addr, deployed.bind_port) == ("0.0.0.0", 8000)  # noqa: S104
    assert (deployed.workers, deployed.blocking_threads) == (2, 2)
    assert deployed.target == "config.server:load_application"
    assert deployed.factory
    assert not deployed.websockets
    tuned = server.server(workers=3, threads=4)
    assert (tuned.workers, tuned.blocking_threads) == (3, 4)
