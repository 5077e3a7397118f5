"""Reference layers: regions, départements and communes, with their boundaries.

Codes, names, parents and populations come from the official code list published as
the npm package ``@etalab/decoupage-administratif`` (INSEE COG, Licence Ouverte);
boundaries come from GeoJSON files whose features carry ``code`` and ``nom``
properties (IGN Admin Express via france-geojson, Licence Ouverte). The code list is
the authority: a boundary whose code it does not hold is reported, never inserted.

Loading is an idempotent upsert: rows are compared with what is stored and only new
or changed ones are written, with ``INSERT … ON CONFLICT (code) DO UPDATE``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from django.conf import settings
from django.contrib.gis.geos import (
    GeometryCollection,
    GEOSGeometry,
    MultiPolygon,
    Polygon,
)
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.query import QuerySet

from buildings.models import (
    COLLECTIVITY_CODES,
    COMMUNE_CODE_PATTERN,
    Building,
    Commune,
    Department,
    Region,
)

CODE_LIST_DIR = (
    Path(settings.BASE_DIR) / "node_modules/@etalab/decoupage-administratif/data"
)
BATCH_SIZE = 2000

# Collectivités d'outre-mer (zone "com") are neither régions nor départements: the
# code list gives them 3-character pseudo-codes (975, 977, 984…) that are not INSEE
# région codes and are not among the 101 départements.
REFERENCE_ZONES = {"metro", "drom"}
# Communes déléguées and associées are former communes merged into another one: an
# address or a building always belongs to the current commune.
COMMUNE_TYPES = {"commune-actuelle", "arrondissement-municipal"}
# The INSEE commune codes the platform accepts (reference/domain.md §C.1): the Pacific
# collectivities (984, 986–989) fall outside them.
COMMUNE_CODE = re.compile(COMMUNE_CODE_PATTERN)

# The fields the code list sets, compared with the stored row to decide on a write.
REGION_FIELDS = ("name",)
DEPARTMENT_FIELDS = ("name", "region_id")
COMMUNE_FIELDS = ("name", "department_id", "arrondissement_of_id", "population")

Row = TypeVar("Row", Region, Department, Commune)


class ReferenceDataError(Exception):
    """A code list or boundary file cannot be read."""


@dataclass
class LevelReport:
    """What one load did to one level (regions, départements or communes)."""

    label: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Code-list entries outside the platform's scope (see REFERENCE_ZONES).
    skipped: int = 0
    # Communes left out by a département filter.
    excluded: int = 0
    # Rows given a boundary by this load.
    geometries: int = 0
    unknown_codes: list[str] = field(default_factory=list)
    repaired_geometries: list[str] = field(default_factory=list)
    # Features whose geometry is missing or not polygonal.
    rejected_geometries: list[str] = field(default_factory=list)
    # Stored codes the code list no longer holds (merged communes): buildings may
    # still point to them, so a person reassigns them; the loader deletes nothing.
    stale_codes: list[str] = field(default_factory=list)


@dataclass
class ReferenceReport:
    regions: LevelReport
    departments: LevelReport
    communes: LevelReport

    @property
    def levels(self) -> tuple[LevelReport, LevelReport, LevelReport]:
        return (self.regions, self.departments, self.communes)


@dataclass
class CodeList(Generic[Row]):
    """Unsaved rows of one level of the code list, keyed by code."""

    entries: dict[str, Row]
    skipped: int = 0
    # Codes of the code list left out by a département filter: their boundaries are
    # ignored, not reported as unknown.
    excluded: set[str] = field(default_factory=set)


def load_reference_layers(
    *,
    code_list_dir: Path = CODE_LIST_DIR,
    region_files: Sequence[Path] = (),
    department_files: Sequence[Path] = (),
    commune_files: Sequence[Path] = (),
    departments: Collection[str] | None = None,
) -> ReferenceReport:
    """Upsert the code list, then the boundaries of the given files, atomically.

    ``departments`` restricts the communes to those départements (a departmental
    deployment, or a test that needs one territory); regions and départements are
    always loaded whole. A level loaded without boundary files keeps the boundaries
    stored earlier.
    """
    region_list, department_list, commune_list = read_code_list(
        code_list_dir=code_list_dir, departments=departments
    )
    report = ReferenceReport(
        regions=LevelReport("regions", skipped=region_list.skipped),
        departments=LevelReport("départements", skipped=department_list.skipped),
        communes=LevelReport(
            "communes",
            skipped=commune_list.skipped,
            excluded=len(commune_list.excluded),
        ),
    )
    _attach_geometries(code_list=region_list, files=region_files, report=report.regions)
    _attach_geometries(
        code_list=department_list, files=department_files, report=report.departments
    )
    _attach_geometries(
        code_list=commune_list, files=commune_files, report=report.communes
    )
    with transaction.atomic():
        # Parents before children: the foreign keys are only checked at commit,
        # but this order keeps them true after every statement too.
        _upsert(
            model=Region,
            fields=REGION_FIELDS,
            entries=region_list.entries,
            report=report.regions,
        )
        _upsert(
            model=Department,
            fields=DEPARTMENT_FIELDS,
            entries=department_list.entries,
            report=report.departments,
        )
        _upsert(
            model=Commune,
            fields=COMMUNE_FIELDS,
            entries=commune_list.entries,
            report=report.communes,
            # A filtered load sees one territory: the rest is not stale.
            stale_check=departments is None,
        )
    return report


def commune_department(code: str) -> str:
    """The département an INSEE commune code belongs to, read from the code itself:
    its first two characters (2A and 2B in Corsica), three overseas (97x).

    For when the code list did not give the commune its département (loaded
    without it, or entered by hand); the table's link wins when there is one.
    """
    return code[:3] if code.startswith("97") else code[:2]


def read_code_list(
    *, code_list_dir: Path = CODE_LIST_DIR, departments: Collection[str] | None = None
) -> tuple[CodeList[Region], CodeList[Department], CodeList[Commune]]:
    region_list: CodeList[Region] = CodeList({})
    for item in _read_json(code_list_dir / "regions.json"):
        if item["zone"] not in REFERENCE_ZONES:
            region_list.skipped += 1
            continue
        region_list.entries[item["code"]] = Region(code=item["code"], name=item["nom"])

    department_list: CodeList[Department] = CodeList({})
    for item in _read_json(code_list_dir / "departements.json"):
        if item["zone"] not in REFERENCE_ZONES:
            department_list.skipped += 1
            continue
        department_list.entries[item["code"]] = Department(
            code=item["code"],
            name=item["nom"],
            region_id=item["region"] if item["region"] in region_list.entries else None,
        )

    commune_list: CodeList[Commune] = CodeList({})
    for item in _read_json(code_list_dir / "communes.json"):
        if item["type"] not in COMMUNE_TYPES or not COMMUNE_CODE.match(item["code"]):
            commune_list.skipped += 1
            continue
        department = item.get("departement")
        if departments is not None and department not in departments:
            commune_list.excluded.add(item["code"])
            continue
        commune_list.entries[item["code"]] = Commune(
            code=item["code"],
            name=item["nom"],
            # Saint-Pierre-et-Miquelon, Saint-Barthélemy and Saint-Martin have INSEE
            # commune codes but no département.
            department_id=(
                department if department in department_list.entries else None
            ),
            # Paris, Lyon and Marseille: an arrondissement's "commune" is its city.
            arrondissement_of_id=item.get("commune"),
            population=item.get("population"),
        )
    return region_list, department_list, commune_list


def read_boundaries(*, path: Path) -> Iterator[tuple[str, GEOSGeometry | None]]:
    """(code, geometry) for each feature of a GeoJSON FeatureCollection."""
    collection = _read_json(path)
    if not isinstance(collection, dict) or "features" not in collection:
        raise ReferenceDataError(f"{path}: not a GeoJSON FeatureCollection")
    for feature in collection["features"]:
        code = str((feature.get("properties") or {}).get("code", ""))
        geometry = feature.get("geometry")
        # RFC 7946 content has no crs member: it is WGS84, which GEOS reads as 4326.
        yield code, GEOSGeometry(orjson.dumps(geometry).decode()) if geometry else None


def in_communes(codes: Collection[str]) -> Q:
    """Buildings of these communes, a city's municipal arrondissements (Marseille
    13201–13216, Paris, Lyon) counted in the city (13055), as the OGC communes
    collection counts them. One indexed ``IN`` on the building's commune."""
    return Q(
        commune_id__in=Commune.objects.filter(
            Q(code__in=codes) | Q(arrondissement_of_id__in=codes)
        ).values("code")
    )


def communes_in_areas(codes: Collection[str]) -> Q:
    """Communes of these départements or collectivités d'outre-mer (975, 977,
    978: no Department row, so their communes are found by their code)."""
    condition = Q(department_id__in=[c for c in codes if c not in COLLECTIVITY_CODES])
    for code in sorted(COLLECTIVITY_CODES.intersection(codes)):
        # On the primary key's pattern index (varchar_pattern_ops).
        condition |= Q(code__startswith=code)
    return condition


def in_areas(codes: Collection[str]) -> Q:
    """Buildings of these départements, or of these collectivités d'outre-mer,
    whose buildings have no département and are matched on their commune code
    (Saint-Barthélemy's 97701). A département filter is one indexed ``IN``."""
    departments = [code for code in codes if code not in COLLECTIVITY_CODES]
    collectivities = COLLECTIVITY_CODES.intersection(codes)
    if not collectivities:
        return Q(department_id__in=departments)
    communes = Commune.objects.filter(communes_in_areas(collectivities))
    condition = Q(commune_id__in=communes.values("code"))
    return Q(department_id__in=departments) | condition if departments else condition


def flag_points_outside_commune(
    *, queryset: QuerySet[Building] | None = None
) -> list[tuple[str, str]]:
    """Set ``outside_declared_commune`` on every building of ``queryset`` and
    return the (inventory id, commune code) of those flagged, in one statement.

    A building is flagged when its point lies outside the boundary of its declared
    commune; one without a point, a commune, or whose commune has no boundary is
    unflagged, since nothing contradicts what it declares. Only the rows whose flag
    changes are written: an UPDATE fires the triggers that keep each building's
    stored Feature text and map clusters current. (Three ORM statements, an
    UPDATE with EXISTS, a count and a read, added 9 s to a 200,000-row import.)
    """
    buildings = Building.objects.all() if queryset is None else queryset
    try:
        chosen, params = buildings.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:
        return []
    table = connection.ops.quote_name(Building._meta.db_table)
    communes = connection.ops.quote_name(Commune._meta.db_table)
    # Table names from the models; every value travels as a parameter.
    sql = f"""
        WITH chosen AS ({chosen}),
        verdict AS (
            SELECT b.id, b.inventory_id, b.commune_id,
                   b.outside_declared_commune AS was,
                   -- ST_Covers, not ST_Contains: a point on the boundary is inside;
                   -- a NULL point or boundary gives NULL: unflagged.
                   COALESCE(NOT ST_Covers(c.geometry, b.point), false) AS outside
            FROM {table} b
            JOIN chosen ON chosen.id = b.id
            LEFT JOIN {communes} c ON c.code = b.commune_id
        ),
        changed AS (
            UPDATE {table} b SET outside_declared_commune = v.outside
            FROM verdict v
            WHERE b.id = v.id AND v.was IS DISTINCT FROM v.outside
            RETURNING b.id
        )
        SELECT inventory_id, commune_id FROM verdict WHERE outside
        ORDER BY inventory_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(key, commune) for key, commune in cursor.fetchall()]


def _read_json(path: Path) -> Any:
    try:
        # orjson: the 8.6 MB commune list parses in a third of json's time.
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise ReferenceDataError(f"{path}: {error}") from error


def _attach_geometries(
    *, code_list: CodeList[Row], files: Sequence[Path], report: LevelReport
) -> None:
    matched: set[str] = set()
    for path in files:
        for code, geometry in read_boundaries(path=path):
            entry = code_list.entries.get(code)
            if entry is None:
                if code not in code_list.excluded:
                    report.unknown_codes.append(code)
                continue
            multipolygon = _as_multipolygon(geometry) if geometry else None
            if multipolygon is not None and not multipolygon.valid:
                # A self-intersecting ring makes ST_Covers raise or answer wrongly.
                multipolygon = _as_multipolygon(multipolygon.make_valid())
                if multipolygon is not None:
                    report.repaired_geometries.append(code)
            if multipolygon is None:
                report.rejected_geometries.append(code)
                continue
            entry.geometry = multipolygon
            matched.add(code)
    # Overlapping files (communes-13 within communes-paca) count a commune once.
    report.geometries = len(matched)


def _as_multipolygon(geometry: GEOSGeometry) -> MultiPolygon | None:
    srid = geometry.srid or 4326
    if isinstance(geometry, MultiPolygon):
        geometry.srid = srid
        return geometry
    if isinstance(geometry, Polygon):
        return MultiPolygon(geometry, srid=srid)
    if isinstance(geometry, GeometryCollection):
        # make_valid may return a collection with stray lines: keep its polygons.
        polygons: list[GEOSGeometry] = []
        for part in geometry:
            if isinstance(part, Polygon):
                polygons.append(part)
            elif isinstance(part, MultiPolygon):
                polygons.extend(part)
        return MultiPolygon(*polygons, srid=srid) if polygons else None
    return None


def _upsert(
    *,
    model: type[Row],
    fields: tuple[str, ...],
    entries: dict[str, Row],
    report: LevelReport,
    stale_check: bool = True,
) -> None:
    manager = model._default_manager
    # The stale check needs every stored row; a filtered load, only its own.
    scope = manager.all() if stale_check else manager.filter(pk__in=list(entries))
    stored = {row[0]: row[1:] for row in scope.values_list("code", *fields)}
    with_geometry = [code for code, entry in entries.items() if entry.geometry]
    stored_geometries = dict(
        manager.filter(pk__in=with_geometry).values_list("code", "geometry")
    )

    # Rows to write, split on whether the load brings a new boundary.
    keep_geometry: list[Row] = []
    new_geometry: list[Row] = []
    for code, entry in entries.items():
        if code not in stored:
            report.created += 1
            keep_geometry.append(entry)
            continue
        geometry_changed = (
            entry.geometry is not None and stored_geometries.get(code) != entry.geometry
        )
        if geometry_changed:
            new_geometry.append(entry)
        elif tuple(getattr(entry, name) for name in fields) != stored[code]:
            keep_geometry.append(entry)
        else:
            report.unchanged += 1
            continue
        report.updated += 1

    # Two statements because ON CONFLICT updates the same columns on every row: a
    # row loaded without a boundary file must not wipe the boundary stored earlier.
    for rows, update_fields in (
        (keep_geometry, fields),
        (new_geometry, (*fields, "geometry")),
    ):
        if rows:
            manager.bulk_create(
                rows,
                batch_size=BATCH_SIZE,
                update_conflicts=True,
                unique_fields=["code"],
                update_fields=[name.removesuffix("_id") for name in update_fields],
            )
    if stale_check:
        report.stale_codes = sorted(set(stored) - set(entries))
