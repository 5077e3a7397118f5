"""Geometry conventions: storage in EPSG:4326, metres on the spheroid or in the
territory's legal projection (reference/domain.md §C.1, "CRS policy")."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.contrib.gis.db.models import PointField
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import connection
from django.db.models import BooleanField, FloatField, Func, Value
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

STORAGE_SRID = 4326
LAMBERT_93 = 2154
# Legal projections of the overseas départements (domain.md §C.1).
OVERSEAS_SRID = {
    "971": 5490,  # Guadeloupe, RGAF09 UTM 20N
    "972": 5490,  # Martinique
    "973": 2972,  # Guyane, RGFG95 UTM 22N
    "974": 2975,  # La Réunion, RGR92 UTM 40S
    "975": 4467,  # Saint-Pierre-et-Miquelon
    "976": 4471,  # Mayotte, RGM04 UTM 38S
}


def legal_srid(department: str | None) -> int:
    return OVERSEAS_SRID.get(department or "", LAMBERT_93)


def area_m2(geometry: GEOSGeometry, *, department: str | None = None) -> Decimal:
    projected = geometry.transform(legal_srid(department), clone=True)
    return Decimal(str(round(projected.area, 2)))


def geography(field: str) -> Cast:
    """``field::geography``: distances in metres on the spheroid.

    Building.point has a GiST index on this very expression, so ``DWithin``
    below is index-assisted.
    """
    return Cast(field, output_field=PointField(geography=True, srid=STORAGE_SRID))


def _point_geography(point: Point) -> Cast:
    return Cast(
        Value(point.ewkt), output_field=PointField(geography=True, srid=STORAGE_SRID)
    )


class DWithinMetres(Func):
    """True when ``field`` lies within ``metres`` of ``point`` (geodesic)."""

    function = "ST_DWithin"
    output_field = BooleanField()

    def __init__(self, field: str, point: Point, metres: float, **extra: Any) -> None:
        super().__init__(
            geography(field), _point_geography(point), Value(float(metres)), **extra
        )


class DistanceMetres(Func):
    function = "ST_Distance"
    output_field = FloatField()

    def __init__(self, field: str, point: Point, **extra: Any) -> None:
        super().__init__(geography(field), _point_geography(point), **extra)


def within_metres(first: GEOSGeometry, second: GEOSGeometry, metres: float) -> bool:
    """True when two geometries in storage's CRS come within ``metres`` of each
    other (geodesic, PostGIS's ``ST_DWithin`` on geography: 0 when one covers
    the other)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_DWithin(%s::geography, %s::geography, %s)",
            [first.hexewkb.decode(), second.hexewkb.decode(), float(metres)],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


# GEOS's reasons for an invalid polygon (its words, English only), as said here.
_INVALIDITY = {
    "Self-intersection": _("its rings cross themselves or each other"),
    "Ring Self-intersection": _("a ring crosses itself"),
    "Too few points in geometry component": _("a ring has fewer than four points"),
    "Hole lies outside shell": _("a hole lies outside its outline"),
    "Nested holes": _("a hole lies within another"),
    "Interior is disconnected": _("its holes cut it in pieces"),
    "Nested shells": _("a polygon lies within another"),
    "Duplicate Rings": _("a ring is repeated"),
    "Ring is not closed": _("a ring is not closed"),
}
_GEOS_REASON = re.compile(r"^([^\[]*?)\s*(?:\[([-0-9.e+]+) ([-0-9.e+]+)\])?$")


def invalidity(geometry: GEOSGeometry) -> str:
    """Why ``geometry`` is not valid, translated, with where when GEOS says."""
    match = _GEOS_REASON.match(geometry.valid_reason)
    reason = _INVALIDITY.get(
        match.group(1) if match else "", _("its rings are malformed")
    )
    if match and match.group(2):
        return _("%(reason)s, near %(x).6f, %(y).6f") % {
            "reason": reason,
            "x": float(match.group(2)),
            "y": float(match.group(3)),
        }
    return str(reason)
