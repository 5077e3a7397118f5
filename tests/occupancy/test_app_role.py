"""The application's database role (reliability.md §H4, tamper resistance): it may
add to the audit tables and never UPDATE, DELETE or TRUNCATE them, even with the
Protect triggers lifted (a session variable any connection can set), while the
GDPR paths that must delete there — the retention purge, an erasure, the purge of
old reads — still work under it, through the owner's functions (occupancy
migration 0006).

Each test creates its own role inside the test's transaction (rolled back after
it) and acts as it with SET ROLE on the test's connection: every ORM call of the
test body then runs with that role's privileges.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from io import StringIO

import pghistory
import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from buildings.models import Building
from config.database.privileges import (
    RoleError,
    append_only_tables,
    grant_app_role,
)
from occupancy.models import Agreement, Occupant, ResidentAccess, Space
from occupancy.residents import occupant_erase, purge_residents, stay_exit
from tests.occupancy import test_purge
from tests.occupancy.test_purge import TODAY, resident_with_stay, traces

pytestmark = pytest.mark.django_db


# The purge tests' fixtures: their pseudonym key (autouse) and ELAN site.
_key = test_purge._key
site = test_purge.site


@pytest.fixture
def app_role() -> str:
    role = f"app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    grants = grant_app_role(role)
    assert grants.created is False
    return role


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def refused(statement: str) -> str:
    """The error ``statement`` raises, in a savepoint so the test goes on."""
    with (
        pytest.raises(ProgrammingError) as error,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    return str(error.value)


def test_the_audit_tables_are_the_append_only_ones() -> None:
    tables = append_only_tables()
    assert "occupancy_residentaccess" in tables
    assert {"occupancy_occupantevent", "finance_disbursementevent"} <= set(tables)
    assert "occupancy_occupant" not in tables
    assert "pghistory_context" not in tables


def test_the_app_role_may_only_add_to_the_audit_tables(
    site: tuple[Agreement, Space], app_role: str
) -> None:
    resident_with_stay(site, date(2026, 1, 1), None)
    with acting_as(app_role):
        # Lifting every trigger does not lift a privilege.
        with pgtrigger.ignore():
            for table in append_only_tables():
                for statement in (
                    f"DELETE FROM {table}",
                    f"TRUNCATE {table}",
                    f"UPDATE {table} SET {_pk(table)} = {_pk(table)}",
                ):
                    assert f"permission denied for table {table}" in refused(
                        statement
                    ), statement
            assert "permission denied for table pghistory_context" in refused(
                "DELETE FROM pghistory_context"
            )
            assert "permission denied for table buildings_building" in refused(
                "TRUNCATE buildings_building"
            )
        # It still writes: a resident registered and moved in under it is
        # recorded, context included (pghistory upserts its row).
        with pghistory.context(request_id="req-app-role"):
            occupant = resident_with_stay(site, date(2026, 2, 1), None)
            Occupant.objects.filter(pk=occupant.pk).update(age_band="25_34")
        assert traces(occupant.pk, occupant.pseudonym)
        ResidentAccess.objects.create(channel="api:test", occupant_ids=[occupant.pk])
        assert Building.objects.filter(pk=site[1].building_id).update(
            designation="Renamed"
        )


def _pk(table: str) -> str:
    from django.apps import apps

    (model,) = [m for m in apps.get_models() if m._meta.db_table == table]
    return str(model._meta.pk.column)


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_the_purge_runs_under_the_app_role(
    site: tuple[Agreement, Space], app_role: str, mode: str, settings: Settings
) -> None:
    settings.OCCUPANCY_RULES = {"retention_mode": mode}
    with acting_as(app_role):
        kept = resident_with_stay(site, date(2025, 1, 1), date(2025, 6, 1))
        old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
        # A context only this resident's history uses: it goes with it. (Last:
        # in one transaction, pghistory's context variable outlives the block.)
        with pghistory.context(url="/occupants/old/"):
            Occupant.objects.filter(pk=old.pk).update(age_band="50_64")
        assert traces(old.pk, old.pseudonym)

        report = purge_residents(today=TODAY)

        assert report.events >= 4  # the occupant's insert and update, the stay's
        assert report.contexts == 1
        assert traces(old.pk, old.pseudonym) == {}
        assert traces(kept.pk, kept.pseudonym)


def test_an_erasure_runs_under_the_app_role(
    site: tuple[Agreement, Space], app_role: str
) -> None:
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    with acting_as(app_role):
        stay_exit(
            stay=occupant.stays.get(),
            exit_date=date(2026, 2, 1),
            destination="street",
            today=TODAY,
        )
        erased = occupant_erase(occupant=Occupant.objects.get(pk=occupant.pk))
        assert (erased.anonymised, erased.events) == (1, 3)
        assert traces(occupant.pk, occupant.pseudonym) == {}


def test_the_history_of_a_resident_on_file_cannot_be_deleted_through_the_purge(
    site: tuple[Agreement, Space], app_role: str
) -> None:
    """The owner's function deletes the history of retired residents only: called
    directly for one still on file, it refuses and deletes nothing."""
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    before = traces(occupant.pk, occupant.pseudonym)
    with acting_as(app_role):
        error = refused(
            "SELECT intercalaire_forget_resident_history("
            f"ARRAY[{occupant.pk}]::bigint[])"
        )
    assert "the history of a resident on file is kept" in error
    assert traces(occupant.pk, occupant.pseudonym) == before


def test_a_forged_history_row_does_not_make_the_purge_forget_a_stay_on_file(
    site: tuple[Agreement, Space], app_role: str
) -> None:
    """The role may add to the event tables: a version of a resident's stay naming
    an invented occupant made the function forget every version of that stay
    (found by a review)."""
    from django.apps import apps

    stay_events = apps.get_model("occupancy", "StayEvent").objects
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    stay = occupant.stays.get()
    before = traces(occupant.pk, occupant.pseudonym)
    with acting_as(app_role):
        forged = stay_events.filter(pgh_obj_id=stay.pk).first()
        forged.pk = None
        forged.occupant_id = 999_999_999
        forged.save()
        error = refused(
            "SELECT intercalaire_forget_resident_history(ARRAY[999999999]::bigint[])"
        )
    assert "names a resident on file" in error
    assert traces(occupant.pk, occupant.pseudonym) == before


def test_an_anonymised_resident_stays_anonymised(
    site: tuple[Agreement, Space], app_role: str
) -> None:
    """Else the role could mark a resident retired, have its history forgotten,
    and clear the mark."""
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    with acting_as(app_role), pgtrigger.ignore():
        Occupant.objects.filter(pk=occupant.pk).update(anonymised_at=timezone.now())
        error = refused(
            "UPDATE occupancy_occupant SET anonymised_at = NULL "
            f"WHERE id = {occupant.pk}"
        )
    assert "an anonymised resident stays anonymised" in error


def test_the_context_of_past_writes_is_not_rewritten(app_role: str) -> None:
    """The role may update a context (pghistory's upsert keeps running work's
    current), not one older than a day: who did what is the audit trail."""
    old, fresh = uuid.uuid4(), uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pghistory_context (id, created_at, updated_at, metadata) "
            "VALUES (%s, now() - interval '2 days', now(), '{}'), "
            "(%s, now(), now(), '{}')",
            [old, fresh],
        )
    with acting_as(app_role):
        error = refused(
            "UPDATE pghistory_context SET metadata = '{\"user\": 1}' "
            f"WHERE id = '{old}'"
        )
        assert "the context of past writes is kept" in error
        with connection.cursor() as cursor:
            cursor.execute(
                'UPDATE pghistory_context SET metadata = \'{"url": "/x/"}\' '
                "WHERE id = %s",
                [fresh],
            )
            assert cursor.rowcount == 1


def test_reads_are_kept_six_months_whatever_date_the_purge_is_given(
    app_role: str, settings: Settings
) -> None:
    """The function behind the purge keeps six months of reads (CNIL 2021-122),
    so a purge told a date far ahead cannot empty the log."""
    now = timezone.now()

    def read_at(moment: datetime) -> int:
        access = ResidentAccess.objects.create(channel="api:test", occupant_ids=[1])
        with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
            ResidentAccess.objects.filter(pk=access.pk).update(at=moment)
        return access.pk

    recent = read_at(now - timedelta(days=150))
    read_at(now - timedelta(days=200))
    settings.OCCUPANCY_RULES = {"access_log_retention_months": 0}
    with acting_as(app_role):
        report = purge_residents(today=date(2099, 1, 1))
    assert report.access_records == 1
    assert list(ResidentAccess.objects.values_list("pk", flat=True)) == [recent]


def test_the_command_grants_and_creates_the_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role = f"app_{uuid.uuid4().hex[:12]}"
    with pytest.raises(CommandError, match="APP_DATABASE_PASSWORD"):
        call_command("grant_app_role", role, "--create")
    with pytest.raises(CommandError, match=f"No role {role}"):
        call_command("grant_app_role", role)
    monkeypatch.setenv("APP_DATABASE_PASSWORD", "s3cret'; DROP TABLE x; --")
    out = StringIO()
    call_command("grant_app_role", role, "--create", stdout=out)
    assert f'"role": "{role}", "created": true' in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", [role]
        )
        assert cursor.fetchone() == (True, False)
        cursor.execute(
            "SELECT has_table_privilege(%s, 'occupancy_occupant', 'DELETE'), "
            "has_table_privilege(%s, 'occupancy_occupantevent', 'INSERT'), "
            "has_table_privilege(%s, 'occupancy_occupantevent', 'DELETE'), "
            "has_table_privilege(%s, 'occupancy_residentaccess', 'UPDATE')",
            [role] * 4,
        )
        assert cursor.fetchone() == (True, True, False, False)
    # Again: idempotent; the role exists now, and its password is the new one,
    # hashed before it was sent (the server's log never sees it).
    monkeypatch.setenv("APP_DATABASE_PASSWORD", "another one")
    out = StringIO()
    call_command("grant_app_role", role, "--create", stdout=out)
    assert '"created": false' in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
        (stored,) = cursor.fetchone()
    assert stored.startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize("name", ["Intercalaire", "app-role", "x" * 64, 'a"; --'])
def test_an_odd_role_name_is_refused(name: str) -> None:
    with pytest.raises(RoleError, match="lower-case"):
        grant_app_role(name)


def test_the_owner_or_a_superuser_cannot_be_the_app_role() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
    with pytest.raises(RoleError, match="owns the tables"):
        grant_app_role(owner)
    for attribute in ("SUPERUSER", "CREATEROLE", "BYPASSRLS"):
        powerful = f"app_{uuid.uuid4().hex[:12]}"
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {powerful} {attribute}")
        with pytest.raises(RoleError, match="no privilege restrains it"):
            grant_app_role(powerful)
    # A member of the owner's role holds its rights (found by a review).
    member = f"app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {member} IN ROLE {owner}")
    with pytest.raises(RoleError, match="holds the rights of the tables' owner"):
        grant_app_role(member)
