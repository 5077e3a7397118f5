"""Reads on agreements: scoped lists, one agreement, its timeline, and the alerts.

Scoping (DESIGN.md, Permissions): State agents see the agreements on the buildings
of their territory, operators their own agreements; funders and the public see no
agreement (funders get aggregates from occupancy/indicators.py). Outside its scope
an agreement does not exist (DoesNotExist → 404).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from django.db.models import Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from occupancy.models import (
    LIVE_STATUSES,
    Agreement,
    AgreementStatus,
    DocumentKind,
    Regime,
)
from occupancy.rules import add_years, rules
from organizations.selectors import Scope

_A = AgreementStatus
# Agreements whose end matters: signed and not yet over.
RUNNING_STATUSES = frozenset({_A.SIGNED, _A.ACTIVE, _A.SUSPENDED, _A.ENDING})
# ELAN annual reports are owed for operations under way.
REPORTING_STATUSES = frozenset({_A.ACTIVE, _A.SUSPENDED, _A.ENDING})


def agreement_list(*, scope: Scope) -> QuerySet[Agreement]:
    agreements = Agreement.objects.select_related("building", "grantor", "operator")
    visible = Q(operator_id__in=scope.operator_ids) if scope.operator_ids else Q()
    if scope.is_state_agent:
        territory = (
            Q(pk__isnull=False)
            if scope.departments is None
            else Q(building__department_id__in=scope.departments)
        )
        visible = territory | visible if visible else territory
    if not visible:  # funders, the public
        return agreements.none()
    return agreements.filter(visible).order_by("-pk")


def agreement_get(*, scope: Scope, pk: int) -> Agreement:
    """The agreement ``pk`` if ``scope`` sees it; Agreement.DoesNotExist otherwise."""
    return agreement_list(scope=scope).get(pk=pk)


# --- Timeline -----------------------------------------------------------------------
class EventKind(StrEnum):
    STATUS = "status"
    AMENDMENT = "amendment"
    DOCUMENT = "document"
    INSURANCE = "insurance"


@dataclass(frozen=True)
class TimelineEvent:
    """One line of an agreement's history. ``on`` is the day it took effect (the
    date of signature of an amendment, the start of an insurance cover); ``at`` is
    when it was recorded, when the row keeps it."""

    on: date
    at: dt.datetime | None
    kind: EventKind
    title: str
    detail: str
    actor_id: int | None
    object_id: int


def agreement_timeline(*, agreement: Agreement) -> list[TimelineEvent]:
    """Status changes, amendments, documents and insurance certificates, oldest first.

    Four queries, whatever the length of the history.
    """
    events: list[TimelineEvent] = []
    for change in agreement.status_changes.all():
        events.append(
            TimelineEvent(
                on=timezone.localdate(change.changed_at),
                at=change.changed_at,
                kind=EventKind.STATUS,
                title=f"{change.from_status} → {change.to_status}",
                detail=change.reason,
                actor_id=change.changed_by_id,
                object_id=change.pk,
            )
        )
    for amendment in agreement.amendments.all():
        events.append(
            TimelineEvent(
                on=amendment.signed_on,
                at=amendment.created_at,
                kind=EventKind.AMENDMENT,
                title=amendment.get_kind_display(),
                detail=(
                    f"→ {amendment.new_end} {amendment.owner_justification}".strip()
                    if amendment.new_end
                    else amendment.owner_justification
                ),
                actor_id=None,
                object_id=amendment.pk,
            )
        )
    for document in agreement.documents.all():
        events.append(
            TimelineEvent(
                on=timezone.localdate(document.uploaded_at),
                at=document.uploaded_at,
                kind=EventKind.DOCUMENT,
                title=document.title,
                detail=document.get_kind_display(),
                actor_id=document.uploaded_by_id,
                object_id=document.pk,
            )
        )
    for certificate in agreement.insurance_certificates.all():
        events.append(
            TimelineEvent(
                on=certificate.valid_from,
                at=None,
                kind=EventKind.INSURANCE,
                title=certificate.insurer,
                detail=f"{certificate.valid_from} – {certificate.valid_until}",
                actor_id=None,
                object_id=certificate.pk,
            )
        )
    # Same day: recorded order; rows without a timestamp after those with one.
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    events.sort(key=lambda e: (e.on, e.at or far, e.kind.value, e.object_id))
    return events


# --- Alerts -------------------------------------------------------------------------
class AlertKind(StrEnum):
    AGREEMENT_ENDING = "agreement_ending"
    INSURANCE_EXPIRING = "insurance_expiring"
    ANNUAL_REPORT_DUE = "annual_report_due"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    agreement_id: int
    reference: str
    building: str
    due_on: date
    overdue: bool


def _last_day(agreement: Agreement) -> date:
    end: date = agreement.period.upper
    return end - timedelta(days=1)


def alerts(*, scope: Scope, today: date) -> list[Alert]:
    """What needs doing soon on the agreements ``scope`` sees, soonest first.

    - an agreement ending within the window (rules: 90 days): its last day;
    - insurance lapsing before the agreement's last day, within the window (30
      days) or already: the last covered day;
    - an ELAN art. 29 annual report (loi ELAN art. 29; arrêté of 6 August 2024):
      due on each anniversary of the activation. It is listed from 30 days before
      the anniversary until a report is filed; a report filed from the opening of
      that window counts for it.
    """
    r = rules()
    visible = agreement_list(scope=scope)
    found: list[Alert] = []

    ending_by = today + timedelta(days=r.alert_agreement_ending_days)
    # [start, end): the last day is end − 1, so "ends by D" is end ≤ D + 1.
    for agreement in visible.filter(
        status__in=RUNNING_STATUSES,
        period__endswith__gt=today,
        period__endswith__lte=ending_by + timedelta(days=1),
    ):
        found.append(
            _alert(AlertKind.AGREEMENT_ENDING, agreement, _last_day(agreement))
        )

    covered_by = today + timedelta(days=r.alert_insurance_expiring_days)
    insured = visible.filter(status__in=LIVE_STATUSES, period__endswith__gt=today)
    for agreement in insured.annotate(cover=Max("insurance_certificates__valid_until")):
        last_day = _last_day(agreement)
        cover: date | None = agreement.cover
        if cover is None:
            # Approved agreements are insured at signature (its guard).
            if agreement.status != _A.APPROVED:
                found.append(_alert(AlertKind.INSURANCE_EXPIRING, agreement, today))
        elif cover < last_day and cover <= covered_by:
            found.append(
                _alert(AlertKind.INSURANCE_EXPIRING, agreement, cover, today=today)
            )

    activated = (
        Agreement.objects.filter(pk=OuterRef("pk"))
        .values("pk")
        .annotate(on=Min("status_changes__changed_at", filter=_activation_filter()))
        .values("on")
    )
    reported = (
        Agreement.objects.filter(pk=OuterRef("pk"))
        .values("pk")
        .annotate(
            on=Max(
                "documents__uploaded_at",
                filter=Q(documents__kind=DocumentKind.ANNUAL_REPORT),
            )
        )
        .values("on")
    )
    window = timedelta(days=r.alert_annual_report_days)
    for agreement in visible.filter(
        regime=Regime.ELAN_ART29, status__in=REPORTING_STATUSES
    ).annotate(activated_at=Subquery(activated), reported_at=Subquery(reported)):
        activated_at: dt.datetime | None = agreement.activated_at
        reported_at: dt.datetime | None = agreement.reported_at
        start = (
            timezone.localdate(activated_at) if activated_at else agreement.period.lower
        )
        due = _latest_anniversary(start, until=today + window)
        if due is None:
            continue
        if reported_at and timezone.localdate(reported_at) >= due - window:
            continue
        found.append(_alert(AlertKind.ANNUAL_REPORT_DUE, agreement, due, today=today))

    found.sort(key=lambda a: (a.due_on, a.kind.value, a.reference))
    return found


def _activation_filter() -> Q:
    return Q(status_changes__from_status=_A.SIGNED, status_changes__to_status=_A.ACTIVE)


def _latest_anniversary(start: date, *, until: date) -> date | None:
    """The latest anniversary of ``start`` on or before ``until`` (not ``start``)."""
    years = until.year - start.year
    while years >= 1:
        anniversary = add_years(start, years)
        if anniversary <= until:
            return anniversary
        years -= 1
    return None


def _alert(
    kind: AlertKind, agreement: Agreement, due_on: date, *, today: date | None = None
) -> Alert:
    return Alert(
        kind=kind,
        agreement_id=agreement.pk,
        reference=agreement.reference,
        building=agreement.building.designation,
        due_on=due_on,
        overdue=today is not None and due_on < today,
    )
