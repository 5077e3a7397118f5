"""Reads behind the maps, each scoped by the caller and built in PostGIS.

GeoJSON leaves the database as text (DESIGN.md, "Serving fast"): features are
written by ``ST_AsGeoJSON``/``json_build_object`` and joined by ``string_agg``;
Python passes the text through. Polygons are simplified for display (their legal
geometry stays untouched in the tables) and written with exterior rings
counter-clockwise (RFC 7946).
"""

# SQL is composed from constants and ORM-compiled SQL; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import EmptyResultSet
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import QueryDict

from buildings.api.filters import BuildingFilterSet, refused_filters
from buildings.models import (
    COLLECTIVITY_CODES,
    PUBLIC_STATUSES,
    Building,
    Commune,
    Department,
    Friche,
)
from buildings.reference import communes_in_areas
from buildings.selectors import building_list
from config.database.routing import reader
from maps.models import PUBLIC_SCOPE_KEY
from maps.tiles import scope_keys
from occupancy.indicators import (
    IN_FORCE_STATUSES,
    GroupBy,
    IndicatorRow,
    indicators_get,
)
from occupancy.models import LIVE_STATUSES, Agreement
from occupancy.selectors import agreement_list
from organizations.selectors import Scope

# Display simplification, in degrees, and coordinate decimals (1e-4° ≈ 10 m).
DEPARTMENT_TOLERANCE = 0.002
COMMUNE_TOLERANCE = 0.0004
AREA_PRECISION = 4
POINT_PRECISION = 6
# The heatmap reads cells of this zoom (≈ 14 km at French latitudes).
HEAT_ZOOM = 9
HEAT_MAX_POINTS = 5000


# --- Filters
@dataclass(frozen=True)
class Selection:
    """The caller's buildings narrowed by the map's side filters (the list's own)."""

    filterset: BuildingFilterSet
    queryset: QuerySet[Building]
    # Names of the filters given a value, and the values of the two the
    # cluster table answers.
    active: frozenset[str]
    departments: tuple[str, ...]
    statuses: tuple[str, ...]
    valid: bool


def _given(value: object) -> bool:
    return value not in (None, "", [], ())


def building_selection(
    *,
    scope: Scope,
    params: QueryDict,
    prepare_form: Callable[[forms.Form], object] | None = None,
) -> Selection:
    """Invalid filters select nothing (the page shows the form's errors).

    ``prepare_form`` relabels the form before validation binds its fields
    (bound fields keep the labels they had then).
    """
    filterset = BuildingFilterSet(params, queryset=building_list(scope=scope))
    if prepare_form is not None:
        prepare_form(filterset.form)
    valid = filterset.is_valid()
    # Agent-only filters: public tiles answered them (reliability.md B6).
    for name, messages in refused_filters(params, scope).items():
        filterset.form.add_error(name, messages)
        valid = False
    if not valid:
        return Selection(
            filterset, Building.objects.none(), frozenset(), (), (), valid=False
        )
    data = filterset.form.cleaned_data
    active = frozenset(name for name, value in data.items() if _given(value))
    return Selection(
        filterset=filterset,
        queryset=filterset.qs,
        active=active,
        departments=tuple(data.get("department") or ()),
        statuses=tuple(data.get("status") or ()),
        valid=True,
    )


# --- Areas (départements, communes) with their vacant stock
@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    vacant_count: int
    vacant_surface: Decimal
    feature: str  # GeoJSON Feature text


def _sql(queryset: QuerySet[Any]) -> tuple[str, list[Any]] | None:
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


def _area_rows(
    *,
    areas: QuerySet[Any],
    stock: QuerySet[Building],
    tolerance: float,
) -> list[AreaRow]:
    """``areas`` with ``code``, ``name`` and ``geometry``; ``stock`` with the area
    ``key`` and ``surface`` of each vacant building."""
    compiled_areas = _sql(areas.order_by().values("code", "name", "geometry"))
    if compiled_areas is None:
        return []
    areas_sql, areas_params = compiled_areas
    # django-stubs cannot see annotations through a QuerySet[Building] parameter.
    compiled_stock = _sql(stock.order_by().values("key", "surface"))  # type: ignore[misc]
    stock_sql, stock_params = compiled_stock or (
        "SELECT NULL::varchar, NULL::numeric WHERE false",
        [],
    )
    sql = (
        "WITH stock AS (SELECT s.key, COUNT(*) AS n, "
        "COALESCE(SUM(s.surface), 0) AS surface "
        f"FROM ({stock_sql}) AS s (key, surface) GROUP BY s.key) "
        "SELECT a.code, a.name, COALESCE(s.n, 0), COALESCE(s.surface, 0), "
        '\'{"type":"Feature","id":\' || to_json(a.code)::text '
        "|| ',\"geometry\":' || ST_AsGeoJSON(ST_Multi(ST_ForcePolygonCCW("
        "ST_SimplifyPreserveTopology(a.geometry, %s))), %s) "
        "|| ',\"properties\":' || json_build_object("
        "'code', a.code, 'name', a.name, 'vacant_count', COALESCE(s.n, 0), "
        "'vacant_surface', ROUND(COALESCE(s.surface, 0))::bigint)::text || '}' "
        f"FROM ({areas_sql}) AS a (code, name, geometry) "
        "LEFT JOIN stock AS s ON s.key = a.code ORDER BY a.code"
    )
    with reader().cursor() as cursor:
        cursor.execute(sql, [*stock_params, tolerance, AREA_PRECISION, *areas_params])
        return [AreaRow(*row) for row in cursor.fetchall()]


def _vacant(buildings: QuerySet[Building]) -> QuerySet[Building]:
    return buildings.filter(status__in=PUBLIC_STATUSES)


def department_areas(*, scope: Scope, buildings: QuerySet[Building]) -> list[AreaRow]:
    """The territory's départements with the vacant stock of ``buildings``."""
    areas = Department.objects.filter(geometry__isnull=False)
    if scope.is_state_agent and scope.departments is not None:
        areas = areas.filter(code__in=scope.departments)
    stock = _vacant(buildings).annotate(key=F("department_id"), surface=F("surface_m2"))
    return _area_rows(areas=areas, stock=stock, tolerance=DEPARTMENT_TOLERANCE)


def _communes(scope: Scope, departments: Sequence[str]) -> QuerySet[Commune]:
    communes = Commune.objects.filter(geometry__isnull=False)
    if scope.is_state_agent and scope.departments is not None:
        communes = communes.filter(department_id__in=scope.departments)
    if departments:
        communes = communes.filter(communes_in_areas(departments))
    return communes


def commune_count(*, scope: Scope, departments: Sequence[str]) -> int:
    return _communes(scope, departments).filter(arrondissement_of__isnull=True).count()


def commune_areas(
    *, scope: Scope, buildings: QuerySet[Building], departments: Sequence[str]
) -> list[AreaRow]:
    """Communes with a boundary; a building of a municipal arrondissement counts
    in its commune (Paris, Lyon, Marseille)."""
    areas = _communes(scope, departments).filter(arrondissement_of__isnull=True)
    stock = _vacant(buildings).annotate(
        key=Coalesce("commune__arrondissement_of_id", "commune_id"),
        surface=F("surface_m2"),
    )
    return _area_rows(areas=areas, stock=stock, tolerance=COMMUNE_TOLERANCE)


def arrondissement_areas(
    *, scope: Scope, buildings: QuerySet[Building], departments: Sequence[str]
) -> list[AreaRow]:
    """Municipal arrondissements that have a boundary loaded."""
    areas = _communes(scope, departments).filter(arrondissement_of__isnull=False)
    stock = _vacant(buildings).annotate(key=F("commune_id"), surface=F("surface_m2"))
    return _area_rows(areas=areas, stock=stock, tolerance=COMMUNE_TOLERANCE)


# --- Points
def friche_list(*, scope: Scope, departments: Sequence[str] = ()) -> QuerySet[Friche]:
    """Cartofriches sites of the caller's territory (all of them for the public:
    they are open data)."""
    friches = Friche.objects.all()
    if scope.is_state_agent and scope.departments is not None:
        friches = friches.filter(dep__in=scope.departments)
    if departments:
        friches = friches.filter(dep__in=departments)
    return friches


@dataclass(frozen=True)
class PointFeatures:
    features: str  # Feature texts joined by commas
    count: int  # how many features; ``limit + 1`` means "more than the limit"


def point_features(
    queryset: QuerySet[Any], *, properties: dict[str, str], limit: int
) -> PointFeatures:
    """Up to ``limit`` point Features of ``queryset`` (a ``point`` field), with
    ``properties`` (name in the feature → field), in one statement."""
    names = list(properties)
    compiled = _sql(
        queryset.order_by("pk").values("pk", *properties.values(), "point")[: limit + 1]
    )
    if compiled is None:
        return PointFeatures("", 0)
    rows_sql, params = compiled
    columns = ", ".join(f"r.{name}" for name in names)
    sql = (
        "SELECT COUNT(*), COALESCE(string_agg("
        '\'{"type":"Feature","id":\' || r.pk || \',"geometry":\' '
        f"|| ST_AsGeoJSON(r.point, {POINT_PRECISION}) || ',\"properties\":' "
        f"|| (SELECT row_to_json(p) FROM (SELECT {columns}) AS p)::text || '}}', "
        "',' ORDER BY r._n) FILTER (WHERE r._n <= %s), '') "
        "FROM (SELECT i.*, row_number() OVER (ORDER BY i.pk) AS _n "
        f"FROM ({rows_sql}) AS i (pk, {', '.join(names)}, point) "
        "WHERE i.point IS NOT NULL) AS r"
    )
    with reader().cursor() as cursor:
        cursor.execute(sql, [limit, *params])
        count, features = cursor.fetchone()
    return PointFeatures(features, count)


# --- Heat and extent
def vacancy_heat(
    *, scope: Scope, departments: Sequence[str] = (), statuses: Sequence[str] = ()
) -> list[tuple[float, float, int]]:
    """(lat, lon, vacant buildings) per cell of zoom HEAT_ZOOM, from the cluster
    table: the heatmap never reads building rows."""
    vacant = {str(status) for status in PUBLIC_STATUSES}
    if statuses:
        vacant &= set(statuses)
    if not vacant:
        return []
    conditions = ["zoom = %s", "status = ANY(%s)"]
    params: list[Any] = [HEAT_ZOOM, sorted(vacant)]
    keys = scope_keys(scope, departments if scope.is_state_agent else None)
    if keys is None:
        conditions.append("scope <> %s")
        params.append(PUBLIC_SCOPE_KEY)
    else:
        conditions.append("scope = ANY(%s)")
        params.append(sorted(keys))
    sql = (
        "SELECT ROUND(ST_Y(c)::numeric, 5)::float, "
        "ROUND(ST_X(c)::numeric, 5)::float, n "
        "FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
        "SUM(sum_x) / SUM(count), SUM(sum_y) / SUM(count)), 3857), 4326) AS c, "
        "SUM(count)::integer AS n FROM maps_buildingcluster "
        f"WHERE {' AND '.join(conditions)} GROUP BY x, y) AS cells "
        "ORDER BY n DESC, 1, 2 LIMIT %s"
    )
    with reader().cursor() as cursor:
        cursor.execute(sql, [*params, HEAT_MAX_POINTS])
        return [(lat, lon, n) for lat, lon, n in cursor.fetchall()]


def territory_bounds(
    *, scope: Scope, departments: Sequence[str] = ()
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """((south, west), (north, east)) of the départements in view; None for the
    whole country (the map opens on metropolitan France)."""
    codes: set[str] | None = set(departments) if departments else None
    if scope.is_state_agent and scope.departments is not None:
        codes = set(scope.departments) & codes if codes else set(scope.departments)
    if not codes:
        return None
    areas = "SELECT geometry FROM buildings_department WHERE code = ANY(%s)"
    params: list[Any] = [sorted(codes)]
    collectivities = sorted(COLLECTIVITY_CODES & codes)
    if collectivities:
        # A collectivité d'outre-mer (977…) has no département: its communes'.
        areas += " UNION ALL SELECT geometry FROM buildings_commune WHERE "
        areas += " OR ".join(["code LIKE %s"] * len(collectivities))
        params += [f"{code}%" for code in collectivities]
    with reader().cursor() as cursor:
        cursor.execute(
            "SELECT ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e) FROM ("
            f"SELECT ST_Extent(a.geometry) AS e FROM ({areas}) AS a) AS x",
            params,
        )
        south, west, north, east = cursor.fetchone()
    if south is None:
        return None
    return ((south, west), (north, east))


# --- Occupancy
def occupied_sites(
    *, scope: Scope, start: date, end: date
) -> tuple[QuerySet[Building], dict[int, IndicatorRow]]:
    """Buildings under an agreement in force or about to be, on ``[start, end)``,
    with their site-level indicators (small cells withheld for the caller)."""
    agreements: QuerySet[Agreement] = agreement_list(scope=scope).filter(
        Q(status__in=IN_FORCE_STATUSES) | Q(status__in=LIVE_STATUSES),
        period__overlap=DateRange(start, end),
    )
    report = indicators_get(
        agreements=agreements,
        start=start,
        end=end,
        for_scope=scope,
        group_by=GroupBy.SITE,
    )
    rows = {int(row.group): row for row in report.rows if row.group}
    buildings = Building.objects.filter(
        pk__in=agreements.values("building_id"), point__isnull=False
    )
    return buildings, rows
