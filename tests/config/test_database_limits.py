"""K3 of reliability.md: web requests are bounded by a statement timeout and an
idle-in-transaction timeout; a statement cut by them answers 503 with Retry-After.
Management commands and the job worker are not bounded."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client, override_settings

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "jobs"]),
    pytest.mark.urls("tests.config.slow_urls"),
]


def _session_settings(alias: str = "default") -> tuple[str, str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), "
            "current_setting('idle_in_transaction_session_timeout')"
        )
        statement, idle = cursor.fetchone()
    return statement, idle


@pytest.fixture
def fresh_connections() -> Iterator[None]:
    """Connections opened from here on, and closed after: the limits are set when
    one opens, and a low one must not outlive its test."""
    for alias in ("default", "jobs"):
        connections[alias].close()
    yield
    for alias in ("default", "jobs"):
        connections[alias].close()


@pytest.fixture
def low_timeout(fresh_connections: None) -> Iterator[None]:
    original = connection.settings_dict.get("REQUEST_OPTIONS", "")
    connection.settings_dict["REQUEST_OPTIONS"] = "-c statement_timeout=200"
    yield
    connection.settings_dict["REQUEST_OPTIONS"] = original


def test_a_web_request_connection_carries_the_timeouts_and_the_jobs_alias_not(
    client: Client, fresh_connections: None
) -> None:
    response = client.get("/session-settings")
    assert response.status_code == 200
    assert response.json() == {"default": ["15s", "1min"], "jobs": ["0", "0"]}


def test_a_connection_opened_while_a_streamed_body_is_sent_carries_them_too(
    client: Client, fresh_connections: None
) -> None:
    response = client.get("/session-settings/streamed")
    body = json.loads(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert body == {"default": ["15s", "1min"], "jobs": ["0", "0"]}


def test_a_command_or_job_connection_is_not_cut_at_the_web_timeout(
    client: Client, fresh_connections: None
) -> None:
    """The same process: the request's connection is bounded, the connection a
    command (or the worker running a job, which serves no request) opens is not."""
    assert client.get("/session-settings").json()["default"] == ["15s", "1min"]
    connection.close()
    call_command("purge_residents", "--dry-run", "--json", stdout=io.StringIO())
    assert _session_settings() == ("0", "0")
    connections["jobs"].close()
    assert _session_settings("jobs") == ("0", "0")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/slow", {"code": "unavailable"}),
        ("/ogc/slow", {"code": "ServiceUnavailable"}),
    ],
    ids=["api", "ogc"],
)
def test_a_statement_past_the_timeout_answers_503_json_with_retry_after(
    client: Client, low_timeout: None, path: str, body: dict[str, str]
) -> None:
    started = time.monotonic()
    response = client.get(path)
    assert time.monotonic() - started < 2  # cut, not waited for (pg_sleep(3))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert response.json().items() >= body.items()
    # The connection serves the next request: the transaction was not left aborted.
    assert _session_settings()[0] == "200ms"


def test_a_page_whose_statement_passes_the_timeout_answers_an_html_503(
    client: Client, low_timeout: None
) -> None:
    with override_settings(LANGUAGE_CODE="en"):
        response = client.get("/pages/slow", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert b"took too long" in response.content
    assert response["X-Request-ID"].encode() in response.content


def test_a_statement_cut_in_a_middleware_answers_the_same_503(
    low_timeout: None,
) -> None:
    """The session's read runs in a middleware, before any view: a statement cut
    there was a 500 HTML page, under /api/ too (audit)."""
    user = User.objects.create_user("agent-timeout", password="x")
    web = Client(raise_request_exception=False)
    web.force_login(user)
    connection.close()
    settings_dict = connection.settings_dict
    holder = psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
    )
    try:
        holder.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        response = web.get("/api/v1/slow")
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert int(response["Retry-After"]) > 0
