"""GeoJSON of the inventory (RFC 7946), built in PostGIS.

Python never loops over features on the list path (DESIGN.md, "Serving fast"):
the ORM and the shared filter set build the scoped, filtered, ordered queryset,
and this module wraps its SQL so that PostgreSQL writes each Feature's text and
``string_agg`` joins a page of them. Geometries leave as RFC 7946 wants them:
lon/lat (storage is EPSG:4326), 6 decimals (≈0.1 m), no ``crs`` member, exterior
rings counter-clockwise (``ST_ForcePolygonCCW``; imported footprints come in both
orientations).

Pages of the two standard property sets (PUBLIC_PROPERTIES, AGENT_PROPERTIES)
splice texts that PostgreSQL stored when the building was written
(buildings.models.BuildingFeature): 0.7× the cost of rendering them per request.
Other sets (the map's popups, exports of chosen columns) render on the fly; both
paths give the same bytes (tests/buildings/test_geojson.py).

Each Feature is spliced from ``ST_AsGeoJSON(geometry)`` and ``row_to_json`` of
the properties rather than ``ST_AsGeoJSON(record)``: PostGIS 3.3 writes a missing
geometry as ``{"type": null}`` (not ``null``) and cannot promote ``id`` to the
Feature's top level (``id_column`` arrived in 3.5).
"""

# This module composes SQL from ORM-compiled SQL and quoted identifiers taken
# from the allow-lists below; every value travels as a query parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from django.contrib.gis.db.models import GeometryField
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Func, QuerySet
from django.db.models.expressions import Combinable, OrderBy
from psycopg.adapt import Buffer, Loader

from buildings.models import Building
from config.database.routing import read_alias, reader

if TYPE_CHECKING:
    from organizations.selectors import Scope

MEDIA_TYPE = "application/geo+json"
PRECISION = 6

# What anyone may read of a building of the public stock: no owner, manager or
# ministry labels, no costs, no internal condition notes (DESIGN.md, "Users").
PUBLIC_PROPERTIES: tuple[str, ...] = (
    "designation", "asset_type", "function", "address", "postal_code", "city",
    "commune", "department", "surface_m2", "year_built", "status", "erp",
    "accessibility", "vacancy_since", "next_use_date", "suitability_shelter",
    "suitability_workspace", "suitability_mixed", "suitability_completeness",
)  # fmt: skip
# What State agents read besides. ``owner_type`` and the import fingerprint are
# never exposed; neither is ``suitability_details`` in lists (the detail has it).
AGENT_PROPERTIES: tuple[str, ...] = (
    *PUBLIC_PROPERTIES,
    "inventory_id", "code_chorus", "site", "source", "ministry", "manager_label",
    "manager_type", "domaniality", "is_confidential", "guarding_cost_monthly",
    "outside_declared_commune", "condition", "energy_kwh_ef", "heating_type",
    "erp_type", "erp_category", "surface_kind", "vacancy_cause", "next_use",
    "parcel_ids", "rnb_ids",
)  # fmt: skip


def properties_for(scope: Scope) -> tuple[str, ...]:
    return AGENT_PROPERTIES if scope.is_state_agent else PUBLIC_PROPERTIES


class GeometryKind(StrEnum):
    """Which geometry a Feature carries. One kind per collection, so that GIS
    clients (QGIS, ogr2ogr) see a single geometry type per layer."""

    POINT = "point"
    FOOTPRINT = "footprint"  # null where no footprint is known


def geometry_expression(kind: GeometryKind) -> Combinable:
    if kind is GeometryKind.FOOTPRINT:
        return Func(
            F("footprint"),
            function="ST_ForcePolygonCCW",
            output_field=GeometryField(srid=4326),
        )
    return F("point")


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term, rendered both for the ORM and for the wrapping SQL,
    so that the page's rows and the aggregate's order cannot disagree."""

    column: str
    descending: bool = False
    # Where nulls go; None for a column that is never null (``id``), which then
    # keeps the default placement so that its btree index serves the order.
    nulls_last: bool | None = True

    def expression(self) -> OrderBy:
        placement = {}
        if self.nulls_last is not None:
            placement = (
                {"nulls_last": True} if self.nulls_last else {"nulls_first": True}
            )
        if self.descending:
            return F(self.column).desc(**placement)
        return F(self.column).asc(**placement)

    def sql(self, alias: str) -> str:
        return self.order(f"{alias}.{connection.ops.quote_name(self.column)}")

    def reversed(self) -> SortKey:
        """The opposite order, nulls included (last becomes first)."""
        nulls_last = None if self.nulls_last is None else not self.nulls_last
        return SortKey(self.column, not self.descending, nulls_last)

    def order(self, term: str) -> str:
        """The ORDER BY term for ``term`` (a column, or its position)."""
        nulls = ""
        if self.nulls_last is not None:
            nulls = " NULLS LAST" if self.nulls_last else " NULLS FIRST"
        return f"{term} {'DESC' if self.descending else 'ASC'}{nulls}"


class _TextAsBytes(Loader):
    """A ``text`` value as the UTF-8 bytes PostgreSQL sent. A page of Features
    goes from the database to the response body as bytes: decoding it to a
    ``str`` and encoding it back cost 0.9 ms of Python for 1,000 features
    (670 KB, accented addresses and designations), more than the 0.3 ms a
    30-feature page spends in SQL."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def read_text_as_bytes(cursor: Any) -> None:
    """Make this cursor (a Django cursor wrapper) read ``text`` columns as bytes;
    other types (``varchar`` sort keys included) load as usual."""
    cursor.cursor.adapters.register_loader("text", _TextAsBytes)


@dataclass(frozen=True)
class FeaturePage:
    features: bytes  # Feature texts joined by commas, in output order (UTF-8)
    returned: int
    more: bool  # rows lie beyond this page in the direction of travel
    # The sort-key values of the first and last rows in travel order.
    head: tuple[Any, ...] | None
    tail: tuple[Any, ...] | None
    matched: int  # exact up to the cap; ``cap + 1`` means "more than the cap"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _rows_sql(
    queryset: QuerySet[Building], properties: Sequence[str], geometry: GeometryKind
) -> tuple[str, tuple[Any, ...], list[str]]:
    """The queryset's SQL selecting id, the properties and the geometry, and the
    column names to give its output (foreign keys come out as ``commune_id``;
    renaming by position gives them their property name)."""
    rows = queryset.values(
        "id", *properties, feature_geometry=geometry_expression(geometry)
    )
    sql, params = rows.query.sql_with_params()
    return sql, tuple(params), ["id", *properties, "feature_geometry"]


def _key_rows_sql(
    queryset: QuerySet[Building], sort: Sequence[SortKey]
) -> tuple[str, tuple[Any, ...], list[str]]:
    """The queryset's SQL selecting only id and the sort keys: the stored
    renditions (BuildingFeature) bring the rest."""
    columns = _key_columns(sort)
    sql, params = queryset.values(*columns).query.sql_with_params()
    return sql, tuple(params), columns


def _key_columns(sort: Sequence[SortKey]) -> list[str]:
    return ["id", *(key.column for key in sort if key.column != "id")]


def _splice(identifier: str, geometry: str, properties: str) -> str:
    """SQL text of a Feature from SQL texts of its id, its geometry's GeoJSON
    (NULL for none) and its properties object."""
    return (
        '\'{"type":"Feature","id":\' || '
        + identifier
        + " || ',\"geometry\":' || "
        + f"COALESCE({geometry}, 'null')"
        + " || ',\"properties\":' || "
        + properties
        + " || '}'"
    )


def _feature_sql(alias: str, properties: Sequence[str]) -> str:
    """SQL text of one Feature from row ``alias``; the properties are a sub-row of
    it, so that ``id`` and the geometry stay out of them. Measured within noise of
    ``ST_AsGeoJSON(record)`` and ``json_build_object`` for 1,000 features."""
    columns = ", ".join(f"{alias}.{_quote(name)}" for name in properties)
    return _splice(
        f"{alias}.id",
        f"ST_AsGeoJSON({alias}.feature_geometry, {PRECISION}, 0)",
        f"(SELECT row_to_json(p) FROM (SELECT {columns}) AS p)::text",
    )


# The property sets whose texts BuildingFeature stores (migrations 0005, 0009).
STORED_PROPERTIES: tuple[tuple[str, ...], ...] = (PUBLIC_PROPERTIES, AGENT_PROPERTIES)
FEATURES_TABLE = "buildings_buildingfeature"


def _stored_feature_sql(
    alias: str, stored: str, properties: Sequence[str], geometry: GeometryKind
) -> str:
    """SQL text of one Feature spliced from row ``stored`` of BuildingFeature:
    the same text as ``_feature_sql`` (tests/buildings/test_geojson.py compares
    them), at a fraction of the cost."""
    column = (
        "footprint_geometry" if geometry is GeometryKind.FOOTPRINT else "point_geometry"
    )
    # Plain concatenation: ``left``/``substr`` count characters in a UTF-8
    # database, a third of an agent's page (migration 0009).
    agent = tuple(properties) == AGENT_PROPERTIES
    tail = f"{stored}.agent_tail" if agent else "'}'"
    props = f"{stored}.properties_head || {tail}"
    return _splice(f"{alias}.id", f"{stored}.{column}", props)


def _aliases(columns: Sequence[str]) -> str:
    return ", ".join(_quote(name) for name in columns)


def plans_are_serial() -> bool:
    """True when this connection was opened with parallel plans off.

    config/settings.py opens web connections with
    ``-c max_parallel_workers_per_gather=0`` (and ``jit=off``); a DATABASE_URL
    with its own ``options`` can drop it, and then each request guards itself.
    """
    options = str(reader().settings_dict.get("OPTIONS", {}).get("options", ""))
    return "max_parallel_workers_per_gather=0" in options.replace(" ", "")


def serial_plans_only() -> None:
    """Keep this transaction's queries off parallel plans.

    On two cores a parallel plan for one list or tile request takes both
    (performance.md §4.2: 51 ms instead of 7–9 ms); request-serving queries run
    serially and leave the other core to the next request. Free when the
    connection is already serial; otherwise ``SET LOCAL``, which ends with the
    transaction, so other users of the pooled connection are unaffected.
    """
    if plans_are_serial():
        return
    with reader().cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")


@contextmanager
def serial_plans() -> Iterator[None]:
    """A block whose queries run serially: nothing to do on a serial connection
    (no transaction, no round trip), a transaction with ``SET LOCAL`` otherwise."""
    if plans_are_serial():
        yield
        return
    with transaction.atomic(using=read_alias()):
        serial_plans_only()
        yield


def feature_page(
    queryset: QuerySet[Building],
    *,
    matched_of: QuerySet[Building],
    properties: Sequence[str],
    geometry: GeometryKind,
    sort: Sequence[SortKey],
    limit: int,
    reverse_output: bool = False,
    count_cap: int,
) -> FeaturePage:
    """One page of Features in a single SQL statement, with the capped count.

    ``queryset`` is already narrowed past the cursor; it is ordered by ``sort``
    here and read ``limit + 1`` rows deep (the extra row only says whether more
    follow). ``reverse_output`` returns the rows in the opposite of ``sort``, for
    pages read backwards. ``matched_of`` is the selection without the cursor,
    counted up to ``count_cap + 1`` rows (performance.md §3.6: a capped count
    costs a bounded time, an exact one grows with the table).
    """
    stored = tuple(properties) in STORED_PROPERTIES
    # Stored renditions: the counted rows carry the sort keys too, so that a
    # first page (the selection itself) is the counted rows ordered and cut, one
    # ORM compilation instead of two (0.5 ms of Python, a tenth of a small page).
    counted = _key_columns(sort) if stored else ["id"]
    # The ORM raises EmptyResultSet for a WHERE it knows matches nothing
    # (``id__in=[]``) rather than sending it.
    try:
        count_sql, count_params = (
            matched_of.order_by().values(*counted).query.sql_with_params()
        )
    except EmptyResultSet:
        return FeaturePage(b"", 0, more=False, head=None, tail=None, matched=0)
    try:
        if stored and queryset is matched_of:
            order = ", ".join(
                key.order(str(counted.index(key.column) + 1)) for key in sort
            )
            rows_sql = f"{count_sql} ORDER BY {order} LIMIT %s"
            rows_params, columns = (*count_params, limit + 1), counted
        else:
            page_rows = queryset.order_by(*(key.expression() for key in sort))[
                : limit + 1
            ]
            rows_sql, rows_params, columns = (
                _key_rows_sql(page_rows, sort)
                if stored
                else _rows_sql(page_rows, properties, geometry)
            )
    except EmptyResultSet:
        matched = matched_of.order_by()[: count_cap + 1].count()
        return FeaturePage(b"", 0, more=False, head=None, tail=None, matched=matched)
    window = ", ".join(key.sql("i") for key in sort)
    # The page's rows in output order, read by the aggregates in that order: a
    # plain aggregate over one sorted subquery consumes it as sorted (the form
    # PostgreSQL's manual gives for ordered input). Read forwards, the window's
    # rows already come in the sort order and the join keeps it, so no sort
    # runs; ``string_agg(… ORDER BY _rn)`` sorted 1,000 Feature texts again
    # (about 1 ms of a 12 ms page, PostgreSQL 15 does not skip it).
    output = ", ".join(
        key.reversed().sql("w") if reverse_output else key.sql("w") for key in sort
    )
    # The keys of the first row and of the page's last row, from the one row each
    # FILTER keeps: no sort (``array_agg(… ORDER BY _rn)`` sorted the page, 1 ms
    # of a 10 ms page of 1,000 features), and the column's own type (``min`` of
    # a varchar would be text, which this cursor reads as bytes).
    keys = []
    for key in sort:
        column = f"p.{_quote(key.column)}"
        keys.append(f"(array_agg({column}) FILTER (WHERE p._rn = 1))[1]")
        keys.append(f"(array_agg({column}) FILTER (WHERE p._rn = least(p._n, %s)))[1]")
    if stored:
        feature = _stored_feature_sql("w", "f", properties, geometry)
        join = f" JOIN {FEATURES_TABLE} AS f ON f.building_id = w.id"
    else:
        feature, join = _feature_sql("w", properties), ""
    count = f"(SELECT count(*) FROM ({count_sql} LIMIT %s) AS c)"
    counting: tuple[Any, ...] = (*count_params, count_cap + 1)
    if queryset is matched_of:
        # A first page that holds the whole selection is its own count: the
        # subquery (an InitPlan, run only when read) is then never run.
        count = f"CASE WHEN count(p.id) <= %s THEN count(p.id) ELSE {count} END"
        counting = (limit, *counting)
    sql = (
        f"SELECT {count}, count(p.id), "
        "coalesce(string_agg(p._feature, ',') FILTER (WHERE p._rn <= %s), ''), "
        + ", ".join(keys)
        + f" FROM (SELECT w.*, {feature} AS _feature "
        f"FROM (SELECT i.*, row_number() OVER (ORDER BY {window}) AS _rn, "
        "count(*) OVER () AS _n "
        f"FROM ({rows_sql}) AS i ({_aliases(columns)})) AS w{join} "
        f"ORDER BY {output}) AS p"
    )
    params = (
        *counting,
        limit,
        *([limit] * len(sort)),
        *rows_params,
    )
    with reader().cursor() as cursor:
        read_text_as_bytes(cursor)
        cursor.execute(sql, params)
        matched, fetched, features, *key_values = cursor.fetchone()
    head = tuple(key_values[0::2]) if fetched else None
    tail = tuple(key_values[1::2]) if fetched else None
    return FeaturePage(
        features=features,
        returned=min(fetched, limit),
        more=fetched > limit,
        head=head,
        tail=tail,
        matched=matched,
    )


def estimated_count(queryset: QuerySet[Building]) -> int:
    """The planner's row estimate for ``queryset`` (0.6 ms against 151 ms for an
    exact count of 194k rows: performance.md §3.6). Statistics-based: it can be
    off by a factor on skewed filters, hence labelled as an estimate."""
    try:
        sql, params = queryset.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:
        return 0
    with reader().cursor() as cursor:
        plan = explain(cursor, sql, params)
    return int(plan["Plan"]["Plan Rows"])


def explain(
    cursor: Any, sql: str, params: Sequence[Any] | None = None, options: str = ""
) -> dict[str, Any]:
    """EXPLAIN ``sql`` (with ``options``, e.g. ``ANALYZE, SUMMARY``) as JSON: the
    plan's top object, with ``Plan`` and any timings asked for. Without
    ``params``, ``sql`` is sent as it is (a captured statement, values inlined)."""
    prefix = f"{options}, " if options else ""
    cursor.execute(f"EXPLAIN ({prefix}FORMAT JSON) {sql}", params)
    plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # parsed or not, depending on the driver's loaders
        plan = json.loads(plan)
    return cast(dict[str, Any], plan[0])


def feature_stream(
    queryset: QuerySet[Building],
    *,
    properties: Sequence[str],
    geometry: GeometryKind,
    sort: Sequence[SortKey],
    chunk_size: int = 2000,
) -> Iterator[str]:
    """Every Feature of ``queryset`` in ``sort`` order, read through a server-side
    cursor so that memory stays flat for exports of any size.

    The transaction lives as long as the iteration: a consumer that stops early
    (a client hanging up) closes the generator, which rolls it back.
    """
    try:
        rows_sql, rows_params, columns = _rows_sql(
            queryset.order_by(*(key.expression() for key in sort)), properties, geometry
        )
    except EmptyResultSet:
        return
    order = ", ".join(key.sql("w") for key in sort)
    sql = (
        f"SELECT {_feature_sql('w', properties)} "
        f"FROM ({rows_sql}) AS w ({_aliases(columns)}) ORDER BY {order}"
    )
    with transaction.atomic(using=read_alias()):
        serial_plans_only()
        with reader().chunked_cursor() as cursor:
            cursor.execute(sql, rows_params)
            while rows := cursor.fetchmany(chunk_size):
                for (feature,) in rows:
                    yield feature
