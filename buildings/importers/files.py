"""Untrusted files: staged into a private directory, checked, then opened safely.

reference/reliability.md G: a file is read from a path this module builds (never a
user string, so no ``/vsicurl/`` or ``/vsizip/`` chains reach GDAL), after its size,
its extension and its first bytes agree; archives are inspected before anything is
extracted; GDAL only ever gets the one driver the file's kind calls for, so a VRT
(which makes GDAL open other files or URLs) is never parsed, whatever its name.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from ctypes import c_char_p
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.gdal.driver import Driver
from django.contrib.gis.gdal.prototypes import ds as gdal_ds
from django.utils.translation import gettext as _

CHUNK = 1024 * 1024
HEAD_BYTES = 8192
# A shapefile needs a handful of members and a workbook a few dozen parts; a
# thousand is generous and still stops 10⁵-entry archives before any work.
MAX_ZIP_MEMBERS = 1000
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
SQLITE_MAGIC = b"SQLite format 3\x00"
KINDS_BY_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile",
}
# The one GDAL driver each kind may be opened with (GDALOpenEx's allow-list).
GDAL_DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON", "shapefile": "ESRI Shapefile"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_REQUIRED = (".shp", ".shx", ".dbf")
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")


class FileRefused(Exception):
    """The file cannot be imported at all; the message is for the person importing."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row


@dataclass(frozen=True)
class StagedFile:
    kind: str  # csv, xlsx, gpkg, geojson or shapefile
    path: Path  # inside the private directory; for a shapefile, its .shp


def stage(source: Path, *, name: str, directory: Path, max_bytes: int) -> StagedFile:
    """Copy ``source`` into ``directory`` under a server-made name and check it."""
    kind = _kind(name if Path(name).suffix else source.name)
    _refuse_special(source)
    try:
        status = source.stat()
    except OSError as error:
        raise FileRefused(_("The file cannot be read.")) from error
    if not stat.S_ISREG(status.st_mode):
        raise FileRefused(_("Only regular files can be imported."))
    if status.st_size == 0:
        raise FileRefused(_("The file is empty."))
    if status.st_size > max_bytes:
        raise FileRefused(_too_large(max_bytes))
    suffix = {"shapefile": ".zip"}.get(kind, "." + kind)
    staged = directory / f"upload{suffix}"
    _copy(source, staged, max_bytes=max_bytes)
    _check_content(kind, staged)
    if kind == "shapefile":
        return StagedFile(kind, _extract_shapefile(staged, directory, max_bytes))
    if kind == "xlsx":
        # A workbook is a zip archive: the same bomb and traversal checks apply
        # before openpyxl inflates any part of it.
        _inspect_zip(staged, max_bytes=max_bytes)
    return StagedFile(kind, staged)


def open_vector(staged: StagedFile) -> DataSource:
    """Open with GDAL, allowing only the driver of the file's kind."""
    Driver.ensure_registered()
    allowed = (c_char_p * 2)(GDAL_DRIVERS[staged.kind].encode(), None)
    try:
        pointer = gdal_ds.open_ds(
            os.fsencode(staged.path),
            gdal_ds.GDAL_OF_READONLY | gdal_ds.GDAL_OF_VECTOR,
            allowed,
            None,
            None,
        )
    except GDALException as error:
        raise FileRefused(
            _("GDAL cannot read this file as %(format)s: it is damaged or truncated.")
            % {"format": GDAL_DRIVERS[staged.kind]}
        ) from error
    return DataSource(pointer, ds_driver=gdal_ds.get_dataset_driver(pointer))


def _kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == ".vrt":
        raise FileRefused(
            _("VRT files are refused: they make GDAL open other files or URLs.")
        )
    if suffix == ".shp":
        raise FileRefused(
            _("Send a shapefile as one .zip holding its .shp, .shx, .dbf and .prj.")
        )
    try:
        return KINDS_BY_EXTENSION[suffix]
    except KeyError:
        raise FileRefused(
            _("“%(suffix)s” files cannot be imported; accepted: %(accepted)s.")
            % {
                "suffix": suffix or name,
                "accepted": ", ".join(sorted(KINDS_BY_EXTENSION)),
            }
        ) from None


def _refuse_special(source: Path) -> None:
    # GDAL reads "/vsicurl/…", "/vsizip/…" and friends as virtual file systems, and
    # some drivers take URLs or inline content for a file name.
    text = str(source)
    lowered = text.lower()
    if "/vsi" in lowered or "://" in text or lowered.startswith(("<", "{")):
        raise FileRefused(
            _("Only local files can be imported, not URLs or GDAL paths.")
        )


def _copy(source: Path, target: Path, *, max_bytes: int) -> None:
    # The size is counted while copying: the file may have grown since stat().
    copied = 0
    with source.open("rb") as reader, target.open("xb") as writer:
        while chunk := reader.read(CHUNK):
            copied += len(chunk)
            if copied > max_bytes:
                raise FileRefused(_too_large(max_bytes))
            writer.write(chunk)
    target.chmod(0o600)


def _too_large(max_bytes: int) -> str:
    return _("The file is larger than the limit of %(mb)d MB.") % {
        "mb": max_bytes // (1024 * 1024)
    }


def _check_content(kind: str, path: Path) -> None:
    """The first bytes must match the extension (reliability.md G1)."""
    with path.open("rb") as reader:
        head = reader.read(HEAD_BYTES)
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"<"):
        raise FileRefused(
            _("XML files (VRT, KML, GML…) are refused: this is not a %(kind)s file.")
            % {"kind": kind}
        )
    if kind in ("xlsx", "shapefile"):
        if head.startswith(EMPTY_ZIP_MAGIC):
            raise FileRefused(_("The archive is empty."))
        ok = head.startswith(ZIP_MAGIC)
    elif kind == "gpkg":
        ok = head.startswith(SQLITE_MAGIC)
    elif kind == "geojson":
        ok = stripped.startswith(b"{")
    else:
        ok = not head.startswith((ZIP_MAGIC, SQLITE_MAGIC))
    if not ok:
        raise FileRefused(
            _("The content of the file does not match its extension (%(kind)s).")
            % {"kind": kind}
        )
    if kind == "geojson" and _links_a_crs(path):
        raise FileRefused(
            _(
                "A GeoJSON “crs” given by a link is refused: GDAL would fetch it "
                "from the network. Name the CRS (EPSG code), or remove it and give "
                "the SRID (the SRID field, or --srid)."
            )
        )


# A "crs" object of the GeoJSON 2008 draft: {"type": "link", "properties": {"href":
# …}} makes GDAL's GeoJSON driver fetch the URL while opening the file (a "name"
# is resolved offline). Its members fit in this many bytes after "crs": {.
CRS_OBJECT = re.compile(rb'"crs"\s*:\s*\{')
CRS_WINDOW = 4096
CHUNK_BYTES = 1 << 20


def overlapping_chunks(reader: BinaryIO, *, overlap: int) -> Iterator[bytes]:
    """A large file's bytes a megabyte at a time, each chunk led by the last
    ``overlap`` bytes of the one before: a pattern of up to that length split
    across two reads is still seen whole."""
    tail = b""
    while chunk := reader.read(CHUNK_BYTES):
        text = tail + chunk
        yield text
        tail = text[-overlap:]


def _links_a_crs(path: Path) -> bool:
    """True when a "crs" object of the file mentions a link or an href (a GeoJSON
    file can be hundreds of megabytes)."""
    with path.open("rb") as reader:
        for text in overlapping_chunks(reader, overlap=CRS_WINDOW + 64):
            for match in CRS_OBJECT.finditer(text):
                window = text[match.end() : match.end() + CRS_WINDOW]
                if b'"link"' in window or b'"href"' in window:
                    return True
    return False


def _inspect_zip(path: Path, *, max_bytes: int) -> list[zipfile.ZipInfo]:
    """Refuse traversal, links, nested archives and bombs before extracting."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise FileRefused(_("The archive is damaged or truncated.")) from error
    if len(members) > MAX_ZIP_MEMBERS:
        raise FileRefused(
            _("The archive holds more than %(count)d files.")
            % {"count": MAX_ZIP_MEMBERS}
        )
    declared = 0
    for member in members:
        _check_member_name(member.filename)
        mode = member.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise FileRefused(
                _("The archive holds a symbolic link (“%(name)s”).")
                % {"name": member.filename}
            )
        if member.filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise FileRefused(
                _("Archives inside the archive are refused (“%(name)s”).")
                % {"name": member.filename}
            )
        # The declared sizes are checked first; extraction counts the real bytes,
        # since headers can lie (CPython #83522).
        declared += member.file_size
        if declared > max_bytes:
            raise FileRefused(
                _("Once unpacked, the archive would exceed %(mb)d MB.")
                % {"mb": max_bytes // (1024 * 1024)}
            )
    return members


def _check_member_name(name: str) -> None:
    posix = PurePosixPath(name.replace("\\", "/"))
    if (
        "\\" in name
        or "\x00" in name
        or posix.is_absolute()
        or ".." in posix.parts
        or (len(name) > 1 and name[1] == ":")
    ):
        raise FileRefused(
            _("The archive holds a file with an unsafe path (“%(name)s”).")
            % {"name": name}
        )


def _extract_shapefile(archive_path: Path, directory: Path, max_bytes: int) -> Path:
    members = _inspect_zip(archive_path, max_bytes=max_bytes)
    parts: dict[str, zipfile.ZipInfo] = {}
    for member in members:
        if member.is_dir() or PurePosixPath(member.filename).name.startswith("._"):
            continue  # folders, and macOS resource forks
        suffix = PurePosixPath(member.filename).suffix.lower()
        if suffix not in SHAPEFILE_PARTS:
            continue  # metadata (.xml, .qmd…) is not read
        if suffix in parts:
            raise FileRefused(
                _("The archive holds several shapefiles: send one per archive.")
            )
        parts[suffix] = member
    if ".shp" not in parts:
        raise FileRefused(_("The archive holds no shapefile (.shp)."))
    missing = [suffix for suffix in SHAPEFILE_REQUIRED if suffix not in parts]
    if missing:
        raise FileRefused(
            _("The shapefile is incomplete: %(missing)s missing.")
            % {"missing": ", ".join(missing)}
        )
    stems = {PurePosixPath(member.filename).stem for member in parts.values()}
    if len(stems) > 1:
        raise FileRefused(
            _("The shapefile's parts do not share one name: %(names)s.")
            % {"names": ", ".join(sorted(stems))}
        )
    extracted = 0
    with zipfile.ZipFile(archive_path) as archive:
        for suffix, member in parts.items():
            # Server-made names: nothing from the archive reaches the file system.
            target = directory / f"layer{suffix}"
            written = 0
            try:
                with archive.open(member) as reader, target.open("xb") as writer:
                    while chunk := reader.read(CHUNK):
                        written += len(chunk)
                        extracted += len(chunk)
                        if written > member.file_size or extracted > max_bytes:
                            raise FileRefused(
                                _("The archive unpacks to more than it declares.")
                            )
                        writer.write(chunk)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
                raise FileRefused(
                    _("The archive is damaged (“%(name)s”).")
                    % {"name": member.filename}
                ) from error
    return directory / "layer.shp"
