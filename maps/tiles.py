"""Mapbox vector tiles of the inventory and of Cartofriches: one ST_AsMVT per tile.

Each layer is a declaration (``VectorLayer``) whose ``sql`` wraps a queryset the ORM
compiled — scoped by the caller and narrowed by the shared BuildingFilterSet, as in
the API — in a single statement that PostGIS turns into the tile's bytes
(performance.md §5.3). Points are filtered on their GiST index by the tile's
envelope, transformed to EPSG:4326 once, and only the survivors are projected.

Zooms 0–11 draw clusters read from maps.models.BuildingCluster (a few rows per
tile) instead of raw points: tens of thousands of points per low-zoom tile cost
0.2–1.4 s and 5–23 MB. The table answers the territory (scope key), the
département filter and the status filter; any other filter (surface, ERP,
suitability, dates, text, commune…) is a selection the table cannot know, and
those tiles aggregate the filtered rows of the tile on the fly, with the very
same cells, so that both paths draw identical clusters.
"""

# SQL is composed from constants and ORM-compiled SQL; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from buildings.geojson import serial_plans
from buildings.models import COLLECTIVITY_CODES, PUBLIC_STATUSES, Building, Friche
from buildings.selectors import building_list
from config.database.routing import reader
from maps.models import CELLS_PER_TILE, CLUSTER_MAX_ZOOM, PUBLIC_SCOPE_KEY
from organizations.selectors import Scope

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 20
# Below this zoom the Cartofriches layer is empty: 23,878 raw points over France
# are noise at country scale, and the layer has no cluster table of its own.
FRICHE_MIN_ZOOM = 8
# Filters the cluster table answers (its keys); any other one aggregates on the fly.
CLUSTERED_FILTERS = frozenset({"status", "department"})
VACANT = [str(status) for status in PUBLIC_STATUSES]


class TileOutOfRange(ValueError):
    """z/x/y names no tile of the Web Mercator pyramid."""


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        side = 1 << self.z if 0 <= self.z <= MAX_ZOOM else 0
        if not (0 <= self.x < side and 0 <= self.y < side):
            raise TileOutOfRange(f"{self.z}/{self.x}/{self.y}")

    @property
    def envelope(self) -> tuple[str, list[int]]:
        return "ST_TileEnvelope(%s, %s, %s)", [self.z, self.x, self.y]


def _compiled(queryset: QuerySet[Any], *fields: str) -> tuple[str, list[Any]] | None:
    """The queryset's SQL selecting ``fields``; None when it matches nothing."""
    try:
        sql, params = queryset.order_by().values(*fields).query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


class VectorLayer:
    """One layer of a tile: its name in the tile and the SQL that writes it."""

    name: ClassVar[str]
    min_zoom: ClassVar[int] = 0
    max_zoom: ClassVar[int] = MAX_ZOOM

    def serves(self, tile: TileAddress) -> bool:
        return self.min_zoom <= tile.z <= self.max_zoom


POINT_FIELDS = ("id", "status", "designation", "city", "surface_m2")


@dataclass(frozen=True)
class BuildingPoints(VectorLayer):
    """Buildings as points with the attributes a popup shows (z ≥ 12).

    The id is both the MVT feature id and an attribute: Leaflet.VectorGrid hands
    click handlers the attributes only. ``rows`` is the selection's SQL with its
    parameters (POINT_FIELDS, ``is_confidential`` for agents, then the point),
    None when it selects nothing: compiled once, so that it can be kept.
    """

    name: ClassVar[str] = "buildings"
    min_zoom: ClassVar[int] = CLUSTER_MAX_ZOOM + 1
    rows: tuple[str, tuple[Any, ...]] | None
    with_agent_fields: bool

    @classmethod
    def of(
        cls, queryset: QuerySet[Building], *, with_agent_fields: bool
    ) -> BuildingPoints:
        fields = POINT_FIELDS + (("is_confidential",) if with_agent_fields else ())
        compiled = _compiled(queryset, *fields, "point")
        rows = None if compiled is None else (compiled[0], tuple(compiled[1]))
        return cls(rows, with_agent_fields)

    def sql(self, tile: TileAddress) -> tuple[str, list[Any]] | None:
        if self.rows is None:
            return None
        rows, params = self.rows
        fields = POINT_FIELDS + (("is_confidential",) if self.with_agent_fields else ())
        extra = ", b.is_confidential AS confidential" if self.with_agent_fields else ""
        envelope, address = tile.envelope
        # Integers rather than numerics in the tile (performance.md §5.3).
        return (
            f"SELECT ST_AsMVT(t, '{self.name}', {EXTENT}, 'geom', 'fid') FROM ("
            "SELECT b.id AS fid, b.id, b.status, b.designation, b.city, "
            f"round(b.surface_m2)::integer AS surface{extra}, "
            f"ST_AsMVTGeom(ST_Transform(b.point, 3857), {envelope}, "
            f"{EXTENT}, {BUFFER}, true) AS geom "
            f"FROM ({rows}) AS b ({', '.join(fields)}, point) "
            "WHERE b.point && ST_Transform("
            "ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)"
            ") AS t",
            [*address, *params, *address, BUFFER / EXTENT],
        )


@dataclass(frozen=True)
class BuildingClusters(VectorLayer):
    """Clusters from the pre-aggregated table: no building row is read."""

    name: ClassVar[str] = "clusters"
    max_zoom: ClassVar[int] = CLUSTER_MAX_ZOOM
    # None: every agent key (a national service); else these keys only.
    scope_keys: frozenset[str] | None
    statuses: frozenset[str] | None = None

    def sql(self, tile: TileAddress) -> tuple[str, list[Any]] | None:
        if self.scope_keys is not None and not self.scope_keys:
            return None
        first_x, first_y = tile.x * CELLS_PER_TILE, tile.y * CELLS_PER_TILE
        conditions = [
            "zoom = %s",
            "x BETWEEN %s AND %s",
            "y BETWEEN %s AND %s",
        ]
        params: list[Any] = [
            tile.z,
            first_x,
            first_x + CELLS_PER_TILE - 1,
            first_y,
            first_y + CELLS_PER_TILE - 1,
        ]
        if self.scope_keys is None:
            conditions.append("scope <> %s")
            params.append(PUBLIC_SCOPE_KEY)
        else:
            conditions.append("scope = ANY(%s)")
            params.append(sorted(self.scope_keys))
        if self.statuses is not None:
            conditions.append("status = ANY(%s)")
            params.append(sorted(self.statuses))
        envelope, address = tile.envelope
        return (
            f"SELECT ST_AsMVT(t, '{self.name}', {EXTENT}, 'geom') FROM ("
            "SELECT SUM(count)::integer AS count, "
            "COALESCE(SUM(count) FILTER (WHERE status = ANY(%s)), 0)::integer "
            "AS vacant, "
            "ST_AsMVTGeom(ST_SetSRID(ST_MakePoint("
            "SUM(sum_x) / SUM(count), SUM(sum_y) / SUM(count)), 3857), "
            f"{envelope}, {EXTENT}, {BUFFER}, true) AS geom "
            "FROM maps_buildingcluster "
            f"WHERE {' AND '.join(conditions)} "
            "GROUP BY x, y"
            ") AS t",
            [VACANT, *address, *params],
        )


@dataclass(frozen=True)
class FilteredClusters(VectorLayer):
    """The same cells, aggregated from a selection the cluster table cannot know."""

    name: ClassVar[str] = "clusters"
    max_zoom: ClassVar[int] = CLUSTER_MAX_ZOOM
    queryset: QuerySet[Building]

    def sql(self, tile: TileAddress) -> tuple[str, list[Any]] | None:
        compiled = _compiled(self.queryset, "status", "point")
        if compiled is None:
            return None
        rows, params = compiled
        envelope, address = tile.envelope
        return (
            f"SELECT ST_AsMVT(t, '{self.name}', {EXTENT}, 'geom') FROM ("
            "SELECT COUNT(*)::integer AS count, "
            "COUNT(*) FILTER (WHERE s.status = ANY(%s))::integer AS vacant, "
            "ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(AVG(s.mx), AVG(s.my)), 3857), "
            f"{envelope}, {EXTENT}, {BUFFER}, true) AS geom "
            "FROM (SELECT b.status, ST_X(m) AS mx, ST_Y(m) AS my "
            f"FROM ({rows}) AS b (status, point) "
            "CROSS JOIN LATERAL ST_Transform(b.point, 3857) AS m "
            f"WHERE b.point && ST_Transform({envelope}, 4326)) AS s "
            "GROUP BY maps_cell(s.mx, %s), maps_cell(-s.my, %s)"
            ") AS t",
            [VACANT, *address, *params, *address, tile.z, tile.z],
        )


@dataclass(frozen=True)
class FrichePoints(VectorLayer):
    """Cartofriches sites (open data: the same tile for everyone)."""

    name: ClassVar[str] = "friches"
    min_zoom: ClassVar[int] = FRICHE_MIN_ZOOM
    queryset: QuerySet[Friche]

    def sql(self, tile: TileAddress) -> tuple[str, list[Any]] | None:
        compiled = _compiled(
            self.queryset, "id", "site_nom", "site_statut", "site_type", "point"
        )
        if compiled is None:
            return None
        rows, params = compiled
        envelope, address = tile.envelope
        return (
            f"SELECT ST_AsMVT(t, '{self.name}', {EXTENT}, 'geom', 'fid') FROM ("
            "SELECT f.id AS fid, f.id, f.site_nom AS name, f.site_statut AS status, "
            "f.site_type AS kind, "
            f"ST_AsMVTGeom(ST_Transform(f.point, 3857), {envelope}, "
            f"{EXTENT}, {BUFFER}, true) AS geom "
            f"FROM ({rows}) AS f (id, site_nom, site_statut, site_type, point) "
            "WHERE f.point && ST_Transform("
            "ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)"
            ") AS t",
            [*address, *params, *address, BUFFER / EXTENT],
        )


def scope_keys(
    scope: Scope, departments: Sequence[str] | None
) -> frozenset[str] | None:
    """The cluster-table keys a caller reads, narrowed by a département filter."""
    if not scope.is_state_agent:
        return frozenset({PUBLIC_SCOPE_KEY})
    keys = scope.departments
    if departments:
        return (
            frozenset(departments) & keys
            if keys is not None
            else frozenset(departments)
        )
    return keys


def building_layer(
    *,
    scope: Scope,
    tile: TileAddress,
    queryset: QuerySet[Building],
    active_filters: frozenset[str],
    departments: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
) -> BuildingPoints | BuildingClusters | FilteredClusters:
    """Which declaration draws this tile of the building layer.

    ``queryset`` is the caller's scoped, filtered selection; ``active_filters``
    names the filters it applies, with the values of the two the table answers.
    """
    if tile.z > CLUSTER_MAX_ZOOM:
        return BuildingPoints.of(queryset, with_agent_fields=scope.is_state_agent)
    clustered = active_filters <= CLUSTERED_FILTERS
    if not scope.is_state_agent and "department" in active_filters:
        # Public rows of the table carry no département.
        clustered = False
    if COLLECTIVITY_CODES.intersection(departments or ()):
        # Nor do the buildings of Saint-Barthélemy, Saint-Martin and
        # Saint-Pierre-et-Miquelon, found by their commune code.
        clustered = False
    if not clustered:
        return FilteredClusters(queryset)
    return BuildingClusters(
        scope_keys(scope, departments if "department" in active_filters else None),
        statuses=frozenset(statuses or ()) if "status" in active_filters else None,
    )


@lru_cache(maxsize=1024)
def _scope_points(scope: Scope) -> BuildingPoints:
    # Building the filter set and compiling the ORM's SQL took 2–3 ms a tile, as
    # long as the z14 statement itself (bench/maps.py); a caller's unfiltered
    # selection is the same SQL for as long as its scope is the same.
    return BuildingPoints.of(
        building_list(scope=scope), with_agent_fields=scope.is_state_agent
    )


def unfiltered_layer(
    *, scope: Scope, tile: TileAddress
) -> BuildingPoints | BuildingClusters:
    """``building_layer`` for a caller's whole selection (no filter given): the
    public map's tiles, and the inventory map's until a filter is set."""
    if tile.z > CLUSTER_MAX_ZOOM:
        return _scope_points(scope)
    return BuildingClusters(scope_keys(scope, None))


def render_tile(
    layer: BuildingPoints | BuildingClusters | FilteredClusters | FrichePoints,
    tile: TileAddress,
) -> bytes:
    """The tile's bytes (b"" when it holds nothing), from one statement.

    Serial plans (``serial_plans``: the web connections' own setting, else a
    transaction with ``SET LOCAL``): a tile query on a parallel plan would take
    both cores of the box (performance.md §4.2).
    """
    if not layer.serves(tile):
        return b""
    statement = layer.sql(tile)
    if statement is None:
        return b""
    sql, params = statement
    with serial_plans(), reader().cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
