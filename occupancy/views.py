"""Pages on agreements and sites.

State agents (``state_agent_page``, as for buildings): the agreements of their
territory, one agreement with its timeline, facts, spaces, occupancy figures and
lifecycle moves, and the alerts. Their figures are aggregates with small cells
withheld (occupancy/indicators.py); no page shows them a resident.

Operators (``operator_page``): their sites — the operator space /espace/operateur/
— and a page per site, with exact figures (their own data) and the residents
present tonight, each shown only as category, age band, household size and the
first characters of its pseudonym.

Anyone else gets a 404, as does anything outside the caller's scope; anonymous
visitors go to the login page. Reads go through occupancy.selectors and
occupancy.indicators, moves through occupancy.services.agreement_transition.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.forms import BoundField
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from buildings.models import Building
from buildings.views import may_write_inventory, state_agent_page
from config.errors import DomainError
from config.forms import refused_move_error
from occupancy.forms import (
    AgreementFilterForm,
    AgreementTransitionForm,
    PeriodForm,
    facts_for,
    transition_form,
)
from occupancy.indicators import (
    Figure,
    GroupBy,
    IndicatorReport,
    IndicatorRow,
    indicators_get,
)
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    Agreement,
    AgreementStatus,
    Purpose,
    Space,
    SpaceUse,
    Stay,
)
from occupancy.residents import access_record
from occupancy.rules import rules
from occupancy.selectors import (
    Alert,
    AlertKind,
    EventKind,
    agreement_get,
    agreement_list,
    agreement_timeline,
    alerts,
)
from occupancy.services import agreement_transition, transition_refused
from organizations.pages import acting_user, persona_page
from organizations.selectors import Scope

_A = AgreementStatus

PAGE_SIZE = 50
# Characters of a pseudonym an operator sees: enough to tell its residents apart
# on a page, too few to match a row of another table.
PSEUDONYM_PREFIX = 8


def _today() -> date:
    return timezone.localdate()


# --- Access -------------------------------------------------------------------------
# Login for anonymous visitors, 404 unless the user acts for an operator.
operator_page = persona_page(lambda scope: bool(scope.operator_ids))


def _agreement_or_404(scope: Scope, pk: int) -> Agreement:
    try:
        return agreement_get(scope=scope, pk=pk)
    except Agreement.DoesNotExist as error:
        raise Http404 from error


def _own_agreements(scope: Scope) -> QuerySet[Agreement]:
    """The agreements the caller's operators hold. Narrower than agreement_list for
    a user who is also a State agent: exact resident figures are for the
    operator's own sites only."""
    return agreement_list(scope=scope).filter(operator_id__in=scope.operator_ids)


# --- Presentation -------------------------------------------------------------------
STATUS_BADGES: dict[str, str] = {
    _A.DRAFT: "",
    _A.UNDER_REVIEW: "fr-badge--info",
    _A.APPROVED: "fr-badge--info",
    _A.SIGNED: "fr-badge--new",
    _A.ACTIVE: "fr-badge--success",
    _A.SUSPENDED: "fr-badge--warning",
    _A.ENDING: "fr-badge--warning",
    _A.EXPIRED: "",
    _A.REVOKED: "fr-badge--error",
    _A.TERMINATED: "fr-badge--error",
    _A.REJECTED: "fr-badge--error",
    _A.WITHDRAWN: "",
    _A.CLOSED: "",
}


@dataclass(frozen=True)
class AgreementRow:
    agreement: Agreement
    badge: str
    # Periods are [start, end): the page shows the last day, as agreements say it.
    last_day: date


def _row(agreement: Agreement) -> AgreementRow:
    return AgreementRow(
        agreement, STATUS_BADGES.get(agreement.status, ""), _last_day(agreement)
    )


def _last_day(agreement: Agreement) -> date:
    return agreement.end - timedelta(days=1)


def _date(value: date) -> str:
    return formats.date_format(value, "DATE_FORMAT")


def _euros(value: Decimal) -> str:
    return f"{formats.number_format(value, 2, force_grouping=True)} €"


# --- Agreement list -----------------------------------------------------------------
@state_agent_page
@require_safe
def agreement_list_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    form = AgreementFilterForm(request.GET)
    agreements = agreement_list(scope=scope)
    agreements = form.filter(agreements) if form.is_valid() else agreements.none()
    page = Paginator(agreements, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "occupancy/agreement_list.html",
        {
            "form": form,
            "page": page,
            "rows": [_row(agreement) for agreement in page],
            "page_query": query.urlencode(),
        },
    )


# --- Agreement page -----------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    label: str
    value: str | None


@dataclass(frozen=True)
class FactGroup:
    title: Promise
    facts: list[Fact]


def _label(name: str) -> str:
    return str(Agreement._meta.get_field(name).verbose_name)  # type: ignore[union-attr]


def _fact_value(agreement: Agreement, name: str) -> str | None:
    value = getattr(agreement, name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, date):
        return _date(value)
    if isinstance(value, Decimal):
        return _euros(value)
    if Agreement._meta.get_field(name).choices:  # type: ignore[union-attr]
        return str(getattr(agreement, f"get_{name}_display")())
    return str(value)


FACT_GROUPS: tuple[tuple[Promise, tuple[str, ...]], ...] = (
    (
        gettext_lazy("Title"),
        ("regime", "economic_activity", "selection_reference", "selection_exemption"),
    ),
    (
        gettext_lazy("Fee"),
        ("free_of_charge", "fee_amount", "fee_period", "fee_indexation",
         "fee_exemption_basis", "waiver_justification", "ddfip_opinion_reference",
         "ddfip_opinion_date", "market_rent_yearly"),
    ),
    (
        gettext_lazy("Occupation"),
        ("max_headcount", "sleeping_allowed"),
    ),
    (
        gettext_lazy("Lifecycle"),
        ("signed_on", "entry_inventory_on", "prefect_notified_on", "mayor_notified_on",
         "exit_inventory_on", "revocation_motive"),
    ),
)  # fmt: skip


def _facts(agreement: Agreement) -> list[FactGroup]:
    parties = [
        Fact(_("Building"), agreement.building.designation),
        Fact(_("Grantor"), agreement.grantor.name),
        Fact(_("Operator"), agreement.operator.name),
        Fact(
            _("Purposes"),
            ", ".join(str(Purpose(p).label) for p in agreement.purposes) or None,
        ),
        Fact(
            _("Period"),
            _("from %(start)s to %(last_day)s included")
            % {
                "start": _date(agreement.start),
                "last_day": _date(_last_day(agreement)),
            },
        ),
    ]
    groups = [FactGroup(gettext_lazy("Parties and purposes"), parties)]
    groups += [
        FactGroup(
            title,
            [Fact(_label(name), _fact_value(agreement, name)) for name in names],
        )
        for title, names in FACT_GROUPS
    ]
    return groups


@dataclass(frozen=True)
class UseTotal:
    label: str
    spaces: int
    places: int


def _use_totals(spaces: Iterable[Space]) -> list[UseTotal]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for space in spaces:
        counts[space.use][0] += 1
        counts[space.use][1] += space.capacity
    return [
        UseTotal(str(SpaceUse(use).label), n, places)
        for use, (n, places) in sorted(counts.items())
    ]


@dataclass(frozen=True)
class TimelineRow:
    on: date
    kind: str
    title: str
    detail: str
    actor: str


EVENT_LABELS = {
    EventKind.STATUS: gettext_lazy("Status"),
    EventKind.AMENDMENT: gettext_lazy("Amendment"),
    EventKind.DOCUMENT: gettext_lazy("Document"),
    EventKind.INSURANCE: gettext_lazy("Insurance"),
}


def _status_title(title: str) -> str:
    # The selector names statuses by value ("signed → active"); agents read labels.
    labels = []
    for value in title.split(" → "):
        try:
            labels.append(str(AgreementStatus(value).label))
        except ValueError:
            labels.append(value)
    return " → ".join(labels)


def _timeline(agreement: Agreement) -> list[TimelineRow]:
    events = agreement_timeline(agreement=agreement)
    actor_ids = {event.actor_id for event in events if event.actor_id is not None}
    names = dict(
        get_user_model().objects.filter(pk__in=actor_ids).values_list("pk", "username")
    )
    return [
        TimelineRow(
            on=event.on,
            kind=str(EVENT_LABELS[event.kind]),
            title=_status_title(event.title)
            if event.kind is EventKind.STATUS
            else event.title,
            detail=event.detail,
            actor=str(names[event.actor_id]) if event.actor_id in names else "",
        )
        for event in events
    ]


# --- Occupancy figures --------------------------------------------------------------
@dataclass(frozen=True)
class FigureLine:
    key: str  # the IndicatorRow field
    label: Promise
    value: str | None  # None: withheld


def _shown(figure: Figure, render: Callable[[Any], str]) -> str | None:
    if figure.suppressed:
        return None
    if figure.value is None:
        return "—"
    return render(figure.value)


def _count(value: Any) -> str:
    return formats.number_format(value, 0, force_grouping=True)


def _percent(value: Any) -> str:
    return f"{formats.number_format(Decimal(value) * 100, 1)} %"


def _decimal(value: Any) -> str:
    return formats.number_format(value, 1, force_grouping=True)


# The figures of an indicator row a page shows, in order, with their rendering.
FIGURES: tuple[tuple[str, Promise, Callable[[Any], str]], ...] = (
    ("nights_provided", gettext_lazy("Nights provided"), _count),
    ("occupancy_rate", gettext_lazy("Occupancy rate"), _percent),
    ("persons_housed", gettext_lazy("People housed"), _count),
    ("households_housed", gettext_lazy("Households housed"), _count),
    ("entries", gettext_lazy("Entries"), _count),
    ("exits", gettext_lazy("Exits"), _count),
    ("exits_to_housing", gettext_lazy("Exits to housing"), _count),
    (
        "exits_to_housing_rate",
        gettext_lazy("Exits to housing, share of known destinations"),
        _percent,
    ),
    (
        "unknown_destination_share",
        gettext_lazy("Exits to an unknown destination, share"),
        _percent,
    ),
    (
        "length_of_stay_mean_days",
        gettext_lazy("Length of stay, mean (days, exits of the period)"),
        _decimal,
    ),
    (
        "length_of_stay_median_days",
        gettext_lazy("Length of stay, median (days)"),
        _decimal,
    ),
    ("ongoing_at_end", gettext_lazy("Still present on the last night"), _count),
    (
        "ongoing_mean_days",
        gettext_lazy("Their length of stay so far, mean (days)"),
        _decimal,
    ),
)


def _figure_lines(row: IndicatorRow) -> list[FigureLine]:
    places = row.places_average
    lines = [
        FigureLine(
            "places_average",
            gettext_lazy("Places, average over the period"),
            _decimal(places) if places is not None else "—",
        ),
        FigureLine(
            "place_nights_available",
            gettext_lazy("Place-nights available"),
            _count(row.place_nights_available or 0),
        ),
    ]
    lines += [
        FigureLine(key, label, _shown(getattr(row, key), render))
        for key, label, render in FIGURES
    ]
    return lines


@dataclass(frozen=True)
class Figures:
    """The occupancy figures of a page: its period, form, and lines (or the error
    that kept them from being computed)."""

    form: PeriodForm
    start: date
    end: date
    exact: bool
    threshold: int
    lines: list[FigureLine] = field(default_factory=list)
    report: IndicatorReport | None = None
    error: str | None = None

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


def _default_period(agreements: Iterable[Agreement]) -> tuple[date, date]:
    """From the first start to the last end, but not beyond tonight."""
    agreements = list(agreements)
    start = min(agreement.start for agreement in agreements)
    end = min(
        max(agreement.end for agreement in agreements), _today() + timedelta(days=1)
    )
    return start, max(end, start + timedelta(days=1))


def _report(
    request: HttpRequest,
    *,
    agreements: QuerySet[Agreement],
    default: tuple[date, date],
    scope: Scope,
    group_by: GroupBy | None = None,
) -> Figures:
    form = PeriodForm(request.GET or None)
    start, end = form.period(default)
    try:
        report = indicators_get(
            agreements=agreements,
            start=start,
            end=end,
            for_scope=scope,
            group_by=group_by,
        )
    except DomainError as error:
        threshold = rules().small_cell_threshold
        return Figures(
            form, start, end, exact=False, threshold=threshold, error=error.message
        )
    return Figures(
        form,
        start,
        end,
        exact=report.exact,
        threshold=report.threshold,
        lines=_figure_lines(report.rows[0]) if group_by is None else [],
        report=report,
    )


# --- Agreement page, continued --------------------------------------------------------
@dataclass(frozen=True)
class Move:
    to: str
    label: str
    form: AgreementTransitionForm
    fields: list[BoundField]  # the facts this move records, and its reason


def _moves(agreement: Agreement, failed: AgreementTransitionForm | None) -> list[Move]:
    moves = []
    allowed = AGREEMENT_TRANSITIONS.get(agreement.status, frozenset())
    for to in [status for status in AgreementStatus.values if status in allowed]:
        form = transition_form(agreement, to)
        if failed is not None and failed.data.get("to") == to:
            form = failed
        names = [*facts_for(to, agreement), "reason"]
        moves.append(
            Move(to, str(AgreementStatus(to).label), form, [form[n] for n in names])
        )
    return moves


def _error_label(error: DomainError | None) -> str | None:
    if error is None or not error.field or error.field in ("status", "reason"):
        return None
    try:
        return _label(error.field)
    except FieldDoesNotExist:
        return None


def _render_agreement(
    request: HttpRequest,
    scope: Scope,
    agreement: Agreement,
    *,
    error: DomainError | None = None,
    failed: AgreementTransitionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    spaces = list(
        Space.objects.filter(agreement_spaces__agreement=agreement).order_by(
            "floor", "name"
        )
    )
    figures = _report(
        request,
        # ``agreement`` came through the scoped selector: its own row is in scope.
        agreements=Agreement.objects.filter(pk=agreement.pk),
        default=_default_period([agreement]),
        scope=scope,
    )
    may_move = may_write_inventory(
        scope, request.user, department=agreement.building.department_id
    )
    return render(
        request,
        "occupancy/agreement_detail.html",
        {
            "agreement": agreement,
            "row": _row(agreement),
            "fact_groups": _facts(agreement),
            "spaces": spaces,
            "use_totals": _use_totals(spaces),
            "timeline": _timeline(agreement),
            "figures": figures,
            "moves": _moves(agreement, failed) if may_move else [],
            "error": error,
            "error_field": _error_label(error),
            # A refused move answers at …/statut/, which takes POST only: the
            # language switch returns to the agreement's page instead.
            "language_next": reverse("occupancy:agreement-detail", args=[agreement.pk])
            if request.method == "POST"
            else None,
        },
        status=status,
    )


@state_agent_page
@require_safe
def agreement_detail_page(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
    return _render_agreement(request, scope, _agreement_or_404(scope, pk))


@state_agent_page
@require_POST
def agreement_transition_page(
    request: HttpRequest, scope: Scope, pk: int
) -> HttpResponse:
    agreement = _agreement_or_404(scope, pk)
    if not may_write_inventory(
        scope, request.user, department=agreement.building.department_id
    ):
        raise PermissionDenied
    form = transition_form(agreement, request.POST.get("to", ""), data=request.POST)
    if not form.is_valid():
        return _render_agreement(
            request,
            scope,
            agreement,
            error=refused_move_error(
                form, functools.partial(transition_refused, agreement)
            ),
            failed=form,
            status=400,
        )
    try:
        agreement = agreement_transition(
            agreement=agreement,
            to=form.cleaned_data["to"],
            by=acting_user(request),
            reason=form.cleaned_data["reason"],
            **form.facts(agreement),
        )
    except DomainError as error:
        return _render_agreement(
            request,
            scope,
            agreement,
            error=error,
            failed=form,
            status=error.status_code,
        )
    messages.success(
        request,
        _("Agreement %(reference)s is now “%(status)s”.")
        % {"reference": agreement.reference, "status": agreement.get_status_display()},
    )
    return redirect("occupancy:agreement-detail", pk=agreement.pk)


# --- Alerts -------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertGroup:
    kind: str
    title: Promise
    explanation: Promise
    alerts: list[Alert]


ALERT_TEXTS = {
    AlertKind.AGREEMENT_ENDING: (
        gettext_lazy("Agreements ending soon"),
        gettext_lazy(
            "Agreements that end within the coming days: prepare the end of "
            "occupation, a prorogation or the next use. The date is the last day."
        ),
    ),
    AlertKind.INSURANCE_EXPIRING: (
        gettext_lazy("Insurance expiring"),
        gettext_lazy(
            "The occupant's insurance lapses before the agreement ends: ask for "
            "the new certificate. The date is the last day covered."
        ),
    ),
    AlertKind.ANNUAL_REPORT_DUE: (
        gettext_lazy("ELAN annual reports due"),
        gettext_lazy(
            "Under ELAN art. 29 the approved body reports each year to the "
            "prefect; the date is the anniversary of the opening."
        ),
    ),
}


def _alert_groups(found: Iterable[Alert]) -> list[AlertGroup]:
    by_kind: dict[AlertKind, list[Alert]] = defaultdict(list)
    for alert in found:
        by_kind[alert.kind].append(alert)
    return [
        AlertGroup(kind.value, *ALERT_TEXTS[kind], by_kind[kind]) for kind in AlertKind
    ]


@state_agent_page
@require_safe
def alerts_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    today = _today()
    found = alerts(scope=scope, today=today)
    return render(
        request,
        "occupancy/alerts.html",
        {"groups": _alert_groups(found), "count": len(found), "today": today},
    )


# --- Operators' sites ---------------------------------------------------------------
def _spaces_tonight(agreement_ids: list[int], tonight: date) -> QuerySet[Space]:
    """The spaces the agreements cover, each with the places its stays take on
    night ``tonight`` (a stay is present on the nights of [entry, exit))."""
    used = (
        Stay.objects.filter(
            space=OuterRef("pk"),
            agreement_id__in=agreement_ids,
            period__contains=tonight,
        )
        .values("space")
        .annotate(total=Sum("places"))
        .values("total")
    )
    return (
        Space.objects.filter(agreement_spaces__agreement_id__in=agreement_ids)
        .distinct()
        .annotate(used_tonight=Coalesce(Subquery(used, output_field=IntegerField()), 0))
        .order_by("building_id", "floor", "name")
    )


@dataclass
class SiteSummary:
    building: Building
    rows: list[AgreementRow] = field(default_factory=list)
    spaces: list[Space] = field(default_factory=list)
    figures: IndicatorRow | None = None

    def _places(self, use: str) -> int:
        return sum(s.capacity for s in self.spaces if s.use == use)

    @property
    def sleeping_places(self) -> int:
        return self._places(SpaceUse.SLEEPING)

    @property
    def work_places(self) -> int:
        return self._places(SpaceUse.WORK)

    @property
    def capacity(self) -> int:
        return sum(s.capacity for s in self.spaces)

    @property
    def used_tonight(self) -> int:
        return sum(s.used_tonight for s in self.spaces)  # type: ignore[attr-defined]


def _sites(agreements: list[Agreement], tonight: date) -> list[SiteSummary]:
    sites: dict[int, SiteSummary] = {}
    for agreement in agreements:
        site = sites.setdefault(agreement.building_id, SiteSummary(agreement.building))
        site.rows.append(_row(agreement))
    for space in _spaces_tonight([a.pk for a in agreements], tonight):
        sites[space.building_id].spaces.append(space)
    return sorted(sites.values(), key=lambda site: site.building.designation)


@operator_page
@require_safe
def my_sites_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The operator space (/espace/operateur/ renders it): sites, places used
    tonight, figures per site over a period, and what needs doing soon."""
    own = _own_agreements(scope)
    agreements = list(own)
    tonight = _today()
    sites = _sites(agreements, tonight)
    figures = None
    if agreements:
        figures = _report(
            request,
            agreements=own,
            default=_default_period(agreements),
            scope=scope,
            group_by=GroupBy.SITE,
        )
        report = figures.report
        rows = {row.group: row for row in report.rows} if report else {}
        for site in sites:
            site.figures = rows.get(str(site.building.pk))
    own_ids = {agreement.pk for agreement in agreements}
    to_do = [a for a in alerts(scope=scope, today=tonight) if a.agreement_id in own_ids]
    return render(
        request,
        "pages/space_operator.html",
        {
            "scope": scope,
            "sites": sites,
            "figures": figures,
            "tonight": tonight,
            "alerts": [(ALERT_TEXTS[alert.kind][0], alert) for alert in to_do],
        },
    )


@operator_page
@require_safe
def my_sites_redirect(request: HttpRequest, scope: Scope) -> HttpResponse:
    # The list of sites is the operator space; this address only leads there.
    return redirect("persona-space", space="operateur")


@dataclass(frozen=True)
class Presence:
    """A stay present tonight, as an operator may see it: no identity, only the
    occupant's category, age band, household size and a pseudonym prefix."""

    space: str
    pseudonym: str
    category: str
    age_band: str
    household_size: int
    structure_type: str
    entry: date
    planned_exit: date | None
    # For the access log only (reliability.md §H3); the page does not show it.
    occupant_id: int


def _presences(agreement_ids: list[int], tonight: date) -> list[Presence]:
    stays = (
        Stay.objects.filter(
            agreement_id__in=agreement_ids,
            period__contains=tonight,
            occupant__anonymised_at=None,
        )
        .select_related("occupant", "space")
        .order_by("space__floor", "space__name", "pk")
    )
    return [
        Presence(
            space=stay.space.name,
            pseudonym=stay.occupant.pseudonym[:PSEUDONYM_PREFIX],
            category=stay.occupant.get_category_display(),
            age_band=stay.occupant.get_age_band_display(),
            household_size=stay.occupant.household_size,
            structure_type=stay.get_structure_type_display(),
            entry=stay.period.lower,
            planned_exit=stay.period.upper,
            occupant_id=stay.occupant_id,
        )
        for stay in stays
    ]


@operator_page
@require_safe
def site_page(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
    own = _own_agreements(scope).filter(building_id=pk)
    agreements = list(own)
    if not agreements:
        raise Http404
    tonight = _today()
    site = _sites(agreements, tonight)[0]
    figures = _report(
        request, agreements=own, default=_default_period(agreements), scope=scope
    )
    presences = _presences([a.pk for a in agreements], tonight)
    # The list of people present is a read of resident rows: logged (§H3).
    access_record(
        user=request.user,
        channel="page:occupancy.site",
        occupant_ids=[presence.occupant_id for presence in presences],
        method=request.method or "",
    )
    return render(
        request,
        "occupancy/site_detail.html",
        {
            "site": site,
            "figures": figures,
            "tonight": tonight,
            "presences": presences,
        },
    )
