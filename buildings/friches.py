"""Cartofriches: the national inventory of vacant and under-used sites (Cerema).

Reads the GeoPackage export (layer ``friches``, points in EPSG:4326, CNIG "Friches"
column names) with GDAL and upserts it into Friche on ``site_id``, in one
transaction. Cartofriches data is open data published by Cerema (Licence Ouverte).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.gdal.feature import Feature
from django.contrib.gis.gdal.geometries import Point as OGRPoint
from django.contrib.gis.geos import Point
from django.db import models, transaction

from buildings.models import Friche

LAYER = "friches"
BATCH_SIZE = 2000
# Owner categories (``l_catpro3txt``, from the land files) that make a site State
# property: the State itself and its land agencies. "ETAT ETRANGER", a foreign State,
# also contains the word ETAT and is deliberately left out.
STATE_OWNER_CATEGORIES = frozenset(
    {"ETAT FRANCAIS", "EPF – ETABLISSEMENT PUBLIC FONCIER D ETAT"}
)
# The columns read, of the ~30 the export has (data/SOURCES.md).
SOURCE_COLUMNS = (
    "site_id",
    "site_nom",
    "site_type",
    "site_statut",
    "site_adresse",
    "site_surface",
    "comm_insee",
    "dep",
    "proprio_type",
    "proprio_personne",
    "l_catpro3txt",
    "l_idpar",
    "source_nom",
    "site_actu_date",
)
UPDATE_FIELDS = [
    "site_nom",
    "site_type",
    "site_statut",
    "site_adresse",
    "site_surface",
    "comm_insee",
    "dep",
    "proprio_type",
    "is_state_owned",
    "l_idpar",
    "source_nom",
    "site_actu_date",
    "point",
]
# Free-text labels, cut to their column's length rather than failing the load.
TEXT_LIMITS = {
    field.name: field.max_length
    for field in Friche._meta.get_fields()
    if isinstance(field, models.CharField)
    and field.max_length
    and field.name
    in {
        "site_nom",
        "site_type",
        "site_statut",
        "site_adresse",
        "source_nom",
        "proprio_type",
    }
}
CENTS = Decimal("0.01")


class FricheFileError(Exception):
    """The file is not a Cartofriches GeoPackage this loader can read."""


@dataclass
class FricheReport:
    read: int = 0
    # Sites of the requested départements, written or not (dry run).
    selected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    state_owned: int = 0
    # Features without a site id or a point: nothing to key or to place.
    skipped: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def load_friches(
    *,
    path: Path,
    departments: Collection[str] | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> FricheReport:
    """Upsert the sites of ``path`` (only those of ``departments`` if given).

    Sites missing from the file are kept: a filtered load sees part of the country,
    and a site that leaves the inventory is still a fact of its past.
    """
    started = time.perf_counter()
    report = FricheReport(dry_run=dry_run)
    wanted = set(departments) if departments else None
    # A site listed twice would make one INSERT … ON CONFLICT touch a row twice,
    # which PostgreSQL refuses: the last occurrence wins.
    sites: dict[str, Friche] = {}
    for friche in _read(path=path, departments=wanted, report=report):
        if friche.site_id in sites:
            report.duplicates += 1
        sites[friche.site_id] = friche
    report.selected = len(sites)
    report.state_owned = sum(friche.is_state_owned for friche in sites.values())

    rows = list(sites.values())
    with transaction.atomic():
        for start in range(0, len(rows), batch_size):
            _upsert(batch=rows[start : start + batch_size], report=report)
        if dry_run:
            transaction.set_rollback(True)
    report.seconds = time.perf_counter() - started
    return report


def _upsert(*, batch: list[Friche], report: FricheReport) -> None:
    # Rows equal to the stored ones are not rewritten: a re-run of the same snapshot
    # reads the file and the table, and writes nothing.
    stored = {
        row[0]: row[1:]
        for row in Friche.objects.filter(
            site_id__in=[friche.site_id for friche in batch]
        ).values_list("site_id", *UPDATE_FIELDS)
    }
    changed = []
    for friche in batch:
        before = stored.get(friche.site_id)
        if before is None:
            report.created += 1
        elif before != tuple(getattr(friche, name) for name in UPDATE_FIELDS):
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        changed.append(friche)
    if changed:
        Friche.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["site_id"],
            update_fields=UPDATE_FIELDS,
        )


def parse_pg_array(text: str | None) -> list[str]:
    """The items of a PostgreSQL array literal such as ``{a,"b c",NULL}``.

    Cartofriches exports its list columns that way; quoted items may hold commas.
    """
    if not text:
        return []
    inner = text.strip()
    if inner.startswith("{") and inner.endswith("}"):
        inner = inner[1:-1]
    if not inner:
        return []
    # Array literals quote with " and escape with \, like a one-line CSV.
    items = next(csv.reader([inner], quotechar='"', escapechar="\\", doublequote=False))
    return [item.strip() for item in items if item.strip() and item != "NULL"]


def is_state_owned(*, owner_categories: str | None, owner_kinds: str | None) -> bool:
    """Whether the owner columns name the State or a State land agency.

    In the 2024 snapshot ``proprio_personne`` only says "personne morale/physique",
    so the answer comes from ``l_catpro3txt``; the former is read too so that an
    export naming owner categories there is not missed.
    """
    named = {
        item.upper()
        for text in (owner_categories, owner_kinds)
        for item in parse_pg_array(text)
    }
    return not named.isdisjoint(STATE_OWNER_CATEGORIES)


def _read(
    *, path: Path, departments: set[str] | None, report: FricheReport
) -> Iterator[Friche]:
    try:
        layer = DataSource(str(path))[LAYER]
    except (GDALException, IndexError) as error:
        raise FricheFileError(
            f"{path}: no readable layer {LAYER!r} ({error})"
        ) from error
    missing = set(SOURCE_COLUMNS) - set(layer.fields)
    if missing:
        raise FricheFileError(f"{path}: missing columns {', '.join(sorted(missing))}")
    # GeoPackage points carry their SRS: reproject rather than trust it is WGS84.
    reproject = layer.srs is not None and layer.srs.srid != 4326
    for feature in layer:
        report.read += 1
        dep = _text(feature, "dep")
        if departments is not None and dep not in departments:
            continue
        site_id = _text(feature, "site_id")
        geometry = feature.geom
        if not site_id or not isinstance(geometry, OGRPoint) or geometry.empty:
            report.skipped += 1
            continue
        if reproject:
            geometry.transform(4326)
        yield Friche(
            site_id=site_id,
            site_nom=_text(feature, "site_nom"),
            site_type=_text(feature, "site_type"),
            site_statut=_text(feature, "site_statut"),
            site_adresse=_text(feature, "site_adresse"),
            site_surface=_decimal(feature.get("site_surface")),
            comm_insee=_text(feature, "comm_insee"),
            dep=dep,
            proprio_type=_cut(
                ", ".join(parse_pg_array(feature.get("proprio_type"))), "proprio_type"
            ),
            is_state_owned=is_state_owned(
                owner_categories=feature.get("l_catpro3txt"),
                owner_kinds=feature.get("proprio_personne"),
            ),
            l_idpar=parse_pg_array(feature.get("l_idpar")),
            source_nom=_text(feature, "source_nom"),
            site_actu_date=_date(feature.get("site_actu_date")),
            point=Point(geometry.x, geometry.y, srid=4326),
        )


def _text(feature: Feature, name: str) -> str:
    value = feature.get(name)
    return _cut("" if value is None else str(value).strip(), name)


def _cut(text: str, name: str) -> str:
    limit = TEXT_LIMITS.get(name)
    return text[: limit - 1] + "…" if limit and len(text) > limit else text


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    # Through str: the float 54949.22 must not become 54949.2199999…
    return Decimal(str(value)).quantize(CENTS)


def _date(value: object) -> date | None:
    # A GeoPackage may type the column DateTime: the day is what the model keeps.
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None
