"""Retention: resident-level data go two years after the last exit, history included
(CNIL AU-048 / social-sector référentiel; domain.md §F.6; reliability.md §I4): either
anonymised with the stays kept for statistics (the default) or deleted, a setting;
and the right of access, which exports all of it (GDPR art. 15; reliability.md §I5).

``today`` is 1 June 2026, so the cutoff is 1 June 2024: a last contact strictly
before it is purged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pghistory
import pgtrigger
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from config.errors import DomainError
from occupancy.indicators import GroupBy, IndicatorRow, indicators_get
from occupancy.models import (
    Agreement,
    AgreementStatus,
    Occupant,
    ResidenceContract,
    ResidenceStatus,
    ResidentAccess,
    Space,
    Stay,
)
from occupancy.residents import (
    access_export,
    erasures_replay,
    occupant_erase,
    occupant_find,
    occupant_register,
    occupant_update,
    purge_candidates,
    purge_residents,
    residence_contract_create,
    stay_exit,
    stay_plan_exit,
    stay_start,
)
from occupancy.residents.base import ANONYMISED, ERASE_ONGOING, ERASED
from occupancy.rules import rules
from occupancy.services import agreement_transition
from organizations.models import Role
from organizations.selectors import Persona, Scope
from tests.occupancy.factories import (
    AgreementFactory,
    OccupantFactory,
    SafetyInspectionFactory,
    SpaceFactory,
)
from tests.occupancy.test_api_support import member, rows_containing

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64


@pytest.fixture
def site() -> tuple[Agreement, Space]:
    space = SpaceFactory.create(capacity=10)
    agreement = AgreementFactory.create(
        elan=True,
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2022, 1, 1), date(2028, 1, 1)),
        spaces=[space],
    )
    SafetyInspectionFactory.create(building=space.building, date=date(2021, 12, 1))
    return agreement, space


def resident_with_stay(
    site: tuple[Agreement, Space], entry: date, exit: date | None
) -> Occupant:
    agreement, space = site
    occupant = OccupantFactory.create(operator=agreement.operator)
    stay = stay_start(
        occupant=occupant,
        space=space,
        agreement=agreement,
        entry=entry,
        structure_type="insertion",
    )
    if exit is not None:
        stay_exit(stay=stay, exit_date=exit, destination="street", today=TODAY)
    return occupant


def event_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_name LIKE 'occupancy\\_%%event'"
        )
        return [row[0] for row in cursor.fetchall()]


# The column naming the occupant in each event table; the others are searched as text.
OCCUPANT_COLUMN = {
    "occupancy_occupantevent": "pgh_obj_id",
    "occupancy_stayevent": "occupant_id",
    "occupancy_residencecontractevent": "occupant_id",
}


def traces(occupant_id: int, pseudonym: str) -> dict[str, int]:
    """Rows naming the occupant in every occupancy event table and in the contexts."""
    found = {}
    with connection.cursor() as cursor:
        for table in event_tables():
            column = OCCUPANT_COLUMN.get(table)
            by_id = f" OR {column} = %s" if column else ""
            cursor.execute(
                f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s{by_id}",
                [f"%{pseudonym}%", occupant_id] if column else [f"%{pseudonym}%"],
            )
            found[table] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pghistory_context WHERE metadata::text LIKE %s",
            [f"%{pseudonym}%"],
        )
        found["pghistory_context"] = cursor.fetchone()[0]
    return {table: count for table, count in found.items() if count}


def test_only_residents_gone_for_more_than_two_years_are_candidates(
    site: tuple[Agreement, Space],
) -> None:
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    at_cutoff = resident_with_stay(site, date(2024, 1, 1), date(2024, 6, 1))
    recent = resident_with_stay(site, date(2024, 1, 1), date(2025, 1, 1))
    still_here = resident_with_stay(site, date(2022, 2, 1), None)
    assert purge_candidates(today=TODAY) == [old.pk]
    assert {at_cutoff.pk, recent.pk, still_here.pk}.isdisjoint(
        purge_candidates(today=TODAY)
    )


def test_a_running_contract_keeps_a_resident_whose_stays_are_old(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = resident_with_stay(site, date(2022, 2, 1), date(2022, 6, 1))
    residence_contract_create(
        agreement=agreement,
        occupant=occupant,
        start=date(2026, 1, 1),
        initial_end=date(2026, 9, 1),
        monthly_fee=Decimal("100.00"),
    )
    assert purge_candidates(today=TODAY) == []


def test_an_ended_contract_counts_as_the_last_contact(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = resident_with_stay(site, date(2022, 2, 1), date(2022, 6, 1))
    ResidenceContract.objects.create(
        agreement=agreement,
        occupant=occupant,
        start=date(2024, 3, 1),
        initial_end=date(2024, 9, 1),
        current_end=date(2024, 9, 1),
        monthly_fee=Decimal("100.00"),
        status=ResidenceStatus.ENDED,
        effective_end=date(2024, 9, 1),
    )
    assert purge_candidates(today=TODAY) == []
    assert purge_candidates(today=date(2026, 9, 2)) == [occupant.pk]


def test_a_resident_registered_long_ago_who_never_stayed_is_purged() -> None:
    occupant = OccupantFactory.create()
    Occupant.objects.filter(pk=occupant.pk).update(
        created_at=datetime(2023, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))
    )
    assert purge_candidates(today=TODAY) == [occupant.pk]


@pytest.fixture(params=["anonymise", "delete"])
def mode(request: pytest.FixtureRequest, settings: Settings) -> str:
    settings.OCCUPANCY_RULES = {"retention_mode": request.param}
    return str(request.param)


def test_the_purge_leaves_no_trace_of_the_resident_live_or_in_history(
    site: tuple[Agreement, Space], mode: str
) -> None:
    agreement, _ = site
    with pghistory.context(request_id="req-purged", url="/occupants/"):
        old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
        ResidenceContract.objects.create(
            agreement=agreement,
            occupant=old,
            start=date(2023, 1, 1),
            initial_end=date(2023, 4, 1),
            current_end=date(2023, 4, 1),
            monthly_fee=Decimal("90.00"),
            status=ResidenceStatus.ENDED,
            effective_end=date(2023, 4, 1),
        )
    with pghistory.context(request_id="req-shared"):
        shared = resident_with_stay(site, date(2022, 1, 10), date(2022, 3, 1))
        kept = resident_with_stay(site, date(2024, 1, 1), date(2025, 1, 1))
    # A context naming the pseudonym (as a URL might), only used by its events.
    with pghistory.context(url=f"/occupants/{old.pseudonym}/"):
        Occupant.objects.filter(pk=old.pk).update(age_band="50_64")
    assert traces(old.pk, old.pseudonym)  # the fixture did leave traces
    assert rows_containing(old.pseudonym)
    pseudonyms = {old.pk: old.pseudonym, shared.pk: shared.pseudonym}

    report = purge_residents(today=TODAY)

    assert report.mode == mode
    assert (report.contracts, report.stays + report.stays_kept) == (1, 2)
    if mode == "delete":
        assert (report.occupants, report.stays, report.anonymised) == (2, 2, 0)
        assert not Occupant.objects.filter(pk__in=[old.pk, shared.pk]).exists()
        assert not Stay.objects.filter(occupant_id__in=[old.pk, shared.pk]).exists()
    else:
        assert (report.occupants, report.stays, report.anonymised) == (0, 0, 2)
        assert report.stays_kept == 2
        anonymised = Occupant.objects.filter(pk__in=pseudonyms)
        for occupant in anonymised:
            assert occupant.anonymised_at is not None
            assert occupant.age_band == "unknown"
            assert occupant.stays.count() == 1
            assert occupant.pseudonym != pseudonyms[occupant.pk]
            # Random, in the column's shape: 64 hex digits, one per occupant.
            assert re.fullmatch("[0-9a-f]{64}", occupant.pseudonym)
        assert len({occupant.pseudonym for occupant in anonymised}) == 2
    assert report.events > 0
    assert not ResidenceContract.objects.filter(occupant_id=old.pk).exists()
    # Nowhere in the whole database, nor in the history by occupant id.
    for occupant_id, pseudonym in pseudonyms.items():
        assert traces(occupant_id, pseudonym) == {}
        assert rows_containing(pseudonym) == []
    # Contexts used only by purged events are gone; a shared one stays for the
    # resident still kept.
    metadata = [
        str(m)
        for m in pghistory.models.Context.objects.values_list("metadata", flat=True)
    ]
    assert not any("req-purged" in m for m in metadata)
    assert any("req-shared" in m for m in metadata)
    assert Occupant.objects.filter(pk=kept.pk, anonymised_at=None).exists()
    assert traces(kept.pk, kept.pseudonym)


def test_anonymised_stays_keep_the_indicators_of_past_periods(
    site: tuple[Agreement, Space], mode: str
) -> None:
    """reliability.md §I4: "statistics are preserved on anonymised rows"; deleting
    the stays takes them out of the figures of the years they were in."""
    agreement, _ = site
    for month in range(1, 7):
        resident_with_stay(site, date(2023, month, 1), date(2023, month + 2, 10))
    operator_scope = Scope(
        user_id=None,
        persona=Persona.OPERATOR,
        operator_ids=frozenset({agreement.operator_id}),
    )

    def figures() -> tuple[IndicatorRow, ...]:
        return indicators_get(
            agreements=Agreement.objects.filter(pk=agreement.pk),
            start=date(2023, 1, 1),
            end=date(2024, 1, 1),
            for_scope=operator_scope,
            group_by=GroupBy.MONTH,
        ).rows

    before = figures()
    nights = {row.group: row.nights_provided.value for row in before}
    # In March: Jan 1–Mar 10 gives 9 nights, Feb 1–Apr 10 and Mar 1–May 10 all 31.
    assert nights["2023-03-01"] == 9 + 31 + 31
    assert sum(row.exits.value or 0 for row in before) == 6

    purge_residents(today=TODAY)

    if mode == "anonymise":
        assert figures() == before
    else:
        assert [row.nights_provided.value for row in figures()] == [0] * 12


def test_a_resident_who_never_stayed_is_deleted_even_when_anonymising(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = OccupantFactory.create(operator=agreement.operator)
    Occupant.objects.filter(pk=occupant.pk).update(
        created_at=datetime(2023, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))
    )
    report = purge_residents(today=TODAY)
    assert (report.mode, report.occupants, report.anonymised) == ("anonymise", 1, 0)
    assert not Occupant.objects.filter(pk=occupant.pk).exists()


def test_a_second_purge_leaves_anonymised_rows_as_they_are(
    site: tuple[Agreement, Space], settings: Settings
) -> None:
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    purge_residents(today=TODAY)
    old.refresh_from_db()
    again = purge_residents(today=date(2026, 7, 1))
    assert (again.anonymised, again.occupants, again.events) == (0, 0, 0)
    assert Occupant.objects.get(pk=old.pk).pseudonym == old.pseudonym
    # A DPO who moves to deleting has the kept stays deleted at the next run.
    settings.OCCUPANCY_RULES = {"retention_mode": "delete"}
    deleted = purge_residents(today=date(2026, 8, 1))
    assert (deleted.occupants, deleted.stays) == (1, 1)
    assert not Occupant.objects.filter(pk=old.pk).exists()


def test_the_same_file_number_registers_a_new_occupant_after_anonymisation(
    site: tuple[Agreement, Space],
) -> None:
    agreement, space = site
    first = occupant_register(
        operator=agreement.operator,
        local_identifier="DOSSIER-2023-12",
        kind="person",
        category="sheltered",
    )
    stay = stay_start(
        occupant=first,
        space=space,
        agreement=agreement,
        entry=date(2023, 1, 1),
        structure_type="insertion",
    )
    stay_exit(stay=stay, exit_date=date(2023, 3, 1), destination="street", today=TODAY)
    purge_residents(today=TODAY)

    assert (
        occupant_find(operator=agreement.operator, local_identifier="DOSSIER-2023-12")
        is None
    )
    again = occupant_register(
        operator=agreement.operator,
        local_identifier="DOSSIER-2023-12",
        kind="person",
        category="sheltered",
    )
    assert again.pk != first.pk
    assert again.anonymised_at is None


def test_no_service_writes_to_an_anonymised_occupant_or_its_stays(
    site: tuple[Agreement, Space],
) -> None:
    agreement, space = site
    stale = resident_with_stay(site, date(2022, 1, 1), None)
    stay_plan_exit(
        stay=stale.stays.get(), exit_date=date(2022, 3, 1), today=date(2022, 1, 1)
    )
    purge_residents(today=TODAY)
    stale.refresh_from_db()
    stay = stale.stays.get()
    assert stale.anonymised_at is not None
    before = (Occupant.objects.get(pk=stale.pk).updated_at, Stay.objects.get().period)

    attempts: list[Callable[[], object]] = [
        lambda: occupant_update(occupant=stale, household_size=1, age_band="25_34"),
        lambda: stay_plan_exit(stay=stay, exit_date=date(2022, 4, 1)),
        lambda: stay_exit(
            stay=stay, exit_date=date(2022, 3, 1), destination="street", today=TODAY
        ),
        lambda: stay_start(
            occupant=stale,
            space=space,
            agreement=agreement,
            entry=date(2026, 1, 1),
            structure_type="insertion",
        ),
        lambda: residence_contract_create(
            agreement=agreement,
            occupant=stale,
            start=date(2026, 1, 1),
            initial_end=date(2026, 9, 1),
            monthly_fee=Decimal("100.00"),
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as raised:
            attempt()
        assert raised.value.field == "occupant"
    assert (
        Occupant.objects.get(pk=stale.pk).updated_at,
        Stay.objects.get().period,
    ) == (before)


def test_an_unconfirmed_planned_exit_ends_as_an_exit_to_an_unknown_destination(
    site: tuple[Agreement, Space], actor: User
) -> None:
    """Kept "exit planned", the anonymised stay counted as running: the agreement
    could never close, and no one could record the exit of a hidden row."""
    agreement, _ = site
    stale = resident_with_stay(site, date(2022, 1, 1), None)
    stay_plan_exit(
        stay=stale.stays.get(), exit_date=date(2022, 3, 1), today=date(2022, 1, 1)
    )

    purge_residents(today=TODAY)

    stay = Stay.objects.get(occupant=stale)
    assert (stay.status, stay.exit_destination) == ("exited", "unknown")
    assert stay.period == DateRange(date(2022, 1, 1), date(2022, 3, 1))
    Agreement.objects.filter(pk=agreement.pk).update(
        status=AgreementStatus.EXPIRED, exit_inventory_on=date(2026, 5, 1)
    )
    agreement.refresh_from_db()
    closed = agreement_transition(
        agreement=agreement,
        to=AgreementStatus.CLOSED,
        by=actor,
        on=TODAY,
        reason="premises returned",
    )
    assert closed.status == AgreementStatus.CLOSED


def test_no_row_level_view_shows_an_anonymised_occupant_or_its_stays(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    current = resident_with_stay(site, date(2025, 1, 1), None)
    operator = member(agreement.operator, role=Role.EDITOR)
    api = APIClient()
    api.force_authenticate(operator)
    superuser = User.objects.create_superuser("root", "root@example.org", "x")
    admin = Client()
    admin.force_login(superuser)
    old_stay = old.stays.get()

    def shown() -> dict[str, object]:
        return {
            "occupants": [
                o["id"] for o in api.get("/api/v1/occupants/").json()["results"]
            ],
            "stays": [s["id"] for s in api.get("/api/v1/stays/").json()["results"]],
            "occupant": api.get(f"/api/v1/occupants/{old.pk}/").status_code,
            "stay": api.get(f"/api/v1/stays/{old_stay.pk}/").status_code,
            "admin": admin.get(
                reverse("admin:occupancy_occupant_change", args=[old.pk])
            ).status_code,
            "admin_stays": admin.get(reverse("admin:occupancy_stay_changelist"))
            .context["cl"]
            .result_count,
        }

    assert shown() == {
        "occupants": [current.pk, old.pk],
        "stays": [current.stays.get().pk, old_stay.pk],
        "occupant": 200,
        "stay": 200,
        "admin": 200,
        "admin_stays": 2,
    }
    purge_residents(today=TODAY)
    after = shown()
    assert after["occupants"] == [current.pk]
    assert after["stays"] == [current.stays.get().pk]
    assert (after["occupant"], after["stay"], after["admin_stays"]) == (404, 404, 1)
    assert after["admin"] == 302  # the admin's "does not exist" redirect


def test_after_the_purge_the_event_tables_are_append_only_again(
    site: tuple[Agreement, Space],
) -> None:
    resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    resident_with_stay(site, date(2025, 1, 1), None)  # kept: its events remain
    purge_residents(today=TODAY)
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM occupancy_stayevent")


def test_a_dry_run_counts_and_changes_nothing(site: tuple[Agreement, Space]) -> None:
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    report = purge_residents(today=TODAY, dry_run=True)
    assert (report.anonymised, report.stays_kept, report.dry_run) == (1, 1, True)
    old_pseudonym = old.pseudonym
    old.refresh_from_db()
    assert (old.pseudonym, old.anonymised_at) == (old_pseudonym, None)
    assert traces(old.pk, old.pseudonym)


def test_the_retention_period_is_a_setting(
    site: tuple[Agreement, Space], settings: Settings
) -> None:
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    settings.OCCUPANCY_RULES = {"retention_years": 5}
    assert purge_candidates(today=TODAY) == []
    settings.OCCUPANCY_RULES = {"retention_years": 1}
    assert purge_candidates(today=TODAY) == [old.pk]


def test_the_command_reports_counts(site: tuple[Agreement, Space]) -> None:
    old = resident_with_stay(site, date(2023, 1, 1), date(2023, 5, 1))
    out = StringIO()
    call_command("purge_residents", "--dry-run", "--today", "2026-06-01", stdout=out)
    assert "1 occupant(s) anonymised with 1 stay(s) kept" in out.getvalue()
    assert "dry run" in out.getvalue()
    assert Occupant.objects.get(pk=old.pk).anonymised_at is None
    call_command("purge_residents", "--today", "2026-06-01", "--json", stdout=out)
    last = json.loads(out.getvalue().splitlines()[-1])
    assert (last["anonymised"], last["stays_kept"], last["cutoff"]) == (
        1,
        1,
        "2024-06-01",
    )
    assert (last["mode"], last["occupants"], last["stays"]) == ("anonymise", 0, 0)
    assert Occupant.objects.get(pk=old.pk).anonymised_at is not None


def test_the_retention_mode_is_a_setting_with_two_values(settings: Settings) -> None:
    settings.OCCUPANCY_RULES = {"retention_mode": "delete"}
    assert rules().retention_mode == "delete"
    settings.OCCUPANCY_RULES = {"retention_mode": "forget"}
    with pytest.raises(ImproperlyConfigured, match="anonymise, delete"):
        rules()


def test_a_planned_exit_never_confirmed_does_not_keep_the_record_forever(
    site: tuple[Agreement, Space],
) -> None:
    """An exit_planned stay counted as ongoing whatever its date: an operator who
    never confirmed the exit kept the resident's data for good."""
    stale = resident_with_stay(site, date(2022, 1, 1), None)
    stay_plan_exit(
        stay=stale.stays.get(), exit_date=date(2022, 3, 1), today=date(2022, 1, 1)
    )
    recent = resident_with_stay(site, date(2022, 1, 1), None)
    stay_plan_exit(
        stay=recent.stays.get(), exit_date=date(2025, 3, 1), today=date(2022, 1, 1)
    )
    active = resident_with_stay(site, date(2022, 1, 1), None)

    candidates = purge_candidates(today=TODAY)  # cutoff 2024-06-01

    assert stale.pk in candidates
    assert recent.pk not in candidates
    assert active.pk not in candidates


@pytest.mark.parametrize("today", ["0001-01-01", "0002-06-01", "9999-12-31"])
def test_a_reference_day_out_of_reach_is_a_command_error(
    site: tuple[Agreement, Space], today: str
) -> None:
    """Counting the retention back from 0001-01-01 raised a ValueError traceback."""
    with pytest.raises(CommandError) as raised:
        call_command("purge_residents", "--dry-run", "--today", today)
    assert "--today" in str(raised.value)


# --- Right of access (GDPR art. 15) ---------------------------------------------------
def test_the_access_export_holds_the_record_its_stays_contracts_and_history(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    with pghistory.context(request_id="req-export"):
        occupant = resident_with_stay(site, date(2024, 1, 1), date(2024, 3, 1))
        contract = residence_contract_create(
            agreement=agreement,
            occupant=occupant,
            start=date(2026, 1, 1),
            initial_end=date(2026, 9, 1),
            monthly_fee=Decimal("100.00"),
        )
    other = resident_with_stay(site, date(2024, 1, 1), date(2024, 3, 1))

    export = access_export(occupant=occupant)

    text = json.dumps(export)  # JSON-ready as it is
    assert export["occupant"]["pseudonym"] == occupant.pseudonym
    (stay,) = export["stays"]
    assert stay["period"] == {"from": "2024-01-01", "until": "2024-03-01"}
    assert stay["exit_destination"] == "street"
    assert [c["id"] for c in export["residence_contracts"]] == [contract.pk]
    assert export["residence_contracts"][0]["monthly_fee"] == "100.00"
    history = export["history"]
    assert [e["pgh_label"] for e in history["occupant"]] == ["insert"]
    assert [e["pgh_label"] for e in history["stays"]] == ["insert", "update"]
    assert [e["pgh_label"] for e in history["residence_contracts"]] == ["insert"]
    assert history["stays"][0]["pgh_context"] == {"request_id": "req-export"}
    assert export["recipients"]
    assert str(rules().retention_years) in export["retention"]
    assert other.pseudonym not in text


def test_the_export_command_finds_the_resident_by_file_number(
    site: tuple[Agreement, Space], monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement, _ = site
    occupant = occupant_register(
        operator=agreement.operator,
        local_identifier="DOSSIER-77",
        kind="person",
        category="sheltered",
    )
    out = StringIO()
    call_command(
        "export_occupant",
        "--operator",
        str(agreement.operator_id),
        "--identifier",
        "DOSSIER-77",
        stdout=out,
    )
    assert json.loads(out.getvalue())["occupant"]["id"] == occupant.pk
    monkeypatch.setattr("sys.stdin", StringIO("DOSSIER-77\n"))
    out = StringIO()
    call_command(
        "export_occupant",
        "--operator",
        str(agreement.operator_id),
        "--identifier",
        "-",
        stdout=out,
    )
    assert json.loads(out.getvalue())["occupant"]["id"] == occupant.pk
    with pytest.raises(CommandError, match="no resident"):
        call_command(
            "export_occupant",
            "--operator",
            str(agreement.operator_id),
            "--identifier",
            "DOSSIER-78",
        )


# --- Erasure on request (GDPR art. 17 / 21; reliability.md §I5) -----------------------
def test_an_erasure_takes_the_resident_now_as_the_purge_would_later(
    site: tuple[Agreement, Space], mode: str
) -> None:
    agreement, _ = site
    with pghistory.context(request_id="req-erased"):
        gone = resident_with_stay(site, date(2026, 1, 1), date(2026, 3, 1))
        ResidenceContract.objects.create(
            agreement=agreement,
            occupant=gone,
            start=date(2026, 1, 1),
            initial_end=date(2026, 3, 1),
            current_end=date(2026, 3, 1),
            monthly_fee=Decimal("90.00"),
            status=ResidenceStatus.ENDED,
            effective_end=date(2026, 3, 1),
        )
    # (in a context of its own: in this one test transaction, pghistory's last
    # context stays attached to later writes)
    with pghistory.context(request_id="req-other"):
        other = resident_with_stay(site, date(2026, 1, 1), date(2026, 3, 1))
    pseudonym = gone.pseudonym

    erased = occupant_erase(occupant=gone)

    assert erased.contracts == 1
    if mode == "anonymise":
        assert (erased.anonymised, erased.stays_kept, erased.occupants) == (1, 1, 0)
        assert Occupant.objects.get(pk=gone.pk).anonymised_at is not None
    else:
        assert (erased.occupants, erased.stays, erased.anonymised) == (1, 1, 0)
        assert not Occupant.objects.filter(pk=gone.pk).exists()
    assert traces(gone.pk, pseudonym) == {}
    assert rows_containing(pseudonym) == []
    assert not any(
        "req-erased" in str(m)
        for m in pghistory.models.Context.objects.values_list("metadata", flat=True)
    )
    # Another resident is untouched, history included.
    assert Occupant.objects.filter(pk=other.pk, anonymised_at=None).exists()
    assert traces(other.pk, other.pseudonym)


def test_an_erasure_waits_for_the_exit_and_the_end_of_the_contract(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    staying = resident_with_stay(site, date(2026, 1, 1), None)
    left = resident_with_stay(site, date(2025, 1, 1), date(2025, 6, 1))
    residence_contract_create(
        agreement=agreement,
        occupant=left,
        start=date(2026, 1, 1),
        initial_end=date(2026, 9, 1),
        monthly_fee=Decimal("100.00"),
    )
    for occupant in (staying, left):
        events = traces(occupant.pk, occupant.pseudonym)
        with pytest.raises(DomainError) as raised:
            occupant_erase(occupant=occupant)
        assert raised.value.field == "occupant"
        assert raised.value.message == gettext(ERASE_ONGOING)
        assert traces(occupant.pk, occupant.pseudonym) == events
        assert Occupant.objects.get(pk=occupant.pk).anonymised_at is None


def test_the_erase_command_finds_the_resident_by_file_number(
    site: tuple[Agreement, Space], monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement, space = site
    occupant = occupant_register(
        operator=agreement.operator,
        local_identifier="DOSSIER-91",
        kind="person",
        category="sheltered",
    )
    stay = stay_start(
        occupant=occupant,
        space=space,
        agreement=agreement,
        entry=date(2026, 1, 1),
        structure_type="insertion",
    )
    arguments = ["--operator", str(agreement.operator_id), "--identifier", "-"]
    monkeypatch.setattr("sys.stdin", StringIO("DOSSIER-91\n"))
    with pytest.raises(CommandError) as refused:
        call_command("erase_occupant", *arguments)
    assert str(refused.value) == gettext(ERASE_ONGOING)
    stay_exit(stay=stay, exit_date=date(2026, 2, 1), destination="street", today=TODAY)
    monkeypatch.setattr("sys.stdin", StringIO("DOSSIER-91\n"))
    out = StringIO()
    call_command("erase_occupant", *arguments, stdout=out)
    assert json.loads(out.getvalue())["anonymised"] == 1
    monkeypatch.setattr("sys.stdin", StringIO("DOSSIER-91\n"))
    with pytest.raises(CommandError, match="no resident"):
        call_command("erase_occupant", *arguments)


def test_an_operator_erases_a_resident_through_the_api(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    pseudonym = occupant.pseudonym
    editor = member(agreement.operator, role=Role.EDITOR)
    api = APIClient()
    api.force_authenticate(editor)
    url = f"/api/v1/occupants/{occupant.pk}/erase/"

    def tag() -> dict[str, Any]:
        return {"HTTP_IF_MATCH": api.get(f"/api/v1/occupants/{occupant.pk}/")["ETag"]}

    assert api.post(url, {}, format="json").status_code == 428
    staying = api.post(url, {}, format="json", **tag())
    assert staying.status_code == 409
    assert staying.json()["errors"]["occupant"] == [gettext(ERASE_ONGOING)]
    stray = api.post(url, {"confirm": True}, format="json", **tag())
    assert stray.status_code == 400
    assert "confirm" in stray.json()["errors"]
    assert Occupant.objects.get(pk=occupant.pk).anonymised_at is None

    stay_exit(
        stay=occupant.stays.get(),
        exit_date=date(2026, 2, 1),
        destination="street",
        today=TODAY,
    )
    erased = api.post(url, {}, format="json", **tag())

    assert erased.status_code == 200, erased.content
    body = erased.json()
    # How many request contexts go depends on which writes of this one test
    # transaction pghistory attached to them: counted, not pinned.
    assert isinstance(body.pop("contexts"), int)
    assert body == {
        "mode": "anonymise",
        "occupants": 0,
        "stays": 0,
        "contracts": 0,
        "events": 3,
        "anonymised": 1,
        "stays_kept": 1,
    }
    assert rows_containing(pseudonym) == []
    assert api.get(f"/api/v1/occupants/{occupant.pk}/").status_code == 404
    assert api.post(url, {}, format="json", HTTP_IF_MATCH="*").status_code == 404


# --- The log of reads of resident data (reliability.md §H3) ---------------------------
def test_the_access_log_holds_ids_only_and_is_append_only(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    reader = member(agreement.operator, role=Role.VIEWER)
    api = APIClient()
    api.force_authenticate(reader)
    assert api.get(f"/api/v1/occupants/{occupant.pk}/").status_code == 200
    assert api.get("/api/v1/stays/").status_code == 200

    reads = list(
        ResidentAccess.objects.order_by("pk").values_list(
            "user_id", "channel", "method", "occupant_ids"
        )
    )
    assert reads == [
        (reader.pk, "api:occupant.retrieve", "GET", [occupant.pk]),
        (reader.pk, "api:stay.list", "GET", [occupant.pk]),
    ]
    assert "occupancy_residentaccess" not in rows_containing(occupant.pseudonym)
    for statement in (
        "UPDATE occupancy_residentaccess SET occupant_ids = '{1}'",
        "DELETE FROM occupancy_residentaccess",
    ):
        with (
            pytest.raises(DatabaseError, match="Cannot update or delete"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)


def test_the_gdpr_commands_log_their_read(
    site: tuple[Agreement, Space],
) -> None:
    agreement, _ = site
    occupant = occupant_register(
        operator=agreement.operator,
        local_identifier="DOSSIER-55",
        kind="person",
        category="sheltered",
    )
    arguments = ["--operator", str(agreement.operator_id), "--identifier", "DOSSIER-55"]
    call_command("export_occupant", *arguments, stdout=StringIO())
    call_command("erase_occupant", *arguments, stdout=StringIO())
    reads: list[tuple[Any, ...]] = list(
        ResidentAccess.objects.order_by("pk").values_list(
            "user_id", "channel", "occupant_ids"
        )
    )
    assert reads == [
        (None, "command:export_occupant", [occupant.pk]),
        (None, "command:erase_occupant", [occupant.pk]),
    ]


def test_reads_older_than_their_retention_go_with_the_monthly_purge(
    settings: Settings,
) -> None:
    def read_on(day: date) -> ResidentAccess:
        access = ResidentAccess.objects.create(channel="api:test", occupant_ids=[1])
        with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
            ResidentAccess.objects.filter(pk=access.pk).update(
                at=datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("UTC"))
            )
        return access

    old = read_on(date(2025, 5, 31))  # TODAY is 2026-06-01: 12 months back
    recent = read_on(date(2025, 6, 1))

    report = purge_residents(today=TODAY)

    assert report.access_records == 1
    assert list(ResidentAccess.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not ResidentAccess.objects.filter(pk=old.pk).exists()
    settings.OCCUPANCY_RULES = {"access_log_retention_months": 6}
    assert purge_residents(today=TODAY).access_records == 1
    assert not ResidentAccess.objects.exists()


def test_a_stay_cannot_start_for_an_occupant_erased_since_it_was_read(
    site: tuple[Agreement, Space], settings: Settings
) -> None:
    """The API reads the occupant while validating, before stay_start locks
    anything: an erasure committed in between gave an active stay to an
    anonymised occupant, hidden from every view and impossible to exit (audit)."""
    agreement, space = site
    for mode, message in (("anonymise", ANONYMISED), ("delete", ERASED)):
        settings.OCCUPANCY_RULES = {"retention_mode": mode}
        occupant = resident_with_stay(site, date(2026, 1, 1), date(2026, 2, 1))
        read_before = Occupant.objects.get(pk=occupant.pk)
        occupant_erase(occupant=occupant)
        stays = Stay.objects.count()
        with pytest.raises(DomainError) as refused:
            stay_start(
                occupant=read_before,
                space=space,
                agreement=agreement,
                entry=date(2026, 4, 1),
                structure_type="insertion",
            )
        assert (refused.value.field, refused.value.message) == (
            "occupant",
            gettext(message),
        )
        assert Stay.objects.count() == stays


def test_the_operator_site_page_logs_the_residents_it_lists(
    site: tuple[Agreement, Space],
) -> None:
    agreement, space = site
    present = resident_with_stay(site, date(2026, 1, 1), None)
    resident_with_stay(site, date(2026, 1, 1), date(2026, 2, 1))  # gone
    operator = member(agreement.operator, role=Role.EDITOR)
    web = Client()
    web.force_login(operator)

    response = web.get(reverse("occupancy:site", args=[space.building_id]))

    assert response.status_code == 200
    assert [p.occupant_id for p in response.context["presences"]] == [present.pk]
    assert list(
        ResidentAccess.objects.values_list("user_id", "channel", "occupant_ids")
    ) == [(operator.pk, "page:occupancy.site", [present.pk])]


def test_superusers_reads_of_residents_in_the_admin_are_logged(
    site: tuple[Agreement, Space],
) -> None:
    occupant = resident_with_stay(site, date(2026, 1, 1), None)
    superuser = User.objects.create_superuser("root", "root@example.org", "x")
    admin = Client()
    admin.force_login(superuser)
    for url in (
        reverse("admin:occupancy_occupant_changelist"),
        reverse("admin:occupancy_occupant_change", args=[occupant.pk]),
        reverse("admin:occupancy_stay_changelist"),
        reverse("admin:occupancy_stay_change", args=[occupant.stays.get().pk]),
    ):
        assert admin.get(url).status_code == 200
    reads: list[tuple[Any, ...]] = list(
        ResidentAccess.objects.order_by("pk").values_list(
            "user_id", "channel", "occupant_ids"
        )
    )
    assert reads == [
        (superuser.pk, "admin:occupant.changelist", [occupant.pk]),
        (superuser.pk, "admin:occupant.change", [occupant.pk]),
        (superuser.pk, "admin:stay.changelist", [occupant.pk]),
        (superuser.pk, "admin:stay.change", [occupant.pk]),
    ]


@pytest.mark.django_db(transaction=True)
def test_an_erasure_whose_log_cannot_be_written_saves_nothing(
    site: tuple[Agreement, Space],
    kill_session_on: Callable[[str, str], Callable[[], None]],
) -> None:
    """The access row was written after the erasure had committed: a connection
    lost there answered "nothing was saved" over a done erasure (audit). The write
    and its log now commit together."""
    agreement, _ = site
    occupant = resident_with_stay(site, date(2026, 1, 1), date(2026, 2, 1))
    editor = member(agreement.operator, role=Role.EDITOR)
    api = APIClient()
    api.force_authenticate(editor)
    url = f"/api/v1/occupants/{occupant.pk}/"
    tag = api.get(url)["ETag"]
    lift = kill_session_on("occupancy_residentaccess", "INSERT")

    lost = api.post(url + "erase/", {}, format="json", HTTP_IF_MATCH=tag)

    assert lost.status_code == 503
    lift()
    assert Occupant.objects.get(pk=occupant.pk).anonymised_at is None
    done = api.post(url + "erase/", {}, format="json", HTTP_IF_MATCH=tag)
    assert done.status_code == 200, done.content
    assert Occupant.objects.get(pk=occupant.pk).anonymised_at is not None


# --- Erasures survive a restore (reliability.md §J2) ----------------------------------
def _restore(occupant_row: Mapping[str, Any]) -> None:
    """What a restore from a backup taken before the erasure does to the row."""
    columns = ", ".join(occupant_row)
    pk = occupant_row["id"]
    with pgtrigger.ignore("occupancy.Occupant:insert_insert"), connection.cursor() as c:
        c.execute("DELETE FROM occupancy_stay WHERE occupant_id = %s", [pk])
        c.execute("DELETE FROM occupancy_occupant WHERE id = %s", [pk])
        c.execute(
            f"INSERT INTO occupancy_occupant ({columns}) VALUES "
            f"({', '.join(['%s'] * len(occupant_row))})",
            list(occupant_row.values()),
        )


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_an_erasure_is_replayed_after_a_restore_brings_the_resident_back(
    site: tuple[Agreement, Space], settings: Settings, erasure_log: Path, mode: str
) -> None:
    settings.OCCUPANCY_RULES = {"retention_mode": mode}
    occupant = resident_with_stay(site, date(2026, 1, 1), date(2026, 2, 1))
    before = Occupant.objects.filter(pk=occupant.pk).values().get()
    occupant_erase(occupant=occupant)

    (line,) = erasure_log.read_text(encoding="utf-8").splitlines()
    assert json.loads(line).keys() == {"occupant", "operator", "mode", "at"}
    assert occupant.pseudonym not in line  # ids only

    _restore(before)  # the backup's row, pseudonym and all
    assert Occupant.objects.filter(pk=occupant.pk, anonymised_at=None).exists()
    out = StringIO()
    call_command("replay_erasures", stdout=out)

    assert json.loads(out.getvalue()) == {
        "erased": 1,
        "absent": 0,
        "still_staying": [],
    }
    assert not Occupant.objects.filter(pk=occupant.pk, anonymised_at=None).exists()
    assert rows_containing(occupant.pseudonym) == []
    # Again: nothing left to do.
    assert erasures_replay().erased == 0


def test_a_restored_resident_still_staying_is_listed_not_forced(
    site: tuple[Agreement, Space], erasure_log: Path
) -> None:
    agreement, space = site
    occupant = resident_with_stay(site, date(2026, 1, 1), date(2026, 2, 1))
    before = Occupant.objects.filter(pk=occupant.pk).values().get()
    occupant_erase(occupant=occupant)
    # The backup predates the exit too: the restored resident stays.
    _restore(before)
    stay_start(
        occupant=Occupant.objects.get(pk=occupant.pk),
        space=space,
        agreement=agreement,
        entry=date(2026, 3, 1),
        structure_type="insertion",
    )
    with pytest.raises(CommandError, match=str(occupant.pk)):
        call_command("replay_erasures", stdout=StringIO())
    assert Occupant.objects.get(pk=occupant.pk).anonymised_at is None


def test_a_malformederasure_log_is_a_command_error(tmp_path: Path) -> None:
    log = tmp_path / "broken.jsonl"
    log.write_text('{"occupant": 1}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="malformed"):
        call_command("replay_erasures", "--log", str(log))
    with pytest.raises(CommandError, match="not a file"):
        call_command("replay_erasures", "--log", str(tmp_path / "missing.jsonl"))
