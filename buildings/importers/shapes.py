"""Geometries from files: into EPSG:4326, repaired, checked, split into point and
footprint (reference/domain.md §C.1, "CRS policy")."""

from __future__ import annotations

import contextlib
import functools
import math
import re
import struct
from dataclasses import dataclass

from django.contrib.gis.gdal import (
    CoordTransform,
    GDALException,
    SpatialReference,
    SRSException,
)
from django.contrib.gis.geos import (
    GeometryCollection,
    GEOSException,
    GEOSGeometry,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    WKBWriter,
    WKTReader,
)
from django.utils.translation import gettext as _

from buildings.geometry import LAMBERT_93, STORAGE_SRID, invalidity
from buildings.importers.files import FileRefused
from buildings.importers.values import RowIssues

# (min, max) longitude and latitude of mainland France and Corsica: a point of a
# metropolitan département outside them is wrong, and if swapping its axes brings
# it inside, they were swapped (the classic lat/lon mix-up).
METROPOLE_LON = (-5.5, 10.0)
METROPOLE_LAT = (41.0, 51.5)
# Lambert-93 coordinates of the same territory, with a margin (domain.md §C.1).
LAMBERT_93_X = (100_000.0, 1_300_000.0)
LAMBERT_93_Y = (6_000_000.0, 7_200_000.0)
_2D = WKBWriter()  # writes two dimensions: the columns hold 2D geometries
# A 2D point as (E)WKB, little-endian: byte order, type (0x20000000: an SRID
# follows), [SRID], x, y.
WKB_POINT = struct.Struct("<BIdd")
EWKB_POINT = struct.Struct("<BIIdd")
EWKT = re.compile(r"^SRID=([0-9]+);(.*)$", re.DOTALL | re.IGNORECASE)
WKT_START = re.compile(r"^[A-Za-z]+\s*[(A-Za-z]")


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A point in EPSG:4326, as two floats. Made and written per row: a GEOS Point
    costs more to build and serialise than all of a row's other checks."""

    x: float
    y: float

    @property
    def hexewkb(self) -> str:
        """The geometry column's text input (hex EWKB, SRID 4326)."""
        return EWKB_POINT.pack(1, 0x20000001, STORAGE_SRID, self.x, self.y).hex()

    @property
    def hex(self) -> str:
        """WKB in upper-case hex, as ``GEOSGeometry.hex`` writes a 2D point."""
        return WKB_POINT.pack(1, 1, self.x, self.y).hex().upper()


@dataclass(frozen=True)
class Location:
    point: Coordinates | None
    footprint: MultiPolygon | None

    def fields(self) -> dict[str, Coordinates | MultiPolygon | None]:
        """The Building fields this location writes: the point, and the
        footprint only when the source has one (a file of points does not erase
        a footprint drawn before)."""
        written: dict[str, Coordinates | MultiPolygon | None] = {"point": self.point}
        if self.footprint is not None:
            written["footprint"] = self.footprint
        return written


NOT_LOCATED = Location(None, None)


class Projection:
    """The CRS a file's coordinates are in, and the way from it to EPSG:4326."""

    def __init__(self, srs: SpatialReference) -> None:
        srid = srs.srid
        if srid is None:
            # An ESRI .prj often names Lambert-93 without its EPSG code.
            with contextlib.suppress(GDALException, SRSException):
                srs.identify_epsg()
            srid = srs.srid
        self.srs = srs
        self.srid: int | None = srid
        self.geographic = bool(srs.geographic)
        self.name = f"EPSG:{srid}" if srid else (srs.name or "?")
        self.transform: CoordTransform | None = None
        if srid != STORAGE_SRID:
            try:
                self.transform = CoordTransform(srs, SpatialReference(STORAGE_SRID))
            except (GDALException, SRSException) as error:
                raise FileRefused(
                    _("Coordinates in %(crs)s cannot be transformed to WGS84.")
                    % {"crs": self.name}
                ) from error

    @classmethod
    def from_srid(cls, srid: int) -> Projection:
        try:
            return cls(SpatialReference(srid))
        except (GDALException, SRSException) as error:
            raise FileRefused(
                _("EPSG:%(srid)s is not a coordinate reference system GDAL knows.")
                % {"srid": srid}
            ) from error

    @classmethod
    def for_file(
        cls, *, declared: SpatialReference | None, srid: int | None, kind: str
    ) -> tuple[Projection, str | None]:
        """The file's projection and, when --srid overrides its own, a warning."""
        if srid is not None:
            chosen = cls.from_srid(srid)
            if declared is not None:
                own = cls(declared)
                if own.srid != chosen.srid:
                    return chosen, _(
                        "The file declares %(own)s; EPSG:%(srid)s was used as asked."
                    ) % {"own": own.name, "srid": srid}
            return chosen, None
        if declared is not None:
            return cls(declared), None
        if kind == "shapefile":
            raise FileRefused(
                _(
                    "The shapefile has no usable .prj: give its coordinate reference "
                    "system (for Lambert-93, EPSG 2154)."
                )
            )
        # CSV and XLSX coordinates, like GeoJSON (RFC 7946), default to WGS84.
        return wgs84(), None


def parse_wkt(
    issues: RowIssues, column: str, value: str, projection: Projection
) -> GEOSGeometry | None:
    """A WKT (or EWKT) cell; None when empty. Only WKT: GEOSGeometry would also
    take GeoJSON or hex WKB from a string, which a cell should not smuggle in."""
    text = value.strip()
    if not text or text.upper() in ("NA", "NULL", "-"):
        return None
    match = EWKT.match(text)
    if match:
        if projection.srid != int(match.group(1)):
            issues.error(
                column,
                _("The geometry says SRID=%(srid)s; the file is read in %(crs)s.")
                % {"srid": match.group(1), "crs": projection.name},
            )
            return None
        text = match.group(2)
    if not WKT_START.match(text):
        issues.error(column, _("The geometry is not WKT (e.g. POINT (5.37 43.30))."))
        return None
    try:
        # A reader per call: GEOS readers are not to be shared across threads.
        return WKTReader().read(text)
    except (GEOSException, ValueError):
        issues.error(
            column,
            _("“%(value)s” is not valid WKT.") % {"value": text[:60]},
        )
        return None


@functools.cache
def wgs84() -> Projection:
    return Projection.from_srid(STORAGE_SRID)


def locate(
    issues: RowIssues,
    column: str,
    geometry: GEOSGeometry,
    projection: Projection,
    *,
    metropolitan: bool | None,
) -> Location | None:
    """The point and footprint of ``geometry``; None (and errors) when unusable.

    ``metropolitan``: True when the row says it is in mainland France or Corsica,
    False when it says it is elsewhere, None when it does not say.
    """
    if geometry.empty:
        issues.error(column, _("The geometry is empty."))
        return None
    if isinstance(geometry, Point):
        x, y = geometry.coords[:2]
        return locate_point(issues, column, x, y, projection, metropolitan=metropolitan)
    if geometry.hasz:
        geometry = GEOSGeometry(_2D.write(geometry))
    geometry.srid = projection.srid
    if not _in_source_range(issues, column, geometry.extent, projection):
        return None
    if projection.transform is not None:
        try:
            geometry.transform(projection.transform)
        except (GDALException, GEOSException):
            issues.error(column, _cannot_transform(projection))
            return None
    geometry.srid = STORAGE_SRID
    if not geometry.valid:
        reason = invalidity(geometry)
        geometry = geometry.make_valid()
        issues.warn(
            column,
            _("The geometry was invalid (%(reason)s) and has been repaired.")
            % {"reason": reason},
        )
    location = _split(issues, column, geometry)
    if location is None or location.point is None:
        return location
    point = location.point
    if not _plausible(issues, column, point.x, point.y, metropolitan=metropolitan):
        return None
    return location


def locate_point(
    issues: RowIssues,
    column: str,
    x: float,
    y: float,
    projection: Projection,
    *,
    metropolitan: bool | None,
) -> Location | None:
    """``locate`` for coordinates: checked as numbers, one GEOS object at the end
    (a per-row GEOS round trip costs more than the rest of a row's checks)."""
    if not _in_source_range(issues, column, (x, y, x, y), projection):
        return None
    lon, lat = x, y
    if projection.transform is not None:
        transformed = _transformed(x, y, projection)
        if transformed is None:
            issues.error(column, _cannot_transform(projection))
            return None
        lon, lat = transformed
        if metropolitan is not False and not _in_mainland(lon, lat):
            swapped = _transformed(y, x, projection)
            if swapped is not None and _in_mainland(*swapped):
                issues.error(
                    column,
                    _("X and Y appear swapped (%(crs)s).") % {"crs": projection.name},
                )
                return None
    if not _plausible(issues, column, lon, lat, metropolitan=metropolitan):
        return None
    return Location(Coordinates(lon, lat), None)


def _transformed(
    x: float, y: float, projection: Projection
) -> tuple[float, float] | None:
    if projection.transform is None:
        return x, y
    point = Point(x, y, srid=projection.srid)
    try:
        point.transform(projection.transform)
    except (GDALException, GEOSException):
        return None
    return point.x, point.y


def _in_mainland(lon: float, lat: float) -> bool:
    return _within(lon, lon, METROPOLE_LON) and _within(lat, lat, METROPOLE_LAT)


def _cannot_transform(projection: Projection) -> str:
    return _("The geometry cannot be transformed from %(crs)s to WGS84.") % {
        "crs": projection.name
    }


def _in_source_range(
    issues: RowIssues,
    column: str,
    extent: tuple[float, float, float, float],
    projection: Projection,
) -> bool:
    xmin, ymin, xmax, ymax = extent
    if not (
        math.isfinite(xmin)
        and math.isfinite(ymin)
        and math.isfinite(xmax)
        and math.isfinite(ymax)
    ):
        issues.error(column, _("The coordinates are not finite numbers."))
        return False
    if projection.geographic:
        if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
            return True
        issues.error(
            column,
            _(
                "(%(x)s, %(y)s) are not longitude and latitude: for projected "
                "coordinates, give the coordinate reference system (Lambert-93 is "
                "EPSG 2154)."
            )
            % {"x": _short(xmin), "y": _short(ymin)},
        )
        return False
    if projection.srid == LAMBERT_93:
        if _within(xmin, xmax, LAMBERT_93_X) and _within(ymin, ymax, LAMBERT_93_Y):
            return True
        if _within(ymin, ymax, LAMBERT_93_X) and _within(xmin, xmax, LAMBERT_93_Y):
            issues.error(column, _("X and Y appear swapped (Lambert-93)."))
        else:
            issues.error(
                column,
                _("(%(x)s, %(y)s) lies outside the Lambert-93 area (mainland France).")
                % {"x": _short(xmin), "y": _short(ymin)},
            )
        return False
    return True


def _split(issues: RowIssues, column: str, geometry: GEOSGeometry) -> Location | None:
    if isinstance(geometry, Point):
        return Location(Coordinates(geometry.x, geometry.y), None)
    if isinstance(geometry, MultiPoint) and len(geometry) == 1:
        single = geometry[0]
        return Location(Coordinates(single.x, single.y), None)
    polygons: list[Polygon] = []
    if isinstance(geometry, Polygon):
        polygons = [geometry]
    elif isinstance(geometry, GeometryCollection):
        # MultiPolygons, and what make_valid returns: a collection with polygons
        # and the stray lines or points a self-intersection left.
        for part in geometry:
            if isinstance(part, Polygon):
                polygons.append(part)
            elif isinstance(part, MultiPolygon):
                polygons.extend(p for p in part if isinstance(p, Polygon))
        if not polygons and geometry.geom_type == "GeometryCollection":
            issues.error(column, _("The geometry has no area once repaired."))
            return None
    if not polygons:
        issues.error(
            column,
            _("Only points and polygons are imported, not %(type)s.")
            % {"type": geometry.geom_type},
        )
        return None
    footprint = MultiPolygon(*polygons, srid=STORAGE_SRID)
    surface_point = footprint.point_on_surface
    return Location(Coordinates(surface_point.x, surface_point.y), footprint)


def _plausible(
    issues: RowIssues,
    column: str,
    lon: float,
    lat: float,
    *,
    metropolitan: bool | None,
) -> bool:
    if metropolitan is False:
        return True
    inside = _in_mainland(lon, lat)
    swapped = _in_mainland(lat, lon)
    if inside:
        return True
    if swapped:
        issues.error(
            column,
            _(
                "Latitude and longitude appear swapped: (lon %(lon)s, lat %(lat)s) "
                "would be in mainland France the other way round."
            )
            % {"lon": _short(lon), "lat": _short(lat)},
        )
        return False
    if metropolitan:
        issues.error(
            column,
            _(
                "(lon %(lon)s, lat %(lat)s) lies outside mainland France, where its "
                "département is."
            )
            % {"lon": _short(lon), "lat": _short(lat)},
        )
        return False
    return True


def _within(low: float, high: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= low <= high <= bounds[1]


def _short(number: float) -> str:
    return f"{number:.6g}"
