"""Reads behind /ogc/: feature pages, single features and extents, written by
PostGIS as GeoJSON text.

Buildings go through the same machinery as the buildings API
(``building_list(scope=PUBLIC_SCOPE)``, buildings.geojson.feature_page, the
signed keyset cursors of buildings.api.pagination): the collection is the public
scope of that API, less the buildings without a location. Those are no features
of a spatial collection: Requirement 23 C would make every bbox match every one of
them (about half the rows of the DIE file have no coordinates), and finding null
points takes a full scan of the GiST index (7 ms on 200k rows, twice a page:
count and rows). They stay in the layers' counts and in the CNIG export.
Départements and communes are one SQL statement per page: the page of polygons
first, then the public buildings of those codes only, grouped by code and joined
back to the geometry.
"""

# Identifiers come from the model metadata and the declarations of
# buildings/ogc/collections.py; every value travels as a query parameter.
# ruff: noqa: S608

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.gis.geos import Polygon
from django.core import signing
from django.core.cache import cache
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from buildings.api.pagination import Cursor, Ordering, after, cursor_decode
from buildings.api.pagination import cursor_encode as building_cursor_encode
from buildings.geojson import (
    PRECISION,
    GeometryKind,
    feature_page,
    properties_for,
    read_text_as_bytes,
    serial_plans,
)
from buildings.models import COLLECTIVITY_CODES, Building, Commune, Department
from buildings.ogc.collections import BUILDINGS, COMMUNES, DEPARTEMENTS, Collection
from buildings.ogc.params import Interval, InvalidParameter, ItemsQuery
from buildings.reference import in_areas, in_communes
from buildings.selectors import building_list
from config.database.routing import reader
from organizations.selectors import PUBLIC_SCOPE

_BY_ID = Ordering("id")
_LAYER_SALT = "buildings.ogc.layer-cursor"
# Buildings' queryables that are foreign keys, filtered on the stored code.
_BUILDING_COLUMNS = {"department": "department_id", "commune": "commune_id"}


@dataclass(frozen=True)
class Page:
    features: bytes  # Feature texts joined by commas, in output order (UTF-8)
    returned: int
    # Exact (/req/core/fc-numberMatched), or None above the count cap, where
    # Requirement 30 B lets the server omit it rather than estimate.
    matched: int | None
    next_cursor: str | None
    prev_cursor: str | None


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None
    # None: no feature has a temporal geometry; else (start, end), None = open.
    interval: tuple[date | None, date | None] | None


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _invalid_cursor() -> InvalidParameter:
    return InvalidParameter("cursor", _("This cursor is invalid or expired."))


def _page_cursors(
    *,
    head: Any,
    tail: Any,
    more: bool,
    cursor_backwards: bool | None,
    encode: Callable[[Any, bool], str],
) -> tuple[str | None, str | None]:
    """Next and prev cursors of a keyset page (as buildings.api.pagination's
    page_links). ``cursor_backwards`` is None on a first page. Reading forwards,
    there is a previous page whenever the page came from a cursor; reading
    backwards, there is always a next one (the page the reader came from)."""
    if head is None or tail is None:
        return None, None
    backwards = bool(cursor_backwards)
    first, last = (tail, head) if backwards else (head, tail)
    next_cursor = encode(last, False) if more or backwards else None
    prev_cursor = (
        encode(first, True)
        if cursor_backwards is not None and (more or not backwards)
        else None
    )
    return next_cursor, prev_cursor


# --- Buildings
def _box(box: tuple[float, float, float, float]) -> Polygon:
    polygon = Polygon.from_bbox(box)
    polygon.srid = 4326
    return polygon


def _during(interval: Interval) -> Q:
    """Buildings whose vacancy period [vacancy_since, next_use_date] (days
    included, an unknown date an open end) intersects ``interval``; one with
    neither date has no temporal geometry and matches any interval
    (Requirement 25 A and C)."""
    condition = Q()
    if interval.end is not None:
        condition &= Q(vacancy_since__isnull=True) | Q(vacancy_since__lte=interval.end)
    if interval.start is not None:
        condition &= Q(next_use_date__isnull=True) | Q(
            next_use_date__gte=interval.start
        )
    return condition


def public_stock() -> QuerySet[Building]:
    """Every building the public may see (the buildings API's public scope)."""
    return building_list(scope=PUBLIC_SCOPE)


@functools.cache
def _located_public_stock() -> QuerySet[Building]:
    # Built once per process: the public scope is a constant, and composing its
    # filters costs as much Python as a small page's whole statement. Only ever
    # cloned (filter, order_by…), never evaluated, so it caches no rows.
    return public_stock().filter(point__isnull=False)


def public_buildings(*, query: ItemsQuery | None = None) -> QuerySet[Building]:
    """The buildings collection: the located public stock, narrowed by the
    items parameters."""
    selection = _located_public_stock().all()
    if query is None:
        return selection
    if query.boxes:
        # && on the GiST index, then the exact test (edges included).
        polygons = [_box(box) for box in query.boxes]
        inside = functools.reduce(
            operator.or_,
            (Q(point__bboverlaps=p, point__intersects=p) for p in polygons),
        )
        selection = selection.filter(inside)
    if query.interval is not None:
        selection = selection.filter(_during(query.interval))
    for name, value in query.filters.items():
        column = _BUILDING_COLUMNS.get(name, name)
        if isinstance(value, bool):
            selection = selection.filter(**{column: value})
        elif name == "commune":
            # As the communes collection counts them: a city's municipal
            # arrondissements (Marseille 13201…) are the city (13055).
            selection = selection.filter(in_communes(value))
        elif name == "department":
            # Saint-Barthélemy (977) and the other collectivités d'outre-mer
            # have no département: their buildings are found by commune code.
            selection = selection.filter(in_areas(value))
        else:
            selection = selection.filter(**{f"{column}__in": value})
    return selection


def _building_cursor(token: str | None) -> Cursor | None:
    if token is None:
        return None
    try:
        return cursor_decode(token, ordering=_BY_ID)
    except ValidationError:
        raise _invalid_cursor() from None


def building_page(*, query: ItemsQuery, count_cap: int) -> Page:
    cursor = _building_cursor(query.cursor)
    backwards = cursor is not None and cursor.backwards
    keys = _BY_ID.sort_keys(backwards=backwards)
    selection = public_buildings(query=query)
    # A first page passes the selection itself as its rows: feature_page then
    # takes the count from the page when the page holds the whole selection.
    rows = selection.filter(after(keys, cursor.key)) if cursor else selection
    with serial_plans():
        page = feature_page(
            rows,
            matched_of=selection,
            properties=properties_for(PUBLIC_SCOPE),
            geometry=GeometryKind.POINT,
            sort=keys,
            limit=query.limit,
            reverse_output=backwards,
            count_cap=count_cap,
        )
    next_cursor, prev_cursor = _page_cursors(
        head=page.head,
        tail=page.tail,
        more=page.more,
        cursor_backwards=None if cursor is None else cursor.backwards,
        encode=lambda key, back: building_cursor_encode(
            Cursor(_BY_ID, key, backwards=back)
        ),
    )
    return Page(
        features=page.features,
        returned=page.returned,
        matched=page.matched if page.matched <= count_cap else None,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
    )


def building_feature(*, feature_id: str) -> bytes | None:
    # Canonical ids only: "01" named building 1 under another URL.
    if not (feature_id.isascii() and feature_id.isdigit()) or len(feature_id) > 18:
        return None
    if feature_id != str(int(feature_id)):
        return None
    selection = public_buildings().filter(pk=int(feature_id))
    with serial_plans():
        page = feature_page(
            selection,
            matched_of=selection,
            properties=properties_for(PUBLIC_SCOPE),
            geometry=GeometryKind.POINT,
            sort=_BY_ID.sort_keys(),
            limit=1,
            count_cap=1,
        )
    return page.features or None


def _buildings_extent() -> Extent:
    sql, params = (
        public_buildings()
        .order_by()
        .values("point", "vacancy_since", "next_use_date")
        .query.sql_with_params()
    )
    with reader().cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(x.e), ST_YMin(x.e), ST_XMax(x.e), ST_YMax(x.e), "
            "x.first_day, x.last_day, x.open_start, x.open_end, x.dated FROM ("
            "SELECT ST_Extent(b.point) AS e, min(b.vacancy_since) AS first_day, "
            "max(b.next_use_date) AS last_day, "
            "bool_or(b.vacancy_since IS NULL AND b.next_use_date IS NOT NULL) "
            "AS open_start, "
            "bool_or(b.next_use_date IS NULL AND b.vacancy_since IS NOT NULL) "
            "AS open_end, "
            "bool_or(b.vacancy_since IS NOT NULL OR b.next_use_date IS NOT NULL) "
            f"AS dated FROM ({sql}) AS b (point, vacancy_since, next_use_date)) AS x",
            params,
        )
        xmin, ymin, xmax, ymax, first, last, open_start, open_end, dated = (
            cursor.fetchone()
        )
    # Requirement 16: the interval includes every temporal geometry; an open one
    # opens the extent on that side.
    interval = (None if open_start else first, None if open_end else last)
    return Extent(
        bbox=None if xmin is None else (xmin, ymin, xmax, ymax),
        interval=interval if dated else None,
    )


# --- Départements and communes
@dataclass(frozen=True)
class _Layer:
    model: type[Model]
    extra: str  # column exposed as the third property (region, department)
    building_key: str  # Building column holding this layer's code
    # Municipal arrondissements (Paris, Lyon, Marseille) count in their commune.
    rolls_up: bool
    filter_columns: dict[str, str]


_LAYERS: dict[str, _Layer] = {
    DEPARTEMENTS.id: _Layer(
        model=Department,
        extra="region_id",
        building_key="department_id",
        rolls_up=False,
        filter_columns={"code": "code", "region": "region_id"},
    ),
    COMMUNES.id: _Layer(
        model=Commune,
        extra="department_id",
        building_key="commune_id",
        rolls_up=True,
        filter_columns={"code": "code", "department": "department_id"},
    ),
}


def _layer_where(
    layer: _Layer, query: ItemsQuery, code: str | None = None
) -> tuple[str, list[Any]]:
    """WHERE of a layer's selection (alias ``l``): only features with a
    boundary, narrowed by the queryables and the bbox. datetime selects every
    feature: they have no temporal geometry (Requirement 25 C)."""
    clauses = ["l.geometry IS NOT NULL"]
    params: list[Any] = []
    if code is not None:
        clauses.append("l.code = %s")
        params.append(code)
    for name, values in query.filters.items():
        column = f"l.{_quote(layer.filter_columns[name])}"
        listed = list(values) if not isinstance(values, bool) else [values]
        collectivities = sorted(COLLECTIVITY_CODES.intersection(listed))
        if name == "department" and collectivities:
            # Their communes have no département (buildings.reference).
            clauses.append(f"({column} = ANY(%s) OR left(l.code, 3) = ANY(%s))")
            params.extend([listed, collectivities])
        else:
            clauses.append(f"{column} = ANY(%s)")
            params.append(listed)
    if query.boxes:
        envelope = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
        clauses.append(
            "("
            + " OR ".join(
                f"(l.geometry && {envelope} AND ST_Intersects(l.geometry, {envelope}))"
                for _box in query.boxes
            )
            + ")"
        )
        for box in query.boxes:
            params.extend([*box, *box])
    return " AND ".join(clauses), params


def _decode_layer_cursor(collection: Collection, token: str | None) -> Any:
    if token is None:
        return None
    try:
        payload = signing.loads(token, salt=f"{_LAYER_SALT}:{collection.id}")
    except signing.BadSignature:
        raise _invalid_cursor() from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("k"), str)
        or not isinstance(payload.get("b"), bool)
    ):
        raise _invalid_cursor()
    return payload


def _layer_statement(
    collection: Collection,
    query: ItemsQuery,
    *,
    limit: int,
    count_cap: int,
    code: str | None = None,
    after_code: str | None = None,
    backwards: bool = False,
) -> tuple[str, list[Any]]:
    layer = _LAYERS[collection.id]
    table = _quote(layer.model._meta.db_table)
    where, where_params = _layer_where(layer, query, code)
    keyset = ""
    keyset_params: list[Any] = []
    if after_code is not None:
        keyset = f" AND l.code {'<' if backwards else '>'} %s"
        keyset_params = [after_code]
    travel = "DESC" if backwards else "ASC"
    public_sql, public_params = (
        public_stock()
        .order_by()
        .values(layer.building_key, "surface_m2")
        .query.sql_with_params()
    )
    communes = _quote(Commune._meta.db_table)
    if layer.rolls_up:
        counted = (
            "SELECT coalesce(c.arrondissement_of_id, c.code) AS code, "
            "count(*) AS n, sum(b.surface) AS s "
            f"FROM ({public_sql}) AS b (key, surface) "
            f"JOIN {communes} AS c ON c.code = b.key "
            "WHERE b.key IN (SELECT code FROM page UNION ALL SELECT a.code FROM "
            f"{communes} AS a WHERE a.arrondissement_of_id IN (SELECT code FROM page)) "
            "GROUP BY 1"
        )
    else:
        counted = (
            f"SELECT b.key AS code, count(*) AS n, sum(b.surface) AS s "
            f"FROM ({public_sql}) AS b (key, surface) "
            "WHERE b.key IN (SELECT code FROM page) GROUP BY b.key"
        )
    extra_property = collection.properties[2]
    feature = (
        '\'{"type":"Feature","id":\' || to_json(w.code)::text'
        " || ',\"geometry\":' || "
        f"ST_AsGeoJSON(ST_ForcePolygonCCW(w.geometry), {PRECISION}, 0)"
        # Properties as a sub-row, so that row_to_json names them (compact text).
        " || ',\"properties\":' || (SELECT row_to_json(p) FROM (SELECT w.code, "
        f"w.name, w.extra AS {_quote(extra_property)}, "
        "coalesce(w.n, 0) AS vacant_buildings, "
        "coalesce(w.s, 0) AS vacant_surface_m2) AS p)::text || '}'"
    )
    sql = (
        f"WITH page AS (SELECT l.code, l.name, l.{_quote(layer.extra)} AS extra, "
        f"l.geometry FROM {table} AS l WHERE {where}{keyset} "
        f"ORDER BY l.code {travel} LIMIT %s), "
        f"counts AS ({counted}), "
        "w AS (SELECT page.*, counts.n, counts.s, "
        f"row_number() OVER (ORDER BY page.code {travel}) AS rn "
        "FROM page LEFT JOIN counts ON counts.code = page.code) "
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {table} AS l WHERE {where} "
        "LIMIT %s) AS c), count(w.code), "
        f"coalesce(string_agg({feature}, ',' ORDER BY w.rn "
        f"{'DESC' if backwards else 'ASC'}) FILTER (WHERE w.rn <= %s), ''), "
        "(array_agg(w.code ORDER BY w.rn))[1], "
        "(array_agg(w.code ORDER BY w.rn DESC) FILTER (WHERE w.rn <= %s))[1] "
        "FROM w"
    )
    params = [
        *where_params,
        *keyset_params,
        limit + 1,
        *public_params,
        *where_params,
        count_cap + 1,
        limit,
        limit,
    ]
    return sql, params


def layer_page(*, collection: Collection, query: ItemsQuery, count_cap: int) -> Page:
    payload = _decode_layer_cursor(collection, query.cursor)
    backwards = bool(payload and payload["b"])
    sql, params = _layer_statement(
        collection,
        query,
        limit=query.limit,
        count_cap=count_cap,
        after_code=payload["k"] if payload else None,
        backwards=backwards,
    )
    with serial_plans(), reader().cursor() as cursor:
        read_text_as_bytes(cursor)
        cursor.execute(sql, params)
        matched, fetched, features, head, tail = cursor.fetchone()
    salt = f"{_LAYER_SALT}:{collection.id}"
    next_cursor, prev_cursor = _page_cursors(
        head=head if fetched else None,
        tail=tail if fetched else None,
        more=fetched > query.limit,
        cursor_backwards=None if payload is None else backwards,
        encode=lambda key, back: signing.dumps({"k": key, "b": back}, salt=salt),
    )
    return Page(
        features=features,
        returned=min(fetched, query.limit),
        matched=matched if matched <= count_cap else None,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
    )


def layer_feature(*, collection: Collection, feature_id: str) -> bytes | None:
    if len(feature_id) > 5:
        return None
    sql, params = _layer_statement(
        collection, ItemsQuery(), limit=1, count_cap=1, code=feature_id
    )
    with serial_plans(), reader().cursor() as cursor:
        read_text_as_bytes(cursor)
        cursor.execute(sql, params)
        features: bytes = cursor.fetchone()[2]
    return features or None


def _layer_extent(collection: Collection) -> Extent:
    table = _quote(_LAYERS[collection.id].model._meta.db_table)
    with reader().cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(x.e), ST_YMin(x.e), ST_XMax(x.e), ST_YMax(x.e) FROM "
            f"(SELECT ST_Extent(l.geometry) AS e FROM {table} AS l "
            "WHERE l.geometry IS NOT NULL) AS x"
        )
        xmin, ymin, xmax, ymax = cursor.fetchone()
    return Extent(
        bbox=None if xmin is None else (xmin, ymin, xmax, ymax), interval=None
    )


# --- Per collection
def items_page(*, collection: Collection, query: ItemsQuery, count_cap: int) -> Page:
    if collection is BUILDINGS:
        return building_page(query=query, count_cap=count_cap)
    return layer_page(collection=collection, query=query, count_cap=count_cap)


def feature_text(*, collection: Collection, feature_id: str) -> bytes | None:
    """One Feature's GeoJSON text, or None when the collection has no such one."""
    if collection is BUILDINGS:
        return building_feature(feature_id=feature_id)
    return layer_feature(collection=collection, feature_id=feature_id)


# Extents scan a whole collection (ST_Extent over the public stock: tens of ms
# on 200k buildings) and change only with an import or a status change; every
# /collections request would otherwise pay it, three times.
EXTENT_CACHE_SECONDS = 300


def collection_extent(*, collection: Collection) -> Extent:
    """Requirement 16: bounding boxes and intervals that include every
    geometry, computed from the data (CRS84: storage is lon/lat EPSG:4326), at
    most EXTENT_CACHE_SECONDS old."""
    key = f"ogc:extent:{collection.id}"
    extent: Extent | None = cache.get(key)
    if extent is None:
        if collection is BUILDINGS:
            extent = _buildings_extent()
        else:
            extent = _layer_extent(collection)
        cache.set(key, extent, EXTENT_CACHE_SECONDS)
    return extent


def collection_extents(*, collections: Sequence[Collection]) -> dict[str, Extent]:
    return {c.id: collection_extent(collection=c) for c in collections}
