"""The feature collections served at /ogc/, declared once.

The views, the selectors, the queryables schema and the OpenAPI document are all
read from these declarations, so that a filter cannot be served without being
documented (/req/core/query-param-unknown: what the API definition lists is
exactly what is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from buildings.geojson import PUBLIC_PROPERTIES
from buildings.models import PUBLIC_STATUSES, Accessibility, AssetType

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# Part 3's relation type for the queryables resource (also used by pygeoapi, tipg).
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


class Kind(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class Queryable:
    """A feature property that is also an equality filter parameter of the items
    (/rec/core/fc-filters): ``?department=13`` or, for codes, a comma-separated
    list of values any of which matches (``style: form, explode: false``)."""

    name: str
    title: Promise
    kind: Kind = Kind.STRING
    enum: tuple[str, ...] = ()
    many: bool = True
    # Longest accepted value: longer ones cannot match and are refused as invalid.
    max_length: int = 20
    # INSEE codes: Corsica's letters are upper case in the data, and "2a004" is
    # 2A004 (codes are compared in upper case).
    code: bool = False

    @property
    def is_list(self) -> bool:
        return self.kind is Kind.STRING and self.many


@dataclass(frozen=True)
class Collection:
    id: str
    title: Promise
    description: Promise
    geometry_type: str  # GeoJSON type of every feature's geometry (one per layer)
    properties: tuple[str, ...]
    queryables: tuple[Queryable, ...]
    # Features have a temporal geometry: the datetime parameter filters on it.
    temporal: bool = False
    # Feature ids are integers (buildings) or codes (INSEE).
    integer_ids: bool = False

    def queryable(self, name: str) -> Queryable | None:
        return next((q for q in self.queryables if q.name == name), None)


_DEPARTMENT = Queryable(
    "department", _("Département (INSEE code)"), max_length=3, code=True
)
_COMMUNE = Queryable("commune", _("Commune (INSEE code)"), max_length=5, code=True)
_CODE = Queryable("code", _("INSEE code"), max_length=5, code=True)

BUILDINGS = Collection(
    id="buildings",
    title=_("Vacant State buildings"),
    description=_(
        "Vacant, assessed and available State buildings that are not confidential "
        "and have a known location (a point), with their public properties only; "
        "the CNIG export also holds those without a location. Temporal "
        "geometry: the vacancy period, from vacancy_since to next_use_date, both "
        "days included; an unknown date leaves that end open."
    ),
    geometry_type="Point",
    properties=PUBLIC_PROPERTIES,
    queryables=(
        _DEPARTMENT,
        _COMMUNE,
        Queryable("postal_code", _("Postal code"), max_length=5),
        Queryable(
            "status",
            _("Status"),
            enum=tuple(str(status) for status in PUBLIC_STATUSES),
        ),
        Queryable("asset_type", _("Asset type"), enum=tuple(AssetType.values)),
        Queryable(
            "accessibility", _("Accessibility"), enum=tuple(Accessibility.values)
        ),
        Queryable("erp", _("Open to the public (ERP)"), kind=Kind.BOOLEAN),
    ),
    temporal=True,
    integer_ids=True,
)
DEPARTEMENTS = Collection(
    id="departements",
    title=_("Départements"),
    description=_(
        "Départements with a known boundary, with the number and the total "
        "surface (m²) of the public vacant State buildings there, located or not. "
        "Features have no temporal geometry: datetime matches them all."
    ),
    geometry_type="MultiPolygon",
    properties=("code", "name", "region", "vacant_buildings", "vacant_surface_m2"),
    queryables=(
        Queryable("code", _("INSEE code"), max_length=3, code=True),
        Queryable("region", _("Region (INSEE code)"), max_length=2),
    ),
)
COMMUNES = Collection(
    id="communes",
    title=_("Communes"),
    description=_(
        "Communes with a known boundary, with the number and the total surface "
        "(m²) of the public vacant State buildings there, located or not. "
        "Features have no temporal geometry: datetime matches them all."
    ),
    geometry_type="MultiPolygon",
    properties=("code", "name", "department", "vacant_buildings", "vacant_surface_m2"),
    queryables=(_CODE, _DEPARTMENT),
)

COLLECTIONS: dict[str, Collection] = {
    collection.id: collection for collection in (BUILDINGS, DEPARTEMENTS, COMMUNES)
}
