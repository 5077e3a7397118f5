"""The buildings collection in the CNIG "Friches" columns, for Cartofriches.

The columns are those of the Cartofriches export (Cerema, layer ``friches``;
shared/data/SOURCES.md lists them), which is also what our own ``cnig-friches``
importer reads. The rows are the whole public stock (the buildings API's public
scope, unlocated buildings included with an empty ``geom``); only public
properties feed the columns; what we do not hold, or hold but do not publish
(owners, parcels, condition), is left empty, never guessed:

==================  ========================================================
site_id             ``<comm_insee>_ETAT<id>``: the INSEE prefix of the CNIG
                    form (§4.2), and "ETAT" so that our ids cannot collide
                    with Cartofriches' numeric local ids when merged
site_nom            designation
site_identif_date   vacancy_since: the day the building joined the vacant stock
site_occupation     "totalement inoccupé": the public stock is vacant by status
site_statut         "friche avec projet" with a next-use date, else
                    "friche sans projet"
site_surface        surface_m2 of land (asset_type ``land``)
activite_libelle    function (the former use of the building)
comm_nom            the commune's official name, else the city as written
comm_insee, dep     commune, department
bati_nombre         1 for a building, 0 for land
bati_surface        surface_m2 of a building, whole m² (CNIG: integer)
bati_vacance        "vacant"
source_nom          "Intercalaire"
geom                the point as WKT, ``POINT(lon lat)`` in EPSG:4326 (the
                    axis order of WKT in GIS software; the CNIG schema's own
                    example puts latitude first, a known trap)
==================  ========================================================

CSV: UTF-8 with a BOM, ``,``-separated, CRLF, ISO dates, decimal points (the
Cartofriches exports' conventions); text cells that could start a spreadsheet
formula get a leading apostrophe (reliability.md F2). GeoJSON: RFC 7946, the same
properties, the point as geometry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from django.db import transaction
from django.db.models import F, Func, TextField
from django.utils import timezone

from buildings.exports import neutralise
from buildings.geojson import PRECISION, serial_plans_only
from buildings.models import AssetType
from buildings.ogc.selectors import public_stock

COLUMNS: tuple[str, ...] = (
    "site_id", "site_nom", "site_type", "site_adresse", "site_identif_date",
    "site_actu_date", "site_occupation", "site_statut", "site_surface",
    "site_reconv_type", "site_projet", "activite_libelle", "comm_nom", "comm_insee",
    "dep", "bati_type", "bati_nombre", "bati_surface", "bati_vacance",
    "bati_patrimoine", "bati_etat", "proprio_type", "proprio_personne", "l_idpar",
    "unite_fonciere_surface", "l_catpro3txt", "urba_zone_type", "urba_doc_type",
    "source_nom", "nature", "is_observatoire", "checked",
)  # fmt: skip
GEOMETRY_COLUMN = "geom"
SOURCE_NAME = "Intercalaire"
CHUNK_ROWS = 2000
_FIELDS = (
    "id", "designation", "address", "vacancy_since", "next_use_date", "asset_type",
    "surface_m2", "function", "commune_id", "commune__name", "city", "department_id",
)  # fmt: skip


def filename(extension: str) -> str:
    return f"friches-intercalaire-{timezone.localdate():%Y%m%d}.{extension}"


def site(row: dict[str, Any]) -> dict[str, Any]:
    """One building's CNIG columns (values typed: str, int, Decimal, date, None)."""
    surface: Decimal | None = row["surface_m2"]
    asset_type = row["asset_type"]
    commune = row["commune_id"]
    return {
        "site_id": f"{commune}_ETAT{row['id']}" if commune else f"ETAT{row['id']}",
        "site_nom": row["designation"],
        "site_adresse": row["address"] or None,
        "site_identif_date": row["vacancy_since"],
        "site_occupation": "totalement inoccupé",
        "site_statut": "friche avec projet"
        if row["next_use_date"]
        else "friche sans projet",
        "site_surface": surface if asset_type == AssetType.LAND else None,
        "activite_libelle": row["function"] or None,
        "comm_nom": row["commune__name"] or row["city"] or None,
        "comm_insee": commune,
        "dep": row["department_id"],
        "bati_nombre": {AssetType.BUILDING: 1, AssetType.LAND: 0}.get(asset_type),
        "bati_surface": surface.quantize(Decimal(1), ROUND_HALF_UP)
        if surface is not None and asset_type == AssetType.BUILDING
        else None,
        "bati_vacance": "vacant",
        "source_nom": SOURCE_NAME,
    }


def _rows() -> Iterator[dict[str, Any]]:
    """Every building of the collection, by id, from a server-side cursor."""
    rows = (
        public_stock()
        .order_by("id")
        .values(
            *_FIELDS,
            wkt=Func(
                F("point"), PRECISION, function="ST_AsText", output_field=TextField()
            ),
            geojson=Func(
                F("point"),
                PRECISION,
                0,
                function="ST_AsGeoJSON",
                output_field=TextField(),
            ),
        )
    )
    with transaction.atomic():
        serial_plans_only()
        yield from rows.iterator(chunk_size=CHUNK_ROWS)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | int):
        return str(value)
    return neutralise(str(value))


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def export_csv() -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # The header leaves with the first rows, once the query has answered.
    buffer.write("\ufeff")
    writer.writerow((*COLUMNS, GEOMETRY_COLUMN))
    for count, row in enumerate(_rows(), start=1):
        columns = site(row)
        writer.writerow(
            (*(_cell(columns.get(name)) for name in COLUMNS), row["wkt"] or "")
        )
        if count % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value % 1 else int(value)
    return value


def export_geojson() -> Iterator[bytes]:
    """A FeatureCollection whose geometries PostGIS wrote (orjson.Fragment:
    their text is not parsed again)."""
    # The head leaves with the first features, once the query has answered.
    batch: list[bytes] = [b'{"type":"FeatureCollection","features":[']
    for count, row in enumerate(_rows()):
        columns = site(row)
        feature = {
            "type": "Feature",
            "id": columns["site_id"],
            "geometry": orjson.Fragment(row["geojson"] or "null"),
            "properties": {name: _json_value(columns.get(name)) for name in COLUMNS},
        }
        batch.append((b"," if count else b"") + orjson.dumps(feature))
        if len(batch) == CHUNK_ROWS:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch) + b"]}"
