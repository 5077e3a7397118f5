"""Rows out of a staged file: CSV (Python's csv), XLSX (openpyxl), GDAL layers.

Every reader yields the same thing: a row number as the person importing sees it,
the cells as text, and for GDAL layers the row's geometry in the file's own CRS.
Cell-level problems (a formula, a cell that is not UTF-8) travel with the row so
that it is rejected with its column; structural problems refuse the file.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterable, Iterator
from ctypes import c_char_p, c_void_p
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from django.contrib.gis.gdal import GDALException, SpatialReference
from django.contrib.gis.gdal.libgdal import lgdal
from django.contrib.gis.gdal.prototypes import ds as gdal_ds
from django.contrib.gis.gdal.prototypes.generation import int_output
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.utils.translation import gettext as _

from buildings.importers.files import (
    CHUNK,
    GDAL_DRIVERS,
    FileRefused,
    StagedFile,
    open_vector,
    overlapping_chunks,
)

# Candidate separators, most likely first: French exports use ';' because ',' is
# the decimal separator.
DELIMITERS = (";", ",", "\t", "|")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
GDAL_KINDS = frozenset(GDAL_DRIVERS)
# Not among Django's GDAL prototypes. Returns an OGRErr, 0 on success.
set_attribute_filter = int_output(lgdal.OGR_L_SetAttributeFilter, [c_void_p, c_char_p])


@dataclass
class RawRow:
    number: int
    values: dict[str, str]
    geometry: GEOSGeometry | None = None
    # (column or None, reason): the row is rejected with these.
    problems: list[tuple[str | None, str]] = field(default_factory=list)


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[RawRow]
    # Layers only: the CRS the file declares (None when it declares none).
    srs: SpatialReference | None = None
    spatial: bool = False
    total: int | None = None
    layer: str | None = None
    # The header's row in the file (a workbook's may follow blank rows).
    header_row: int = 1
    # What the reader noticed about the whole file, reported as warnings.
    notes: list[str] = field(default_factory=list)


def read(
    staged: StagedFile,
    *,
    delimiter: str | None = None,
    layer: str | None = None,
    where: str | None = None,
    only: tuple[str, ...] | None = None,
) -> Table:
    if where and staged.kind not in GDAL_KINDS:
        raise FileRefused(_("A “where” filter only applies to GDAL layers."))
    if staged.kind == "csv":
        return read_csv(staged, delimiter=delimiter)
    if staged.kind == "xlsx":
        return read_xlsx(staged)
    return read_layer(staged, layer=layer, where=where, only=only)


# --- CSV
def read_csv(staged: StagedFile, *, delimiter: str | None = None) -> Table:
    """``delimiter``: the one a profile requires, or None to recognise it.

    The file is checked in one streaming pass, then parsed in a second one: memory
    stays at one row, whatever the file's size."""
    _check_text(staged.path)
    # newline="": the csv module handles line ends itself, inside quotes too.
    handle = staged.path.open(encoding="utf-8-sig", newline="")
    found = _delimiter(handle.readline())
    handle.seek(0)
    if delimiter is not None and found not in (None, delimiter):
        handle.close()
        raise FileRefused(
            _("Columns are separated by “%(found)s”; this format uses “%(expected)s”.")
            % {"found": found, "expected": delimiter}
        )
    # strict: a stray quote is an error, not a silently merged field. No escape
    # character: the DIE file has literal backslashes inside quoted fields.
    reader = csv.reader(handle, delimiter=delimiter or found or ";", strict=True)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise FileRefused(_("The file is empty.")) from None
    except csv.Error as error:
        handle.close()
        raise FileRefused(
            _("The header is malformed: %(reason)s") % {"reason": error}, row=1
        ) from error
    columns = _columns(header)
    return Table(columns=columns, rows=_csv_rows(handle, reader, columns))


def _check_text(path: Path) -> None:
    """UTF-8 without NUL bytes, or a refusal naming the line at fault."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as reader:
        head = reader.read(2)
        if head in UTF16_BOMS:
            raise FileRefused(_("The file is UTF-16: save it as CSV UTF-8."))
        reader.seek(0)
        while chunk := reader.read(CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise FileRefused(
                    _("The file holds a NUL byte: it is binary or damaged."),
                    row=line + chunk.count(b"\n", 0, nul),
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # Mostly Windows-1252 exports: guessing would garble names.
                # (error.start may count up to 3 bytes left from the chunk before.)
                at = max(0, error.start - len(error.object) + len(chunk))
                raise FileRefused(
                    _(
                        "The file is not UTF-8 (byte 0x%(byte)02X): save it as CSV "
                        "UTF-8, then import it again."
                    )
                    % {"byte": error.object[error.start]},
                    row=line + chunk.count(b"\n", 0, at),
                ) from error
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise FileRefused(
                _("The file ends in the middle of a character."), row=line
            ) from error


def _delimiter(header_line: str) -> str | None:
    counts = {candidate: header_line.count(candidate) for candidate in DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else None


def _columns(header: list[str], *, row: int = 1) -> list[str]:
    columns = [name.strip() or f"({index})" for index, name in enumerate(header, 1)]
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise FileRefused(
                _("The column “%(name)s” appears twice in the header.")
                % {"name": name},
                row=row,
            )
        seen.add(name)
    return columns


def _csv_rows(handle: TextIO, reader: Any, columns: list[str]) -> Iterator[RawRow]:
    with handle:
        yield from _records(reader, columns)


def _records(reader: Any, columns: list[str]) -> Iterator[RawRow]:
    line = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # After a broken quote the reader cannot find the next row reliably.
            raise FileRefused(
                _("The file is malformed from this row on: %(reason)s")
                % {"reason": error},
                row=line + 1,
            ) from error
        number, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines, and rows of empty cells (";;;;")
        if len(record) == len(columns):
            yield RawRow(number, dict(zip(columns, record, strict=True)))
            continue
        # A short row gets empty cells: it is rejected for its length, and its
        # other cells are still checked.
        row = RawRow(number, dict.fromkeys(columns, ""))
        row.values.update(zip(columns, record, strict=False))
        # Named after the first column without a value, or the first surplus one.
        column = (
            columns[len(record)]
            if len(record) < len(columns)
            else f"({len(columns) + 1})"
        )
        row.problems.append(
            (
                column,
                _("The row has %(found)d fields, the header %(expected)d.")
                % {"found": len(record), "expected": len(columns)},
            )
        )
        yield row


# --- XLSX
def read_xlsx(staged: StagedFile) -> Table:
    import openpyxl

    try:
        # read_only streams the sheet; keep_links=False never loads external links.
        workbook = openpyxl.load_workbook(
            staged.path, read_only=True, data_only=False, keep_links=False
        )
        sheet = workbook.worksheets[0]
        cells = sheet.iter_rows()
        header_cells = next(
            (row for row in cells if any(c.value is not None for c in row)), None
        )
    # openpyxl raises a dozen kinds of exceptions on a damaged workbook.
    except Exception as error:
        raise FileRefused(_("The workbook is damaged or not an XLSX file.")) from error
    if header_cells is None:
        raise FileRefused(_("The workbook's first sheet is empty."))
    header_row = getattr(header_cells[0], "row", 1)
    names = [_cell_text(cell.value) for cell in header_cells]
    # Read-only sheets pad every row to the sheet's width: blank cells after the
    # last name are no columns (they were "(10)"), and a value under them is then
    # reported as lying beyond the header.
    while names and not names[-1].strip():
        names.pop()
    columns = _columns(names, row=header_row)
    notes = []
    if _has_merged_cells(workbook, sheet):
        notes.append(
            _(
                "The sheet has merged cells: a merged value is read in its first "
                "cell only, the others are empty."
            )
        )
    return Table(
        columns=columns,
        rows=_xlsx_rows(workbook, cells, columns, header_row),
        header_row=header_row,
        notes=notes,
    )


def _has_merged_cells(workbook: Any, sheet: Any) -> bool:
    """Whether the sheet's XML declares merged cells (read-only sheets do not say;
    they come after the rows, so the part is scanned in chunks)."""
    try:
        with workbook._archive.open(sheet._worksheet_path) as part:
            return any(
                b"<mergeCell" in text for text in overlapping_chunks(part, overlap=16)
            )
    except (KeyError, OSError, zipfile.BadZipFile, AttributeError):
        return False


def _xlsx_rows(
    workbook: Any, cells: Iterator[Iterable[Any]], columns: list[str], header_row: int
) -> Iterator[RawRow]:
    number = header_row
    try:
        for row_cells in cells:
            number += 1
            row_cells = tuple(row_cells)
            if not any(c.value not in (None, "") for c in row_cells):
                continue
            number = next((c.row for c in row_cells if getattr(c, "row", None)), number)
            row = RawRow(number, dict.fromkeys(columns, ""))
            for column, cell in zip(columns, row_cells, strict=False):
                if cell.data_type == "f":
                    row.problems.append(
                        (column, _("Formulas are not imported: paste the values."))
                    )
                elif cell.data_type == "e":
                    row.problems.append(
                        (
                            column,
                            _("The cell holds an error (%(value)s).")
                            % {"value": cell.value},
                        )
                    )
                row.values[column] = _cell_text(cell.value)
            if len(row_cells) > len(columns) and any(
                c.value not in (None, "") for c in row_cells[len(columns) :]
            ):
                row.problems.append((None, _("The row has cells beyond the header.")))
            yield row
    # SyntaxError: the XML parser's ParseError (a truncated sheet, an entity
    # expansion refused by expat).
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as error:
        raise FileRefused(_("The workbook is damaged."), row=number) from error
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Sheets store every number as a float: 1905.0 is the year 1905.
        return (
            str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        )
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


# --- GDAL layers (GeoPackage, GeoJSON, Shapefile)
def read_layer(
    staged: StagedFile,
    *,
    layer: str | None = None,
    where: str | None = None,
    only: tuple[str, ...] | None = None,
) -> Table:
    """``where``: an OGR SQL attribute filter (``dep IN ('13', '84')``), given by
    whoever runs the import — never taken from a request. ``only``: the columns
    to read (all when None)."""
    source = open_vector(staged)
    names = [source[index].name for index in range(len(source))]
    if layer is not None and layer not in names:
        raise FileRefused(
            _("The file has no layer “%(layer)s”; its layers: %(names)s.")
            % {"layer": layer, "names": ", ".join(names)}
        )
    if layer is None:
        if len(names) != 1:
            raise FileRefused(
                _("The file has %(count)d layers (%(names)s): name the one to import.")
                % {"count": len(names), "names": ", ".join(names)}
            )
        layer = names[0]
    chosen = source[layer]
    # A GeoPackage accepts any filter and fails when it runs: the count is then
    # -1 (``len(layer)`` raised ValueError on it).
    total = -1
    if not where or set_attribute_filter(chosen.ptr, where.encode()) == 0:
        total = chosen.num_feat
    if where and total < 0:
        raise FileRefused(
            _("The filter “%(where)s” is not valid OGR SQL.") % {"where": where}
        )
    # Filtered, rows are numbered by their feature id, as in the file (counted
    # within the filter, "row 11" named no feature anyone could find); GeoPackage
    # ids start at 1, the others' at 0.
    fid_offset = None if not where else (0 if staged.kind == "gpkg" else 1)
    return Table(
        columns=list(chosen.fields),
        rows=_layer_rows(chosen, only, fid_offset),
        srs=chosen.srs,
        spatial=True,
        total=total if total >= 0 else None,
        layer=layer,
    )


def _layer_rows(
    layer: Any, only: tuple[str, ...] | None, fid_offset: int | None
) -> Iterator[RawRow]:
    # The layer keeps its data source open. Field values are read through the C
    # API as text: Django's Field objects cost ~7× more (23,878 Cartofriches
    # features: 7 s against 1 s).
    columns = [
        (index, column)
        for index, column in enumerate(layer.fields)
        if only is None or column in only
    ]
    for ordinal, feature in enumerate(layer, start=1):
        number = ordinal if fid_offset is None else feature.fid + fid_offset
        row = RawRow(number, {})
        for index, column in columns:
            raw = gdal_ds.get_field_as_string(feature.ptr, index) or b""
            try:
                row.values[column] = raw.decode("utf-8")
            except UnicodeDecodeError:
                row.values[column] = raw.decode("utf-8", "replace")
                row.problems.append((column, _("The value is not valid UTF-8.")))
        try:
            ogr = feature.geom
        except GDALException:
            ogr = None  # no geometry: the building is kept, not located
        if ogr is not None:
            try:
                row.geometry = GEOSGeometry(memoryview(bytes(ogr.wkb)))
            except (GEOSException, ValueError):
                row.problems.append(
                    (
                        "geometry",
                        _("Unsupported geometry (%(type)s).") % {"type": ogr.geom_name},
                    )
                )
        yield row
