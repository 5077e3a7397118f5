"""Reads on agreements (occupancy/selectors.py): who sees which agreement, the
timeline of one, and the alerts on a fixed ``TODAY``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    Document,
    DocumentKind,
)
from occupancy.selectors import (
    Alert,
    AlertKind,
    EventKind,
    agreement_get,
    agreement_list,
    agreement_timeline,
    alerts,
)
from organizations.selectors import PUBLIC_SCOPE, Persona, Scope
from tests.occupancy.factories import (
    AgreementFactory,
    AmendmentFactory,
    BuildingFactory,
    DepartmentFactory,
    InsuranceCertificateFactory,
    OperatorFactory,
)

pytestmark = pytest.mark.django_db

_A = AgreementStatus
TODAY = date(2026, 6, 15)


def agent_of(*departments: str) -> Scope:
    return Scope(
        user_id=1,
        persona=Persona.STATE_AGENT,
        state_service_ids=frozenset({1}),
        departments=frozenset(departments),
    )


NATIONAL_AGENT = Scope(user_id=2, persona=Persona.STATE_AGENT, departments=None)


def operator_scope(*operator_ids: int) -> Scope:
    return Scope(
        user_id=3, persona=Persona.OPERATOR, operator_ids=frozenset(operator_ids)
    )


FUNDER = Scope(user_id=4, persona=Persona.FUNDER, funder_ids=frozenset({9}))


def in_paris(**fields: Any) -> Agreement:
    paris = DepartmentFactory.create(code="75", name="Paris")
    building = BuildingFactory.create(
        department=paris, postal_code="75011", city="Paris"
    )
    return AgreementFactory.create(building=building, **fields)


# --- Scoping --------------------------------------------------------------------
def test_a_state_agent_sees_the_agreements_of_its_territory_only() -> None:
    marseille = AgreementFactory.create()
    in_paris()
    assert list(agreement_list(scope=agent_of("13"))) == [marseille]


def test_a_national_agent_sees_every_agreement() -> None:
    agreements = {AgreementFactory.create(), in_paris()}
    assert set(agreement_list(scope=NATIONAL_AGENT)) == agreements


def test_an_operator_sees_its_own_agreements_wherever_they_are() -> None:
    operator = OperatorFactory.create()
    own = {AgreementFactory.create(operator=operator), in_paris(operator=operator)}
    AgreementFactory.create()
    assert set(agreement_list(scope=operator_scope(operator.pk))) == own


@pytest.mark.parametrize("scope", [FUNDER, PUBLIC_SCOPE], ids=["funder", "public"])
def test_funders_and_the_public_see_no_agreement(scope: Scope) -> None:
    AgreementFactory.create()
    assert not agreement_list(scope=scope).exists()


def test_an_agreement_outside_the_scope_does_not_exist() -> None:
    agreement = in_paris()
    assert agreement_get(scope=NATIONAL_AGENT, pk=agreement.pk) == agreement
    with pytest.raises(Agreement.DoesNotExist):
        agreement_get(scope=agent_of("13"), pk=agreement.pk)
    with pytest.raises(Agreement.DoesNotExist):
        agreement_get(
            scope=operator_scope(OperatorFactory.create().pk), pk=agreement.pk
        )


def test_the_list_costs_one_query_however_long(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    AgreementFactory.create_batch(5)
    with django_assert_num_queries(1):
        rows = [
            (a.reference, a.building.designation, a.operator.name, a.grantor.name)
            for a in agreement_list(scope=agent_of("13"))
        ]
    assert len(rows) == 5


# --- Timeline -------------------------------------------------------------------
def at(day: date, hour: int = 10) -> datetime:
    zone = timezone.get_current_timezone()
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def test_the_timeline_tells_the_history_in_order(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    agreement = AgreementFactory.create(
        active=True, period=DateRange(date(2026, 1, 1), date(2028, 1, 1))
    )
    signed = AgreementStatusChange.objects.create(
        agreement=agreement, from_status=_A.APPROVED, to_status=_A.SIGNED
    )
    active = AgreementStatusChange.objects.create(
        agreement=agreement, from_status=_A.SIGNED, to_status=_A.ACTIVE, reason="Clés"
    )
    AgreementStatusChange.objects.filter(pk=signed.pk).update(
        changed_at=at(date(2025, 12, 10))
    )
    AgreementStatusChange.objects.filter(pk=active.pk).update(
        changed_at=at(date(2026, 1, 2))
    )
    InsuranceCertificateFactory.create(agreement=agreement, insurer="MAIF")
    amendment = AmendmentFactory.create(agreement=agreement, signed_on=date(2026, 5, 4))
    report = Document.objects.create(
        agreement=agreement,
        kind=DocumentKind.ANNUAL_REPORT,
        title="Rapport annuel",
        file="agreements/2026/rapport.pdf",
        size=1000,
        sha256="0" * 64,
    )
    Document.objects.filter(pk=report.pk).update(uploaded_at=at(date(2026, 3, 1)))

    with django_assert_num_queries(4):
        timeline = agreement_timeline(agreement=agreement)

    assert [(event.on, event.kind) for event in timeline] == [
        (date(2025, 12, 10), EventKind.STATUS),
        (date(2026, 1, 1), EventKind.INSURANCE),
        (date(2026, 1, 2), EventKind.STATUS),
        (date(2026, 3, 1), EventKind.DOCUMENT),
        (date(2026, 5, 4), EventKind.AMENDMENT),
    ]
    assert timeline[2].detail == "Clés"
    assert timeline[1].title == "MAIF"
    assert str(amendment.new_end) in timeline[4].detail


# --- Alerts ---------------------------------------------------------------------
def d(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def running(reference: str, start: int, end: int, **fields: Any) -> Agreement:
    """An active agreement over [TODAY + start, TODAY + end), insured throughout
    unless ``insured_until`` says otherwise (None: no certificate)."""
    insured_until = fields.pop("insured_until", end - 1)
    agreement = AgreementFactory.create(
        reference=reference,
        status=fields.pop("status", _A.ACTIVE),
        period=DateRange(d(start), d(end)),
        **fields,
    )
    if insured_until is not None:
        InsuranceCertificateFactory.create(
            agreement=agreement, valid_from=d(start), valid_until=d(insured_until)
        )
    return agreement


def activated(agreement: Agreement, on: date) -> None:
    change = AgreementStatusChange.objects.create(
        agreement=agreement, from_status=_A.SIGNED, to_status=_A.ACTIVE
    )
    AgreementStatusChange.objects.filter(pk=change.pk).update(changed_at=at(on))


def reported(agreement: Agreement, on: date) -> None:
    report = Document.objects.create(
        agreement=agreement,
        kind=DocumentKind.ANNUAL_REPORT,
        title=f"Rapport annuel {on.year}",
        file=f"agreements/{on.year}/rapport.pdf",
        size=2048,
        sha256="a" * 64,
    )
    Document.objects.filter(pk=report.pk).update(uploaded_at=at(on))


def elan(reference: str, activated_on: date | None, **fields: Any) -> Agreement:
    agreement = running(reference, -500, 400, elan=True, **fields)
    if activated_on is not None:
        activated(agreement, activated_on)
    return agreement


@pytest.fixture
def portfolio() -> None:
    """Agreements around TODAY = 15 June 2026, each meant to raise one alert or none."""
    running("ENDS-IN-60", -300, 60)
    running("ENDS-ON-DAY-90", -300, 91)
    running("ENDS-ON-DAY-91", -300, 92)
    running("ENDING-IN-30", -300, 31, status=_A.ENDING)
    running("ENDED", -300, 0, status=_A.ENDING)
    running("DRAFT-ENDS-IN-10", 5, 11, status=_A.DRAFT, insured_until=None)
    running("COVER-LAPSES-IN-20", -100, 400, insured_until=20)
    running("COVER-LAPSED", -100, 400, insured_until=-1)
    running("COVER-LAPSES-IN-31", -100, 400, insured_until=31)
    running("SIGNED-UNINSURED", 10, 400, status=_A.SIGNED, insured_until=None)
    running("APPROVED-UNINSURED", 10, 400, status=_A.APPROVED, insured_until=None)
    # ELAN art. 29 annual reports, due on each anniversary of the activation.
    elan("ELAN-DUE-IN-10", date(2025, 6, 25))
    elan("ELAN-OVERDUE", date(2025, 5, 1))
    reported(elan("ELAN-REPORTED", date(2025, 5, 1)), date(2026, 4, 20))
    reported(elan("ELAN-LAST-YEAR-ONLY", date(2024, 5, 1)), date(2025, 5, 10))
    elan("ELAN-TOO-YOUNG", date(2026, 1, 10))
    elan("ELAN-NO-HISTORY", None)  # activation taken as the start, 31 January 2025
    walkthrough = running("NOT-ELAN", -500, 400)
    activated(walkthrough, date(2025, 5, 1))
    # Outside the Bouches-du-Rhône agent's territory.
    in_paris(reference="PARIS-ENDS-IN-10", active=True, period=DateRange(d(-5), d(10)))


@pytest.mark.usefixtures("portfolio")
def test_alerts_list_what_needs_doing_soonest_first(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(3):
        found = alerts(scope=agent_of("13"), today=TODAY)
    assert [(a.kind, a.reference, a.due_on, a.overdue) for a in found] == [
        (AlertKind.ANNUAL_REPORT_DUE, "ELAN-NO-HISTORY", date(2026, 1, 31), True),
        (AlertKind.ANNUAL_REPORT_DUE, "ELAN-LAST-YEAR-ONLY", date(2026, 5, 1), True),
        (AlertKind.ANNUAL_REPORT_DUE, "ELAN-OVERDUE", date(2026, 5, 1), True),
        (AlertKind.INSURANCE_EXPIRING, "COVER-LAPSED", d(-1), True),
        (AlertKind.INSURANCE_EXPIRING, "SIGNED-UNINSURED", TODAY, False),
        (AlertKind.ANNUAL_REPORT_DUE, "ELAN-DUE-IN-10", date(2026, 6, 25), False),
        (AlertKind.INSURANCE_EXPIRING, "COVER-LAPSES-IN-20", d(20), False),
        (AlertKind.AGREEMENT_ENDING, "ENDING-IN-30", d(30), False),
        (AlertKind.AGREEMENT_ENDING, "ENDS-IN-60", d(59), False),
        (AlertKind.AGREEMENT_ENDING, "ENDS-ON-DAY-90", d(90), False),
    ]


@pytest.mark.usefixtures("portfolio")
def test_alerts_follow_the_scope() -> None:
    assert [a.reference for a in alerts(scope=NATIONAL_AGENT, today=TODAY)][:1] == [
        "ELAN-NO-HISTORY"
    ]
    assert "PARIS-ENDS-IN-10" in {
        a.reference for a in alerts(scope=NATIONAL_AGENT, today=TODAY)
    }
    assert alerts(scope=FUNDER, today=TODAY) == []


def test_alert_windows_are_read_from_the_rules(settings: Any) -> None:
    settings.OCCUPANCY_RULES = {"alert_agreement_ending_days": 120}
    agreement = running("ENDS-IN-110", -300, 110)
    assert alerts(scope=agent_of("13"), today=TODAY) == [
        Alert(
            kind=AlertKind.AGREEMENT_ENDING,
            agreement_id=agreement.pk,
            reference="ENDS-IN-110",
            building=agreement.building.designation,
            due_on=d(109),
            overdue=False,
        )
    ]
