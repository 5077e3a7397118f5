"""The settings module refuses bad values at import, naming the variable at fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "s" * 60
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE": "true",
    "DJANGO_ALLOWED_HOSTS": "x.example",
    "DJANGO_SECRET_KEY": "production-check-" + "k" * 50,
    # occupancy.E001 refuses to run without the key that pseudonymises residents.
    "RESIDENT_PSEUDONYM_KEY": "p" * 64,
}


def clean_environment(**overrides: str | None) -> dict[str, str]:
    """This process's environment minus every variable settings read, plus overrides.

    ``None`` removes a variable. ``DATABASE_URL`` stays the real one unless overridden.
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in env.READ or key == "DATABASE_URL"
    }
    # Set by the browser tests while Chromium runs; async.E001 refuses it in deployment.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    environment.update(
        INTERCALAIRE_ENV_FILE="/dev/null",
        DJANGO_SECRET_KEY=GOOD_SECRET,
    )
    for key, value in overrides.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


def import_settings(
    code: str = "import config.settings", /, **overrides: str | None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (which imports the settings) in a clean environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_import_with_only_a_database_url_and_a_secret_key() -> None:
    """The baseline of the refusal tests below: it must import cleanly."""
    result = import_settings()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "variable", "fragment"),
    [
        ({"DATABASE_URL": None}, "DATABASE_URL", "is required"),
        (
            {"DATABASE_URL": "mysql://user@localhost/intercalaire"},
            "DATABASE_URL",
            "postgres://",
        ),
        ({"DATABASE_URL": "postgres://user@localhost/"}, "DATABASE_URL", "database"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG", "boolean"),
        (
            {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "too-short"},
            "DJANGO_SECRET_KEY",
            "at least 50 characters",
        ),
        ({"API_PAGE_SIZE": "abc"}, "API_PAGE_SIZE", "integer"),
        ({"API_TOKEN_TTL_DAYS": "0"}, "API_TOKEN_TTL_DAYS", "between 1 and 365"),
        ({"CACHE_BACKEND": "memcached"}, "CACHE_BACKEND", "one of locmem"),
        (
            {"WEB_STATEMENT_TIMEOUT_SECONDS": "-1"},
            "WEB_STATEMENT_TIMEOUT_SECONDS",
            "between 0 and 3600",
        ),
        (
            {"DJANGO_SECRET_KEY_FILE": "/nonexistent/intercalaire/secret"},
            "DJANGO_SECRET_KEY_FILE",
            "unreadable file",
        ),
    ],
    ids=[
        "missing-database-url",
        "non-postgres-url",
        "url-without-database",
        "debug-maybe",
        "short-secret-in-production",
        "page-size-abc",
        "token-ttl-zero",
        "cache-memcached",
        "negative-statement-timeout",
        "missing-secret-file",
    ],
)
def test_settings_refuse_a_bad_value_with_a_message_naming_the_variable(
    overrides: dict[str, str | None], variable: str, fragment: str
) -> None:
    result = import_settings(**overrides)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert variable in last_line
    assert fragment in last_line


def test_a_short_secret_key_is_accepted_in_debug() -> None:
    result = import_settings(DJANGO_DEBUG="true", DJANGO_SECRET_KEY="short")
    assert result.returncode == 0, result.stderr


def test_the_secret_key_is_read_from_the_file_named_by_the_file_variable(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 60 + "\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from config import settings; print(settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=clean_environment(
            DJANGO_SECRET_KEY=None, DJANGO_SECRET_KEY_FILE=str(secret_file)
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "f" * 60


def test_check_deploy_passes_without_warnings_under_production_settings() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        cwd=ROOT,
        env=clean_environment(DJANGO_SETTINGS_MODULE="config.settings", **PRODUCTION),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_turn_on_hsts_secure_cookies_and_https_redirect() -> None:
    script = (
        "from config import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES'])"
    )
    result = import_settings(script, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 7) == [
        "31536000",
        "True",
        "True",
        "True",
        "True",
        "True",
        "Lax",
        "['rest_framework.renderers.JSONRenderer']\n",
    ]


# --- Silenced checks


def test_silenced_checks_are_exactly_those_with_a_written_reason() -> None:
    assert list(settings.SILENCED_CHECKS_REASONS) == settings.SILENCED_SYSTEM_CHECKS
    for check, reason in settings.SILENCED_CHECKS_REASONS.items():
        assert reason.strip(), f"{check} is silenced without a reason"


# --- The readers of config/env.py


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers called here must not add test names to the real READ/REQUIRED sets."""
    monkeypatch.setattr(env, "READ", set())
    monkeypatch.setattr(env, "REQUIRED", set())


uses_fresh_registry = pytest.mark.usefixtures("fresh_registry")


@uses_fresh_registry
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("1", True), ("TRUE", True), (" yes ", True), ("on", True)],
        *[("0", False), ("False", False), ("no", False), ("off", False), ("", False)],
    ],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("TEST_FLAG", raw)
    assert env.env_bool("TEST_FLAG", default=not expected) is expected


@uses_fresh_registry
def test_env_bool_uses_its_default_and_records_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_FLAG", raising=False)
    assert env.env_bool("TEST_FLAG", default=True) is True
    assert "TEST_FLAG" in env.READ
    assert "TEST_FLAG" not in env.REQUIRED


@uses_fresh_registry
def test_env_int_enforces_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NUMBER", " 42 ")
    assert env.env_int("TEST_NUMBER", 1, minimum=1, maximum=42) == 42
    with pytest.raises(ImproperlyConfigured, match="TEST_NUMBER must be between"):
        env.env_int("TEST_NUMBER", 1, maximum=41)
    with pytest.raises(ImproperlyConfigured, match="TEST_NUMBER must be between"):
        env.env_int("TEST_NUMBER", 1, minimum=43)
    monkeypatch.setenv("TEST_NUMBER", "4.2")
    with pytest.raises(ImproperlyConfigured, match="TEST_NUMBER must be an integer"):
        env.env_int("TEST_NUMBER", 1)


@uses_fresh_registry
def test_env_list_splits_on_commas_and_drops_blanks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_HOSTS", " a.example, ,b.example ,")
    assert env.env_list("TEST_HOSTS") == ["a.example", "b.example"]
    monkeypatch.delenv("TEST_HOSTS")
    assert env.env_list("TEST_HOSTS") == []


@uses_fresh_registry
def test_env_choice_refuses_a_value_outside_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_CHOICE", "b")
    assert env.env_choice("TEST_CHOICE", "a", ("a", "b")) == "b"
    monkeypatch.setenv("TEST_CHOICE", "c")
    with pytest.raises(ImproperlyConfigured, match="TEST_CHOICE must be one of a, b"):
        env.env_choice("TEST_CHOICE", "a", ("a", "b"))


@uses_fresh_registry
def test_env_str_without_default_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="TEST_REQUIRED is required"):
        env.env_str("TEST_REQUIRED")
    assert "TEST_REQUIRED" in env.REQUIRED


@uses_fresh_registry
def test_env_secret_prefers_the_file_and_strips_its_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("TEST_SECRET", "from-env")
    monkeypatch.setenv("TEST_SECRET_FILE", str(secret))
    assert env.env_secret("TEST_SECRET") == "from-file"
    assert {"TEST_SECRET", "TEST_SECRET_FILE"} <= env.READ
    monkeypatch.delenv("TEST_SECRET_FILE")
    assert env.env_secret("TEST_SECRET") == "from-env"


@uses_fresh_registry
def test_env_secret_names_the_file_variable_when_the_file_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEST_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="TEST_SECRET_FILE points to"):
        env.env_secret("TEST_SECRET")


@uses_fresh_registry
def test_env_database_reads_a_tcp_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TEST_DB", "postgres://app:p%40ss@db.example:6543/inter?sslmode=require"
    )
    assert env.env_database("TEST_DB") == {
        "ENGINE": "config.database",
        "NAME": "inter",
        "USER": "app",
        "PASSWORD": "p@ss",
        "HOST": "db.example",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }


@uses_fresh_registry
def test_env_database_reads_a_unix_socket_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shape scripts/database.sh prints for the project-local cluster."""
    monkeypatch.setenv(
        "TEST_DB", "postgres://intercalaire@/intercalaire?host=/srv/var/pgrun&port=5999"
    )
    database = env.env_database("TEST_DB")
    assert (database["HOST"], database["PORT"], database["OPTIONS"]) == (
        "/srv/var/pgrun",
        "5999",
        {},
    )


@uses_fresh_registry
def test_env_database_refuses_an_invalid_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DB", "postgres://u@localhost:99999/inter")
    with pytest.raises(ImproperlyConfigured, match="TEST_DB has an invalid port"):
        env.env_database("TEST_DB")


@uses_fresh_registry
def test_load_env_file_fills_missing_variables_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text(
        "# a comment\n\nTEST_FROM_FILE='quoted value'\nTEST_ALREADY_SET=from-file\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("TEST_FROM_FILE", raising=False)
    monkeypatch.setenv("TEST_ALREADY_SET", "from-environment")
    env.load_env_file(env_file)
    # Registered with monkeypatch so the variable does not outlive the test.
    monkeypatch.setenv("TEST_FROM_FILE", os.environ["TEST_FROM_FILE"])
    assert os.environ["TEST_FROM_FILE"] == "quoted value"
    assert os.environ["TEST_ALREADY_SET"] == "from-environment"


def test_load_env_file_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text("# fine\nnot a setting\n", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=r"local.env:2: expected KEY=value"):
        env.load_env_file(env_file)


def test_load_env_file_ignores_a_missing_file(tmp_path: Path) -> None:
    env.load_env_file(tmp_path / "absent.env")


def test_a_replica_url_adds_a_read_only_alias_with_the_primarys_connection_rules() -> (
    None
):
    script = (
        "import json; from config import settings; "
        "print(json.dumps({k: settings.DATABASES.get('replica', {}).get(k) "
        "for k in ('NAME', 'HOST', 'PORT', 'OPTIONS', 'CONN_MAX_AGE', "
        "'CONN_HEALTH_CHECKS', 'REQUEST_OPTIONS', 'TEST')} | "
        "{'pin': settings.DATABASE_REPLICA_PIN_SECONDS, "
        "'primary': settings.DATABASES['default']['REQUEST_OPTIONS'], "
        "'jobs': settings.DATABASES['jobs']['REQUEST_OPTIONS']}))"
    )

    def run(**overrides: str | None) -> dict[str, object]:
        result = import_settings(script, **overrides)
        assert result.returncode == 0, result.stderr
        values: dict[str, object] = json.loads(result.stdout)
        return values

    configured = run(
        DATABASE_REPLICA_URL="postgres://reader@standby.internal:5433/intercalaire",
        DATABASE_REPLICA_PIN_SECONDS="30",
        DATABASE_CONN_MAX_AGE="120",
        WEB_STATEMENT_TIMEOUT_SECONDS="20",
    )
    # The web's limits (K3), the same on both; never on the job worker's alias.
    web_limits = (
        "-c statement_timeout=20000 -c idle_in_transaction_session_timeout=60000"
    )
    assert configured == {
        "NAME": "intercalaire",
        "HOST": "standby.internal",
        "PORT": "5433",
        "OPTIONS": {
            "options": "-c jit=off -c max_parallel_workers_per_gather=0",
            "connect_timeout": "2",
        },
        "CONN_MAX_AGE": 120,
        "CONN_HEALTH_CHECKS": True,
        "REQUEST_OPTIONS": web_limits,
        "TEST": {"MIRROR": "default"},
        "pin": 30,
        "primary": web_limits,
        "jobs": "",
    }
    unset = run(DATABASE_REPLICA_URL=None)
    assert unset["NAME"] is None
    assert unset["pin"] == 10
    refused = import_settings(DATABASE_REPLICA_URL="mysql://standby/intercalaire")
    assert refused.returncode != 0
    assert "DATABASE_REPLICA_URL" in refused.stderr


@pytest.mark.slow
@pytest.mark.django_db
def test_every_integrity_hash_on_a_page_matches_the_file_production_serves(
    tmp_path: Path,
) -> None:
    """With DEBUG off the manifest storage rewrites the url(…) inside collected
    stylesheets; django-dsfr's SRI hashes are the package's own files', so the
    browser refused the design system's CSS on every page (found in Chromium)."""
    import base64
    import hashlib
    import re

    from django.core.management import call_command
    from django.test import Client, override_settings

    production = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=production):
        call_command("collectstatic", interactive=False, verbosity=0)
        page = Client().get("/").content.decode()

    tags = re.findall(r"<(?:link|script)\b[^>]*>", page)
    stylesheets = [tag for tag in tags if 'rel="stylesheet"' in tag]
    assert any("dsfr" in tag for tag in stylesheets), stylesheets
    checked = 0
    for tag in tags:
        integrity = re.search(r'integrity="sha(\d+)-([^"]+)"', tag)
        if integrity is None:
            continue
        url = re.search(r'(?:href|src)="([^"]+)"', tag)
        assert url is not None, tag
        assert url.group(1).startswith(settings.STATIC_URL), tag
        served = (
            tmp_path / url.group(1).removeprefix(settings.STATIC_URL)
        ).read_bytes()
        digest = hashlib.new(f"sha{integrity.group(1)}", served).digest()
        assert base64.b64encode(digest).decode() == integrity.group(2), tag
        checked += 1
    # django-dsfr's scripts are not rewritten: with checksums on, they were checked.
    assert checked or not settings.DSFR_USE_INTEGRITY_CHECKSUMS
