"""Exports of a selection of the inventory: CSV, XLSX, GeoJSON, GeoPackage.

The API and the agents' pages call these with the queryset they show, scoped
and filtered (``building_list(scope=…)`` through BuildingFilterSet), and the
fields that caller may read (``buildings.geojson.properties_for(scope)``): an
export never holds more than the list it comes from.

Spreadsheet cells are neutralised against formula injection (reliability.md F2,
OWASP "CSV Injection"): text starting with ``= + - @``, a tab or a carriage
return gets a leading apostrophe. Numbers stay numbers (a negative longitude is
no formula).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.db.models import F, FloatField, Func, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from buildings.geojson import (
    AGENT_PROPERTIES,
    GeometryKind,
    SortKey,
    feature_stream,
    serial_plans_only,
)
from buildings.models import Building
from config.database.routing import read_alias
from config.errors import DomainError

# Beyond this, an export is a data dump: narrow the filters or use the bulk
# open-data files. 200,000 rows is the whole inventory of the largest region;
# it streams in constant memory (CSV, GeoJSON) or about 100 MB (XLSX, GPKG).
EXPORT_MAX_ROWS = 200_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 2000
GEOJSON_BATCH = 500  # features per chunk of a streamed GeoJSON response
BY_ID = (SortKey("id"),)
OGR2OGR_TIMEOUT_S = 600
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


class ExportTooLarge(DomainError):
    code = "export_too_large"


class ExportUnavailable(DomainError):
    status_code = 503
    code = "export_unavailable"


def filename(extension: str) -> str:
    return f"batiments-{timezone.localdate():%Y%m%d}.{extension}"


def check_size(queryset: QuerySet[Building]) -> None:
    """Refuse before writing anything, with a count capped just past the limit."""
    if queryset.order_by()[: EXPORT_MAX_ROWS + 1].count() > EXPORT_MAX_ROWS:
        raise ExportTooLarge(
            _("More than %(max)d buildings match: narrow the filters.")
            % {"max": EXPORT_MAX_ROWS}
        )


def _check_fields(fields: Sequence[str]) -> None:
    unknown = set(fields) - set(AGENT_PROPERTIES)
    if unknown:
        raise ValueError(f"Not an exportable field: {sorted(unknown)}")


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, kept as text by a leading "'":
    a cell starting with = + - @ (or a tab or carriage return), also after the
    spaces and line breaks a spreadsheet skips (" +1+2" was left as it was)."""
    if text.lstrip(" \n").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _columns(fields: Sequence[str]) -> list[str]:
    return ["id", *fields, "longitude", "latitude"]


def _rows(
    queryset: QuerySet[Building], fields: Sequence[str], sort: Sequence[SortKey]
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``_columns(fields)`` in ``sort`` order, from a server-side cursor."""
    _check_fields(fields)
    rows = queryset.order_by(*(key.expression() for key in sort)).values_list(
        "id",
        *fields,
        Func(F("point"), function="ST_X", output_field=FloatField()),
        Func(F("point"), function="ST_Y", output_field=FloatField()),
    )
    with transaction.atomic(using=read_alias()):
        serial_plans_only()
        yield from rows.iterator(chunk_size=CHUNK_ROWS)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # 6 decimals: 0.1 m, as in GeoJSON.
        return f"{value:.6f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, Decimal | int):
        # A decimal comma: the file is made for spreadsheets in French locales,
        # which is also why the separator is ";" (see export_csv).
        return str(value).replace(".", ",")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(_text(value))


def export_csv(
    queryset: QuerySet[Building],
    *,
    fields: Sequence[str],
    sort: Sequence[SortKey] = BY_ID,
) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark and ``;`` separators: what Excel in a French
    locale opens correctly with a double click. Dates are ISO 8601."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(_columns(fields))
    for number, row in enumerate(_rows(queryset, fields, sort), start=1):
        writer.writerow([_csv_cell(value) for value in row])
        if number % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | Decimal | date):
        return value
    # Control characters other than tab and newlines are not allowed in XML, and
    # openpyxl stores text starting with "=" as a formula: strip, then neutralise
    # ("\x01=2+2" became a live formula the other way round).
    return neutralise(ILLEGAL_CHARACTERS_RE.sub("", _text(value)))


def export_xlsx(
    queryset: QuerySet[Building],
    *,
    fields: Sequence[str],
    sort: Sequence[SortKey] = BY_ID,
) -> bytes:
    """One sheet, numbers as numbers, dates as dates, text as text, no formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("batiments")
    sheet.append(_columns(fields))
    for row in _rows(queryset, fields, sort):
        sheet.append([_xlsx_cell(value) for value in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _batches(features: Iterable[str], size: int, *, head: str) -> Iterator[bytes]:
    """``head``, then the features comma-separated, ``size`` a chunk. The head
    leaves with the first features, once the query has answered (config/streams.py:
    a failure before them is still a 503)."""
    batch: list[str] = []
    prefix = head
    for feature in features:
        batch.append(feature)
        if len(batch) == size:
            yield (prefix + ",".join(batch)).encode()
            batch, prefix = [], ","
    if batch:
        yield (prefix + ",".join(batch)).encode()
    elif prefix == head:
        yield head.encode()


def export_geojson(
    queryset: QuerySet[Building],
    *,
    fields: Sequence[str],
    geometry: GeometryKind = GeometryKind.POINT,
    sort: Sequence[SortKey] = BY_ID,
) -> Iterator[bytes]:
    """An RFC 7946 FeatureCollection written by PostGIS, streamed."""
    _check_fields(fields)
    yield from _batches(
        feature_stream(queryset, properties=fields, geometry=geometry, sort=sort),
        GEOJSON_BATCH,
        head='{"type":"FeatureCollection","features":[',
    )
    yield b"]}"


def export_gpkg(
    queryset: QuerySet[Building],
    *,
    fields: Sequence[str],
    geometry: GeometryKind = GeometryKind.POINT,
    sort: Sequence[SortKey] = BY_ID,
) -> IO[bytes]:
    """A GeoPackage with one layer, ``buildings`` (EPSG:4326, fid = building id).

    GDAL's Python bindings are not installed, so ogr2ogr converts the GeoJSON
    export written to a private temporary directory. It reads a local file and
    writes a local file: no database credentials on its command line, no
    network, and the same scope and filters as every other format. Returns an
    open, already unlinked temporary file positioned at its start.
    """
    program = shutil.which("ogr2ogr")
    if program is None:
        raise ExportUnavailable(_("GeoPackage exports need GDAL's ogr2ogr."))
    with tempfile.TemporaryDirectory(prefix="intercalaire-gpkg-") as directory:
        source = Path(directory, "buildings.geojson")
        target = Path(directory, "buildings.gpkg")
        with source.open("wb") as out:
            for chunk in export_geojson(
                queryset, fields=fields, geometry=geometry, sort=sort
            ):
                out.write(chunk)
        completed = subprocess.run(  # noqa: S603 — fixed program, our own paths
            [program, "-f", "GPKG", "-nln", "buildings", str(target), str(source)],
            capture_output=True,
            timeout=OGR2OGR_TIMEOUT_S,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                "ogr2ogr failed: " + completed.stderr.decode(errors="replace")[:500]
            )
        result = tempfile.TemporaryFile()  # noqa: SIM115 — the caller closes it
        with target.open("rb") as gpkg:
            shutil.copyfileobj(gpkg, result)
    result.seek(0)
    return result
