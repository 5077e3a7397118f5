"""Filters of the building list, shared by the API, the agents' pages and exports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import django_filters
from django.contrib.gis.geos import Point, Polygon
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from buildings.geometry import DWithinMetres
from buildings.models import (
    AREA_CODE_PATTERN,
    COMMUNE_CODE_PATTERN,
    PUBLIC_STATUSES,
    Building,
    BuildingStatus,
)
from buildings.reference import in_areas, in_communes
from buildings.selectors import NEARBY_MAX_M
from buildings.suitability import USES
from config.filters import (
    CodeInFilter,
    OnceFilterMixin,
    StaticFormFilterSet,
    StrictBooleanFilter,
)
from organizations.selectors import Scope

SUITABILITY_FIELDS = {use: f"suitability_{use}" for use in USES}
# Filters on properties only State agents see: answering them for anyone else
# would reveal the property one guess at a time (reliability.md B6).
AGENT_ONLY_FILTERS = {
    "ministry": _("Only State agents may filter on the ministry."),
}


def refused_filters(params: Mapping[str, object], scope: Scope) -> dict[str, list[str]]:
    """The agent-only filters in ``params`` that ``scope`` may not use, with why."""
    if scope.is_state_agent:
        return {}

    def given(name: str) -> bool:
        # A blank value, as a form sends for an empty field, filters nothing.
        getlist = getattr(params, "getlist", None)
        values = getlist(name) if getlist is not None else [params.get(name)]
        return any(value not in (None, "") for value in values)

    return {
        name: [str(message)]
        for name, message in AGENT_ONLY_FILTERS.items()
        if given(name)
    }


def _floats(value: str, count: int, name: str) -> list[float]:
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != count or any(n != n or abs(n) == float("inf") for n in numbers):
        raise ValidationError(
            {name: _("Expected %(count)d comma-separated numbers.") % {"count": count}}
        )
    return numbers


class BuildingFilterSet(OnceFilterMixin, StaticFormFilterSet):
    bbox = django_filters.CharFilter(
        method="filter_bbox",
        label=_("Bounding box: min lon, min lat, max lon, max lat (WGS84)"),
    )
    near = django_filters.CharFilter(
        method="filter_near", label=_("Point: lon,lat (WGS84), with radius")
    )
    radius = django_filters.NumberFilter(
        method="filter_noop", label=_("Radius around “near”, in metres")
    )
    department = CodeInFilter(
        method="filter_department",
        validators=[
            RegexValidator(
                AREA_CODE_PATTERN,
                _("Give département codes (13, 2A, 974…) or 975, 977, 978."),
            ),
        ],
    )
    commune = CodeInFilter(
        method="filter_commune",
        validators=[
            RegexValidator(
                COMMUNE_CODE_PATTERN, _("Give INSEE commune codes (13055…).")
            ),
        ],
    )
    # distinct=False: a status match never duplicates rows (no join), and DISTINCT
    # over geometry and JSON columns is costly.
    status = django_filters.MultipleChoiceFilter(
        choices=BuildingStatus.choices, distinct=False
    )
    ministry = django_filters.CharFilter(field_name="ministry", lookup_expr="iexact")
    surface_min = django_filters.NumberFilter(
        field_name="surface_m2", lookup_expr="gte"
    )
    surface_max = django_filters.NumberFilter(
        field_name="surface_m2", lookup_expr="lte"
    )
    erp = StrictBooleanFilter(field_name="erp")
    available_from = django_filters.DateFilter(method="filter_available_from")
    available_to = django_filters.DateFilter(method="filter_available")
    q = django_filters.CharFilter(method="filter_text", label=_("Text search"))
    suitability_use = django_filters.ChoiceFilter(
        choices=[(use, use) for use in USES], method="filter_noop"
    )
    suitability_min = django_filters.NumberFilter(method="filter_suitability")

    class Meta:
        model = Building
        fields: list[str] = []

    def is_valid(self) -> bool:
        """Each field valid, and the filters that read two parameters together
        (bbox corners, near with radius, a date range) accept them.

        Those check while they filter, so the queryset is composed here (no
        query runs) and their errors join the form's: every caller then sees
        one verdict, where the maps and tiles, which read ``qs`` after
        ``is_valid()``, answered these errors with a 500.
        """
        if not super().is_valid():
            return False
        try:
            self.qs  # noqa: B018  (composes and keeps the queryset)
        except ValidationError as error:
            self.form.add_error(None, error)
            return False
        return True

    def filter_department(
        self, queryset: QuerySet[Building], name: str, value: list[str]
    ) -> QuerySet[Building]:
        return queryset.filter(in_areas(value)) if value else queryset

    def filter_commune(
        self, queryset: QuerySet[Building], name: str, value: list[str]
    ) -> QuerySet[Building]:
        return queryset.filter(in_communes(value)) if value else queryset

    def filter_noop(
        self, queryset: QuerySet[Building], name: str, value: object
    ) -> QuerySet[Building]:
        # Read together with another parameter (radius with near, …).
        return queryset

    def filter_bbox(
        self, queryset: QuerySet[Building], name: str, value: str
    ) -> QuerySet[Building]:
        xmin, ymin, xmax, ymax = _floats(value, 4, "bbox")
        if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
            raise ValidationError(
                {
                    "bbox": _(
                        "Expected min lon ≤ max lon and min lat ≤ max lat, in WGS84."
                    )
                }
            )
        box = Polygon.from_bbox((xmin, ymin, xmax, ymax))
        box.srid = 4326
        # ST_Intersects already brings its && index test: an explicit && on top made
        # the planner count the box's selectivity twice (bad plans, bad estimates).
        return queryset.filter(point__intersects=box)

    def filter_near(
        self, queryset: QuerySet[Building], name: str, value: str
    ) -> QuerySet[Building]:
        lon, lat = _floats(value, 2, "near")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError({"near": _("Expected lon,lat in WGS84.")})
        radius = self.form.cleaned_data.get("radius")
        if radius is None or not 0 < radius <= NEARBY_MAX_M:
            raise ValidationError(
                {
                    "radius": _("Give a radius in metres, up to %(max)d.")
                    % {"max": NEARBY_MAX_M}
                }
            )
        return queryset.filter(
            DWithinMetres("point", Point(lon, lat, srid=4326), radius)
        )

    def filter_available_from(
        self, queryset: QuerySet[Building], name: str, value: date
    ) -> QuerySet[Building]:
        """Alone, the vacant stock available that day; with ``available_to``,
        that filter reads it (it was ignored alone)."""
        if self.form.cleaned_data.get("available_to") is not None:
            return queryset
        return self._available(queryset, value, value)

    def filter_available(
        self, queryset: QuerySet[Building], name: str, value: date
    ) -> QuerySet[Building]:
        start = self.form.cleaned_data.get("available_from") or value
        if start > value:
            raise ValidationError(
                {"available_from": _("The start date must precede the end date.")}
            )
        return self._available(queryset, start, value)

    @staticmethod
    def _available(
        queryset: QuerySet[Building], start: date, end: date
    ) -> QuerySet[Building]:
        """Vacant stock whose horizon covers [start, end]."""
        return queryset.filter(
            Q(status__in=PUBLIC_STATUSES),
            Q(vacancy_since__isnull=True) | Q(vacancy_since__lte=start),
            Q(next_use_date__isnull=True) | Q(next_use_date__gte=end),
        )

    def filter_text(
        self, queryset: QuerySet[Building], name: str, value: str
    ) -> QuerySet[Building]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(designation__icontains=value) | Q(address__icontains=value)
        )

    def filter_suitability(
        self, queryset: QuerySet[Building], name: str, value: float
    ) -> QuerySet[Building]:
        use = self.form.cleaned_data.get("suitability_use") or "mixed"
        return queryset.filter(**{f"{SUITABILITY_FIELDS[use]}__gte": value})
