"""Shared fixtures: one user per persona, API clients, and the demo organizations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations.models import Membership, Organization, OrganizationKind, Role

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_member(db: None) -> Callable[..., User]:
    """``make_member(kind, role=..., departments=[...])``: a user in a new org."""
    counter = iter(range(1, 10_000))

    def make(
        kind: str,
        *,
        role: str = Role.EDITOR,
        departments: list[str] | None = None,
        organization: Organization | None = None,
        username: str | None = None,
    ) -> User:
        number = next(counter)
        organization = organization or Organization.objects.create(
            name=f"{kind} {number}",
            kind=kind,
            territory_departments=departments or [],
        )
        user = User.objects.create_user(
            username=username or f"{kind}-{number}", password=PASSWORD
        )
        Membership.objects.create(user=user, organization=organization, role=role)
        return user

    return make


@pytest.fixture
def agent(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.STATE_SERVICE, departments=["13"])


@pytest.fixture
def operator_user(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.OPERATOR)


@pytest.fixture
def funder(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.FUNDER)


@pytest.fixture
def kill_session_on() -> Iterator[Callable[[str, str], Callable[[], None]]]:
    """``kill_session_on(table, "INSERT" | "UPDATE")`` installs a trigger that ends
    the session writing a row there (``pg_terminate_backend`` of its own backend):
    the connection dies in the middle of the write's transaction (reliability.md
    L2). It returns the function that lifts the trigger again. Needs a
    transactional test database; whatever is left is lifted afterwards."""
    installed: list[tuple[str, str]] = []

    def lift(name: str, table: str) -> None:
        for each in connections.all():
            each.close()  # a killed connection is unusable; the next query reopens
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")

    def install(table: str, operation: str) -> Callable[[], None]:
        name = f"test_kill_on_{operation.lower()}"
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION test_kill_session() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_kill_session()"
            )
        installed.append((name, table))
        return lambda: lift(name, table)

    yield install
    for name, table in installed:
        lift(name, table)
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION IF EXISTS test_kill_session()")


@pytest.fixture(autouse=True)
def erasure_log(settings: Settings, tmp_path: Path) -> Path:
    """Erasures on request append to a log outside the database, and the reads of
    resident data are copied to another: a test's own."""
    settings.RESIDENT_ERASURE_LOG = tmp_path / "erasures.jsonl"
    settings.RESIDENT_READS_LOG = tmp_path / "reads.jsonl"
    return Path(settings.RESIDENT_ERASURE_LOG)


@pytest.fixture
def reads_log(erasure_log: Path, settings: Settings) -> Path:
    """The copy of the reads of resident data a test's exports append to."""
    return Path(settings.RESIDENT_READS_LOG)
