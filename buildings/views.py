"""State agents' pages on the inventory: the list, a building and its lifecycle.

Anyone who is not a State agent gets a 404, as do buildings outside the agent's
territory (DESIGN.md, "Permissions"); anonymous visitors go to the login page.
Reads go through buildings.selectors, writes through buildings.services; the
helpers below only shape what the templates show. Imports: buildings.import_views.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe
from django_stubs_ext import StrOrPromise

from buildings import suitability
from buildings.api.filters import BuildingFilterSet
from buildings.forms import (
    ADVANCED_FILTERS,
    USE_LABELS,
    TransitionForm,
    dsfr_filter_form,
)
from buildings.geojson import properties_for
from buildings.models import Building, BuildingStatus
from buildings.selectors import (
    NEARBY_DEFAULT_M,
    building_get,
    building_list,
    building_status_history,
    nearby_buildings,
    nearby_friches,
)
from buildings.services import (
    allowed_transitions,
    building_transition,
    transition_refused,
)
from config.errors import DomainError
from config.forms import refused_move_error
from config.links import query_pairs
from maps.components import building_map
from organizations.models import Organization
from organizations.pages import acting_user, persona_page
from organizations.selectors import Scope, writable_departments

# --- Access
# Login for anonymous visitors, 404 for other personas, the scope for agents.
state_agent_page = persona_page(lambda scope: scope.is_state_agent)


def _get_or_404(scope: Scope, pk: int) -> Building:
    try:
        return building_get(scope=scope, pk=pk)
    except Building.DoesNotExist as error:
        raise Http404 from error


class _Anywhere(Enum):
    ANYWHERE = "anywhere"


ANYWHERE = _Anywhere.ANYWHERE


def may_write_inventory(
    scope: Scope, user: Any, *, department: str | _Anywhere | None = ANYWHERE
) -> bool:
    """Admins and editors of a State service may change the inventory; viewers read.

    With ``department`` (a building's), one of those services must also cover it
    (organizations.selectors.writable_departments): an agent who edits for one
    service and only reads for another may not write on the second one's
    territory, and a building with no département (the collectivités d'outre-mer,
    975, 977, 978) is written by national services only. Without it: whether
    the caller edits anywhere at all.
    """
    if department is ANYWHERE:
        return bool(getattr(user, "is_superuser", False)) or bool(
            scope.writable_ids & scope.state_service_ids
        )
    departments = writable_departments(scope=scope, user=user)
    return departments is None or (department is not None and department in departments)


def may_import(scope: Scope, user: Any) -> bool:
    """Imports are for editors of a national service (DIE) and superusers.

    import_file writes every row of a file whatever its département, so a
    regional editor importing the national inventory would rewrite other
    territories; regional imports wait for the importer to filter on a territory.
    """
    if getattr(user, "is_superuser", False):
        return True
    services = scope.writable_ids & scope.state_service_ids
    return Organization.objects.filter(
        pk__in=services, territory_departments__len=0
    ).exists()


# --- Presentation
STATUS_BADGES = {
    BuildingStatus.VACANT: "fr-badge--info",
    BuildingStatus.ASSESSED: "fr-badge--info",
    BuildingStatus.AVAILABLE: "fr-badge--success",
    BuildingStatus.UNDER_AGREEMENT: "fr-badge--new",
    BuildingStatus.OCCUPIED: "fr-badge--new",
    BuildingStatus.RELEASING: "fr-badge--warning",
    BuildingStatus.SUSPENDED: "fr-badge--warning",
    BuildingStatus.UNSAFE: "fr-badge--error",
    BuildingStatus.ILLEGALLY_OCCUPIED: "fr-badge--error",
}


def _badge(status: str) -> str:
    return STATUS_BADGES.get(BuildingStatus(status), "")


# --- List
PAGE_SIZE = 50
# Columns agents may sort on: anything else falls back to the default, so that
# ordering never reveals a field the page does not show (reliability.md B6).
ORDERINGS = {
    "designation": "designation",
    "commune": "commune__name",
    "department": "department_id",
    "status": "status",
    "surface": "surface_m2",
    "suitability": "suitability_mixed",
    "vacancy_since": "vacancy_since",
}
DEFAULT_ORDERING = "designation"
# What a row of the list shows: its footprint, parcels and JSON, and the
# boundaries of its commune and département, stay in the database.
ROW_FIELDS = (
    "id", "designation", "city", "status", "surface_m2", "suitability_mixed",
    "suitability_completeness", "vacancy_since",
    "commune", "commune__name", "department", "department__name",
)  # fmt: skip
COLUMNS: tuple[tuple[str | None, Promise], ...] = (
    ("designation", gettext_lazy("Designation")),
    ("commune", gettext_lazy("Commune")),
    ("department", gettext_lazy("Département")),
    ("status", gettext_lazy("Status")),
    ("surface", gettext_lazy("Surface (m²)")),
    ("suitability", gettext_lazy("Suitability, mixed use (completeness)")),
    ("vacancy_since", gettext_lazy("Vacant since")),
)
EXPORT_FORMATS = (
    ("csv", "CSV"),
    ("xlsx", "XLSX"),
    ("geojson", "GeoJSON"),
    ("gpkg", "GeoPackage"),
)


@dataclass(frozen=True)
class Column:
    label: Promise
    href: str | None
    sort: str | None  # "ascending" / "descending" for aria-sort


def _ordering(value: str) -> tuple[str, list[OrderBy]]:
    key = value.removeprefix("-")
    if key not in ORDERINGS:
        value = key = DEFAULT_ORDERING
    field = F(ORDERINGS[key])
    first = (
        field.desc(nulls_last=True)
        if value.startswith("-")
        else field.asc(nulls_last=True)
    )
    # pk last: pages stay stable when many rows share a value.
    return value, [first, F("pk").asc()]


def _query_string(request: HttpRequest, **changes: str | None) -> str:
    return urlencode(query_pairs(request.GET, **changes))


def _exports(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    """The export links and the export form, for one selection: the current filters
    without the page and the page's sort (whose keys are not the API's). The form
    sends them as hidden fields, with a checkbox per property the agent may read
    (all ticked) and a button per format."""
    filters = query_pairs(request.GET, page=None, ordering=None, columns=None)
    query = f"?{urlencode(filters)}" if filters else ""
    # The API's export (buildings/exports.py behind it) reads the same filter set
    # and scope, and agents' sessions authenticate there too.
    urls = [
        (label, reverse("v1:building-export", kwargs={"fmt": name}))
        for name, label in EXPORT_FORMATS
    ]
    return {
        "exports": [(label, url + query) for label, url in urls],
        "export_form": {
            "params": filters,
            "columns": [(n, _field_label(n)) for n in properties_for(scope)],
            "formats": urls,
        },
    }


def _columns(request: HttpRequest, ordering: str) -> list[Column]:
    columns = []
    for key, label in COLUMNS:
        if key is None:
            columns.append(Column(label, None, None))
            continue
        sort = None
        if ordering == key:
            sort = "ascending"
        elif ordering == f"-{key}":
            sort = "descending"
        target = f"-{key}" if sort == "ascending" else key
        href = "?" + _query_string(request, ordering=target, page=None)
        columns.append(Column(label, href, sort))
    return columns


class CountedPaginator(Paginator[Building]):
    """Pages of a selection already counted (the count is not asked again)."""

    def __init__(self, object_list: QuerySet[Building], per_page: int, count: int):
        super().__init__(object_list, per_page)
        self._counted = count

    @cached_property
    def count(self) -> int:
        return self._counted


@state_agent_page
@require_safe
def building_list_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    filterset = BuildingFilterSet(
        request.GET,
        queryset=building_list(scope=scope)
        .select_related("commune", "department")
        .only(*ROW_FIELDS),
    )
    dsfr_filter_form(filterset.form)
    ordering, order_by = _ordering(request.GET.get("ordering", DEFAULT_ORDERING))
    buildings: QuerySet[Building] = Building.objects.none()
    if filterset.is_valid():
        buildings = filterset.qs.order_by(*order_by)
    # A national agent's selection holds the whole inventory: counting it all and
    # paging deep into it cost seconds on a million rows. The list goes as far as
    # API_COUNT_CAP rows, counted exactly up to there, and says when there are more.
    cap = settings.API_COUNT_CAP
    matched = buildings.order_by()[: cap + 1].count()
    page = CountedPaginator(buildings[:cap], PAGE_SIZE, min(matched, cap)).get_page(
        request.GET.get("page")
    )
    advanced = set(ADVANCED_FILTERS)
    return render(
        request,
        "buildings/building_list.html",
        {
            "form": filterset.form,
            "main_fields": [f for f in filterset.form if f.name not in advanced],
            "advanced_fields": [f for f in filterset.form if f.name in advanced],
            "advanced_open": any(request.GET.get(name) for name in advanced),
            "page": page,
            "more_than": cap if matched > cap else None,
            "rows": [(building, _badge(building.status)) for building in page],
            "columns": _columns(request, ordering),
            "ordering": ordering,
            "page_query": _query_string(request, page=None),
            **_exports(request, scope),
            "may_import": may_import(scope, request.user),
        },
    )


# --- Building page
FACT_GROUPS: tuple[tuple[Promise, tuple[str, ...]], ...] = (
    (
        gettext_lazy("Identification"),
        ("designation", "inventory_id", "code_chorus", "site", "asset_type",
         "function", "ministry", "manager_label", "manager_type", "owner_type",
         "domaniality", "is_confidential", "source", "source_vintage"),
    ),
    (
        gettext_lazy("Location"),
        ("address", "postal_code", "city", "commune", "department", "country",
         "point", "parcel_ids", "rnb_ids"),
    ),
    (
        gettext_lazy("Surfaces and condition"),
        ("surface_m2", "surface_kind", "year_built", "condition", "energy_kwh_ef",
         "heating_type", "accessibility"),
    ),
    (
        gettext_lazy("Safety and public access (ERP)"),
        ("erp", "erp_type", "erp_category"),
    ),
    (
        gettext_lazy("Vacancy and next use"),
        ("status", "vacancy_since", "vacancy_cause", "next_use", "next_use_date"),
    ),
    (gettext_lazy("Costs"), ("guarding_cost_monthly",)),
)  # fmt: skip
CRITERION_LABELS = {
    "safety": gettext_lazy("Safety (ERP type)"),
    "surface": gettext_lazy("Surface"),
    "condition": gettext_lazy("Condition"),
    "time_left": gettext_lazy("Time before the next use"),
    "accessibility": gettext_lazy("Accessibility"),
    "energy": gettext_lazy("Energy use per m²"),
}
# The building fields each criterion reads (buildings/suitability.py): what an
# agent fills in to make an unknown criterion count.
CRITERION_INPUTS = {
    "safety": ("erp", "erp_type"),
    "surface": ("surface_m2",),
    "condition": ("condition",),
    "time_left": ("next_use_date",),
    "accessibility": ("accessibility",),
    "energy": ("energy_kwh_ef", "surface_m2"),
}


@dataclass(frozen=True)
class Fact:
    label: str
    value: object


@dataclass(frozen=True)
class FactGroup:
    title: Promise
    facts: list[Fact]


@dataclass(frozen=True)
class CriterionRow:
    label: Promise
    value: float | None
    weight: int
    contribution: float


@dataclass(frozen=True)
class UseBreakdown:
    use: str
    label: Promise
    score: int
    criteria: list[CriterionRow]


@dataclass(frozen=True)
class UnknownCriterion:
    label: Promise
    inputs: list[str]


def _field_label(name: str) -> str:
    return str(Building._meta.get_field(name).verbose_name)  # type: ignore[union-attr]


def _fact_value(building: Building, name: str) -> object:
    value = getattr(building, name)
    if value is None or value == "" or value == []:
        return None
    if name == "point":
        return f"{value.y:.6f}, {value.x:.6f}"
    if Building._meta.get_field(name).choices:  # type: ignore[union-attr]
        return getattr(building, f"get_{name}_display")()
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(value)
    return value


def _facts(building: Building) -> list[FactGroup]:
    return [
        FactGroup(
            title,
            [Fact(_field_label(name), _fact_value(building, name)) for name in names],
        )
        for title, names in FACT_GROUPS
    ]


def _suitability(
    building: Building,
) -> tuple[list[UseBreakdown], int, list[UnknownCriterion]]:
    # Computed for today rather than read from the stored columns: the time left
    # before the next use shrinks every day, the stored scores only on writes.
    result = suitability.suitability(building, today=timezone.localdate())
    uses = [
        UseBreakdown(
            use=use,
            label=USE_LABELS[use],
            score=result.scores[use],
            criteria=[
                CriterionRow(
                    label=CRITERION_LABELS[criterion],
                    value=None if row["value"] is None else float(row["value"]),
                    weight=int(row["weight"] or 0),
                    contribution=float(row["contribution"] or 0),
                )
                for criterion, row in result.details[use].items()
            ],
        )
        for use in suitability.USES
    ]
    unknown = [
        UnknownCriterion(
            CRITERION_LABELS[criterion],
            [_field_label(name) for name in CRITERION_INPUTS[criterion]],
        )
        for criterion, row in result.details["mixed"].items()
        if row["value"] is None
    ]
    return uses, result.completeness, unknown


def _transition_id(status: str) -> str:
    return f"transition-{status}-%s"


def _transition_forms(
    building: Building, failed: TransitionForm | None
) -> list[tuple[str, StrOrPromise, TransitionForm]]:
    """One form per move the agent may make; ids differ, field names do not."""
    forms: list[tuple[str, StrOrPromise, TransitionForm]] = []
    for status in allowed_transitions(building):
        form = TransitionForm(initial={"to": status}, auto_id=_transition_id(status))
        if failed is not None and failed.data.get("to") == status:
            form = failed
        forms.append((status, BuildingStatus(status).label, form))
    return forms


def _render_building(
    request: HttpRequest,
    scope: Scope,
    building: Building,
    *,
    error: DomainError | None = None,
    failed: TransitionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    uses, completeness, unknown = _suitability(building)
    may_transition = may_write_inventory(
        scope, request.user, department=building.department_id
    )
    return render(
        request,
        "buildings/building_detail.html",
        {
            "building": building,
            "badge": _badge(building.status),
            "fact_groups": _facts(building),
            "history": building_status_history(building=building),
            "uses": uses,
            "completeness": completeness,
            "unknown_criteria": unknown,
            "friches": nearby_friches(building=building),
            "neighbours": nearby_buildings(scope=scope, building=building),
            "radius_m": NEARBY_DEFAULT_M,
            "building_map": building_map(building, scope),
            "transitions": _transition_forms(building, failed)
            if may_transition
            else [],
            "error": error,
            "error_field": _field_label(error.field)
            if error is not None and error.field and error.field != "status"
            else None,
            # A refused move answers at …/statut/, which takes POST only: the
            # language switch returns to the building's page instead.
            "language_next": reverse("buildings:detail", args=[building.pk])
            if request.method == "POST"
            else None,
        },
        status=status,
    )


@state_agent_page
@require_safe
def building_detail_page(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
    return _render_building(request, scope, _get_or_404(scope, pk))


@state_agent_page
@require_POST
def building_transition_page(
    request: HttpRequest, scope: Scope, pk: int
) -> HttpResponse:
    building = _get_or_404(scope, pk)
    if not may_write_inventory(scope, request.user, department=building.department_id):
        raise PermissionDenied
    form = TransitionForm(
        request.POST, auto_id=_transition_id(request.POST.get("to", ""))
    )
    if not form.is_valid():
        return _render_building(
            request,
            scope,
            building,
            error=refused_move_error(
                form, functools.partial(transition_refused, building)
            ),
            failed=form,
            status=400,
        )
    try:
        building = building_transition(
            building=building,
            to=form.cleaned_data["to"],
            by=acting_user(request),
            reason=form.cleaned_data["reason"],
        )
    except DomainError as error:
        return _render_building(
            request, scope, building, error=error, failed=form, status=error.status_code
        )
    messages.success(
        request,
        _("“%(building)s” is now “%(status)s”.")
        % {"building": building, "status": building.get_status_display()},
    )
    return redirect("buildings:detail", pk=building.pk)
