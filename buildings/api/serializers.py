"""Translation between HTTP and the inventory: a GeoJSON Feature for one building,
the write input checked for shape (geometry, identifiers, territory), and the
schema of the list, whose bytes PostGIS writes (buildings/geojson.py)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import (
    GEOSException,
    GEOSGeometry,
    MultiPolygon,
    Point,
    Polygon,
)
from django.core.exceptions import SuspiciousOperation
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import (
    ResolvedComponent,
    build_array_type,
    build_object_type,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from buildings.api.pagination import ORDERING_CHOICES
from buildings.geojson import (
    AGENT_PROPERTIES,
    PRECISION,
    PUBLIC_PROPERTIES,
    GeometryKind,
)
from buildings.geometry import invalidity
from buildings.importers.shapes import LAMBERT_93_X, LAMBERT_93_Y
from buildings.models import (
    PARCEL_ID_PATTERN,
    RNB_ID_PATTERN,
    Building,
    BuildingStatus,
    BuildingStatusChange,
    Friche,
    Site,
)
from buildings.selectors import NEARBY_DEFAULT_M, NEARBY_MAX_M, site_list
from buildings.services import EDITABLE_FIELDS, allowed_transitions
from config.forms import DAY_VALIDATORS
from config.queries import OnceQuerySerializer
from config.relations import ScopedPrimaryKeyRelatedField

DECIMAL_FIELDS = ("surface_m2", "energy_kwh_ef", "guarding_cost_monthly")
# Numbers as JSON numbers, as the PostGIS-built list writes them.
_NUMBERS = {name: {"coerce_to_string": False} for name in DECIMAL_FIELDS}


class CounterClockwiseGeometryField(GeometryField):  # type: ignore[misc]
    """RFC 7946 §3.1.6: exterior rings counter-clockwise, holes clockwise."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, Polygon | MultiPolygon):
            value = _counter_clockwise(value)
        return super().to_representation(value)


def _counter_clockwise(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    if isinstance(geometry, MultiPolygon):
        return MultiPolygon(
            *(_counter_clockwise(cast(Polygon, polygon)) for polygon in geometry),
            srid=geometry.srid,
        )
    rings = []
    for index, ring in enumerate(geometry):
        coords = ring.coords
        # The exterior (index 0) turns counter-clockwise, holes the other way.
        if ring.is_counterclockwise != (index == 0):
            coords = coords[::-1]
        rings.append(coords)
    return Polygon(*rings, srid=geometry.srid)


@extend_schema_field(OpenApiTypes.STR)  # replaced by StatusFieldExtension
class StatusField(serializers.ChoiceField):
    """A building status. One schema component for every field that holds one:
    drf-spectacular would name the same choices after each field (status,
    to_status, to…) and warn about the duplicates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=BuildingStatus.choices, **kwargs)


class StatusFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = StatusField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name="BuildingStatusEnum",
            type=ResolvedComponent.SCHEMA,
            object="BuildingStatusEnum",
            schema={"type": "string", "enum": list(BuildingStatus.values)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# --- Read
class NearbyFricheSerializer(serializers.ModelSerializer[Friche]):
    distance_m = serializers.DecimalField(
        max_digits=9, decimal_places=1, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = Friche
        fields = (
            "site_id", "site_nom", "site_type", "site_statut", "comm_insee",
            "distance_m",
        )  # fmt: skip
        read_only_fields = fields


class NearbyBuildingSerializer(serializers.ModelSerializer[Building]):
    status = StatusField(read_only=True)
    distance_m = serializers.DecimalField(
        max_digits=9, decimal_places=1, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = Building
        fields = ("id", "designation", "status", "distance_m")
        read_only_fields = fields


class StatusChangeSerializer(serializers.ModelSerializer[BuildingStatusChange]):
    from_status = StatusField(read_only=True)
    to_status = StatusField(read_only=True)
    changed_by = serializers.CharField(
        source="changed_by.username", allow_null=True, default=None, read_only=True
    )

    class Meta:
        model = BuildingStatusChange
        fields = ("from_status", "to_status", "reason", "changed_by", "changed_at")
        read_only_fields = fields


class BuildingFeatureSerializer(GeoFeatureModelSerializer):  # type: ignore[misc]
    """One building as a GeoJSON Feature, with what lies around it.

    Context: ``nearby_friches`` and ``nearby_buildings`` (querysets from
    buildings.selectors, with ``distance_m``), read by the view.
    """

    point = GeometryField(precision=PRECISION, read_only=True)
    status = StatusField(read_only=True)
    footprint = CounterClockwiseGeometryField(
        precision=PRECISION, read_only=True, allow_null=True
    )
    nearby_friches = serializers.SerializerMethodField()
    nearby_buildings = serializers.SerializerMethodField()

    class Meta:
        model = Building
        geo_field = "point"
        fields: tuple[str, ...] = (
            "id",
            "point",
            *PUBLIC_PROPERTIES,
            "footprint",
            "nearby_friches",
            "nearby_buildings",
        )
        read_only_fields = fields
        extra_kwargs = _NUMBERS

    @extend_schema_field(NearbyFricheSerializer(many=True))
    def get_nearby_friches(self, building: Building) -> Any:
        return NearbyFricheSerializer(self.context["nearby_friches"], many=True).data

    @extend_schema_field(NearbyBuildingSerializer(many=True))
    def get_nearby_buildings(self, building: Building) -> Any:
        return NearbyBuildingSerializer(
            self.context["nearby_buildings"], many=True
        ).data


class AgentBuildingFeatureSerializer(BuildingFeatureSerializer):
    """The Feature as State agents read it (context adds ``status_history``)."""

    status_history = serializers.SerializerMethodField()
    suitability_details = serializers.JSONField(
        read_only=True,
        help_text=_(
            "Per use (shelter, workspace, mixed) and criterion: weight, value "
            "(null when unknown) and contribution to the stored score."
        ),
    )
    allowed_transitions = serializers.SerializerMethodField(
        help_text=_("Statuses POST …/transition/ accepts from the current one.")
    )

    class Meta(BuildingFeatureSerializer.Meta):
        fields = (
            "id",
            "point",
            *AGENT_PROPERTIES,
            "footprint",
            "suitability_details",
            "nearby_friches",
            "nearby_buildings",
            "allowed_transitions",
            "status_history",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=StatusField()))
    def get_allowed_transitions(self, building: Building) -> list[str]:
        return allowed_transitions(building)

    @extend_schema_field(StatusChangeSerializer(many=True))
    def get_status_history(self, building: Building) -> Any:
        return StatusChangeSerializer(self.context["status_history"], many=True).data


class BuildingPropertiesSerializer(serializers.ModelSerializer[Building]):
    """The ``properties`` of a list Feature (State agents'; others get the public
    subset). Used for the schema only: PostGIS writes the list.

    The public properties are always there; the agents' others only for agents,
    so the schema does not require them (drf-spectacular requires every read-only
    field: these are declared optional instead, and are never written)."""

    status = StatusField(read_only=True)

    class Meta:
        model = Building
        fields = AGENT_PROPERTIES
        read_only_fields = PUBLIC_PROPERTIES
        extra_kwargs = {
            name: {
                **_NUMBERS.get(name, {}),
                **({} if name in PUBLIC_PROPERTIES else {"required": False}),
            }
            for name in AGENT_PROPERTIES
        }


@extend_schema_serializer(many=False)
class BuildingFeatureCollectionSerializer(serializers.Serializer[Any]):
    """Schema of GET /buildings/ (see the extension below). Never instantiated
    on the request path: serialising feature by feature is what the list avoids."""


def _position() -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 2,
        "maxItems": 2,
        "description": "longitude, latitude (WGS84)",
    }


class BuildingFeatureCollectionExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = BuildingFeatureCollectionSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        properties = auto_schema.resolve_serializer(
            BuildingPropertiesSerializer, direction
        )
        ring = build_array_type(_position(), min_length=4)
        point = build_object_type(
            properties={
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": _position(),
            },
            required=["type", "coordinates"],
        )
        multipolygon = build_object_type(
            properties={
                "type": {"type": "string", "enum": ["MultiPolygon"]},
                "coordinates": build_array_type(build_array_type(ring)),
            },
            required=["type", "coordinates"],
        )
        feature = build_object_type(
            properties={
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "integer"},
                "geometry": {
                    "oneOf": [point, multipolygon],
                    "nullable": True,
                    "description": "Point, or the footprint with geometry=footprint "
                    "(null where none is known).",
                },
                "properties": properties.ref,
            },
            required=["type", "id", "geometry", "properties"],
        )
        link = build_object_type(
            properties={
                "rel": {"type": "string", "enum": ["self", "next", "prev"]},
                "href": {"type": "string", "format": "uri"},
                "type": {"type": "string"},
            },
            required=["rel", "href", "type"],
        )
        return build_object_type(
            properties={
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": build_array_type(feature),
                "links": build_array_type(link),
                "numberMatched": {"type": "integer"},
                "numberMatchedIsEstimate": {
                    "type": "boolean",
                    "description": "true when numberMatched is the planner's "
                    "estimate (more matches than the exact-count cap).",
                },
                "numberReturned": {"type": "integer"},
                "timeStamp": {"type": "string", "format": "date-time"},
            },
            required=[
                "type",
                "features",
                "links",
                "numberMatched",
                "numberMatchedIsEstimate",
                "numberReturned",
                "timeStamp",
            ],
        )


class NearbyQuerySerializer(OnceQuerySerializer):
    radius = serializers.FloatField(
        required=False,
        default=NEARBY_DEFAULT_M,
        help_text=_("Radius of the nearby lists, in metres (geodesic)."),
    )

    def validate_radius(self, value: float) -> float:
        if not math.isfinite(value) or not 0 < value <= NEARBY_MAX_M:
            raise serializers.ValidationError(
                _("Give a radius in metres, above 0 and up to %(max)d.")
                % {"max": NEARBY_MAX_M}
            )
        return value


# --- Write
# The projected CRSs a write may use, with the coordinates they take (metres):
# Lambert-93 over mainland France and Corsica, Web Mercator's square. Checked
# before transforming: PROJ spent minutes, then forever, on 1e17 and beyond in
# EPSG:3857, inside the request's transaction and its row lock.
PROJECTED_INPUT = {
    2154: (LAMBERT_93_X, LAMBERT_93_Y),
    3857: ((-20_037_508.35, 20_037_508.35), (-20_048_966.11, 20_048_966.11)),
}


# The GeoJSON "crs" names a write may use (GeoJSON 2008; RFC 7946 dropped the
# member: without it, WGS84 longitude, latitude), and the SRID each stands for.
# EPSG's own 4326 (urn:ogc:def:crs:EPSG::4326, …/EPSG/0/4326) orders latitude
# first while clients send it both ways: it is refused rather than guessed.
CRS_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84": 4326,
    "urn:ogc:def:crs:ogc::crs84": 4326,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": 4326,
    "epsg:4326": 4326,
    "epsg:2154": 2154,
    "urn:ogc:def:crs:epsg::2154": 2154,
    "http://www.opengis.net/def/crs/epsg/0/2154": 2154,
    "epsg:3857": 3857,
    "urn:ogc:def:crs:epsg::3857": 3857,
    "http://www.opengis.net/def/crs/epsg/0/3857": 3857,
}
LATITUDE_FIRST = {
    "urn:ogc:def:crs:epsg::4326",
    "http://www.opengis.net/def/crs/epsg/0/4326",
}
CRS_REFUSED = _(
    "Give WGS84 longitude, latitude without a crs member, or name "
    "urn:ogc:def:crs:OGC:1.3:CRS84, EPSG:4326, EPSG:2154 or EPSG:3857."
)
NOT_A_GEOMETRY = _("Send a GeoJSON geometry, WKT, EWKT or hex EWKB.")


class InputGeometryField(GeometryField):  # type: ignore[misc]
    """A geometry to write: its GeoJSON crs read here, among the CRSs taken,
    and plain messages where GDAL and GEOS would give theirs (a ctypes pointer,
    a parser's exception)."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError as error:
                raise serializers.ValidationError(NOT_A_GEOMETRY) from error
        if isinstance(value, dict):
            return _from_geojson(value)
        if not isinstance(value, str):
            raise serializers.ValidationError(NOT_A_GEOMETRY)
        return _parsed(value)


def _from_geojson(value: dict[str, Any]) -> GEOSGeometry:
    srid = _crs_srid(value.get("crs"))
    # Parsed without its crs member: GDAL would read it again (and fetch a "link").
    geometry = _parsed(json.dumps({k: v for k, v in value.items() if k != "crs"}))
    geometry.srid = srid
    return geometry


def _crs_srid(crs: Any) -> int:
    """The SRID a GeoJSON crs member names (absent or null: WGS84)."""
    if crs is None:
        return 4326
    if not isinstance(crs, dict) or crs.get("type") != "name":
        raise serializers.ValidationError(CRS_REFUSED)
    properties = crs.get("properties")
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str):
        raise serializers.ValidationError(CRS_REFUSED)
    if name.strip().lower() in LATITUDE_FIRST:
        raise serializers.ValidationError(
            _(
                "%(crs)s orders latitude first: send longitude, latitude without "
                "a crs member (RFC 7946) or with urn:ogc:def:crs:OGC:1.3:CRS84."
            )
            % {"crs": name}
        )
    srid = CRS_NAMES.get(name.strip().lower())
    if srid is None:
        raise serializers.ValidationError(CRS_REFUSED)
    return srid


def _parsed(text: str) -> GEOSGeometry:
    try:
        return GEOSGeometry(text)
    except (
        GEOSException,
        GDALException,
        SuspiciousOperation,
        ValueError,
        TypeError,
    ) as error:
        raise serializers.ValidationError(NOT_A_GEOMETRY) from error


def _in_wgs84(geometry: GEOSGeometry) -> GEOSGeometry:
    """Input in another CRS is moved to storage's; 2D only; within bounds: the
    source CRS's before transforming, lon/lat after."""
    if geometry.hasz:
        raise serializers.ValidationError(_("Give 2D coordinates (no elevation)."))
    if geometry.empty:
        raise serializers.ValidationError(_("The geometry is empty."))
    extent: tuple[float, ...]
    try:
        # GEOS gives NaN coordinates an empty envelope, which ``extent`` cannot
        # unpack (a ValueError, a 500).
        extent = geometry.extent
    except ValueError:
        extent = ()
    if len(extent) != 4 or not all(math.isfinite(value) for value in extent):
        raise serializers.ValidationError(_("The coordinates are not finite numbers."))
    if geometry.srid not in (None, 4326):
        bounds = PROJECTED_INPUT.get(geometry.srid)
        if bounds is None:
            raise serializers.ValidationError(
                _("Give WGS84 (EPSG:4326), Lambert-93 (EPSG:2154) or EPSG:3857.")
            )
        (x_low, x_high), (y_low, y_high) = bounds
        xmin, ymin, xmax, ymax = extent
        if not (x_low <= xmin <= xmax <= x_high and y_low <= ymin <= ymax <= y_high):
            raise serializers.ValidationError(
                _("The coordinates lie outside EPSG:%(srid)d's area.")
                % {"srid": geometry.srid}
            )
        try:
            geometry = geometry.transform(4326, clone=True)
        except GDALException as error:
            raise serializers.ValidationError(
                _("The geometry cannot be transformed to WGS84.")
            ) from error
    geometry.srid = 4326
    xmin, ymin, xmax, ymax = geometry.extent
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise serializers.ValidationError(
            _("Coordinates must be longitude, latitude in WGS84 (EPSG:4326).")
        )
    return geometry


def _writable_sites(context: Mapping[str, Any]) -> QuerySet[Site]:
    return site_list(departments=context["departments"])


class BuildingWriteSerializer(serializers.ModelSerializer[Building]):
    """What an agent sends to create or change a building: shapes only; the
    services (buildings.services) hold the rules.

    Context: ``departments``, the départements the caller may write in (None: all).
    """

    point = InputGeometryField(
        required=False,
        allow_null=True,
        help_text=_("GeoJSON Point, longitude and latitude in WGS84."),
    )
    footprint = InputGeometryField(
        required=False,
        allow_null=True,
        help_text=_("GeoJSON Polygon or MultiPolygon, WGS84."),
    )
    parcel_ids = serializers.ListField(
        child=serializers.CharField(
            validators=[
                RegexValidator(
                    PARCEL_ID_PATTERN,
                    _(
                        "A cadastral parcel id (IDU) has 14 characters: INSEE code, "
                        "prefix, section, number."
                    ),
                )
            ]
        ),
        required=False,
        max_length=200,
    )
    # Sites of the territory the caller writes in: another territory's site is
    # "does not exist", as a missing one (its designation shows on the page).
    site = ScopedPrimaryKeyRelatedField(Site, _writable_sites)
    rnb_ids = serializers.ListField(
        child=serializers.CharField(
            validators=[
                RegexValidator(
                    RNB_ID_PATTERN,
                    _("An RNB id has 12 capital letters or digits."),
                )
            ]
        ),
        required=False,
        max_length=200,
    )

    class Meta:
        model = Building
        fields = tuple(sorted(EDITABLE_FIELDS))
        # The table's check constraints, repeated so that a bad value is a 400
        # on its field rather than on the whole row (model validation reports a
        # violated CheckConstraint without a field).
        extra_kwargs = {
            "surface_m2": {"min_value": 0},
            "energy_kwh_ef": {"min_value": 0},
            "guarding_cost_monthly": {"min_value": 0},
            "year_built": {"min_value": 1000, "max_value": 2100},
            "erp_category": {"min_value": 1, "max_value": 5},
            # 0001-01-01 and 9999-12-31 were stored and read as real horizons.
            "vacancy_since": {"validators": DAY_VALIDATORS},
            "next_use_date": {"validators": DAY_VALIDATORS},
            "postal_code": {
                "validators": [
                    RegexValidator(r"^[0-9]{5}$", _("A postal code has 5 digits."))
                ]
            },
        }

    def validate_point(self, value: GEOSGeometry | None) -> GEOSGeometry | None:
        if value is None:
            return None
        if not isinstance(value, Point):
            raise serializers.ValidationError(_("Expected a GeoJSON Point."))
        return _in_wgs84(value)

    def validate_footprint(self, value: GEOSGeometry | None) -> GEOSGeometry | None:
        if value is None:
            return None
        if isinstance(value, Polygon):
            value = MultiPolygon(value, srid=value.srid)
        if not isinstance(value, MultiPolygon):
            raise serializers.ValidationError(
                _("Expected a GeoJSON Polygon or MultiPolygon.")
            )
        value = _in_wgs84(value)
        if not value.valid:
            raise serializers.ValidationError(
                _("The footprint is not a valid polygon: %(reason)s.")
                % {"reason": invalidity(value)}
            )
        return value

    def validate_department(self, value: Any) -> Any:
        departments: frozenset[str] | None = self.context["departments"]
        if (
            value is not None
            and departments is not None
            and value.pk not in departments
        ):
            raise serializers.ValidationError(
                _("This département is outside the territory you may edit.")
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Silently dropping a key would let a client believe it changed the
        # status or a computed score; name what is not accepted instead.
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [
                        _("Change the status with POST …/transition/.")
                        if name == "status"
                        else _("This field cannot be set.")
                    ]
                    for name in sorted(unknown)
                }
            )
        # A territorial agent's building keeps a département: blanked, it left
        # every territorial scope, its editor's included (only national agents saw
        # it again).
        blanked = "department" in attrs and attrs["department"] is None
        if self.context["departments"] is not None and (
            (self.instance is None and attrs.get("department") is None) or blanked
        ):
            raise serializers.ValidationError(
                {"department": [_("Give the building's département.")]}
            )
        return attrs


class TransitionSerializer(serializers.Serializer[Any]):
    to = StatusField()
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )


class ListQuerySerializer(OnceQuerySerializer):
    """Query parameters of the list besides the filters (which BuildingFilterSet
    declares)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A query string's blank value reads as absent in DRF (its HTML-form
        # rule): ``?cursor=`` silently restarted at the first page.
        blank = sorted(
            str(name) for name in self.fields if self.initial_data.get(name) == ""
        )
        if blank:
            raise serializers.ValidationError(
                {name: [_("This field may not be blank.")] for name in blank}
            )
        return attrs

    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_(
            "Features per page; larger values are lowered to the maximum "
            "(OGC API – Features)."
        ),
    )
    cursor = serializers.CharField(
        required=False,
        max_length=1024,
        help_text=_("Opaque: copy it from a next or prev link."),
    )
    ordering = serializers.ChoiceField(
        choices=ORDERING_CHOICES,
        required=False,
        help_text=_("Sort key; '-' for descending. Ties are broken by id."),
    )
    geometry = serializers.ChoiceField(
        choices=[kind.value for kind in GeometryKind],
        default=GeometryKind.POINT.value,
        help_text=_(
            "point: the building's location; footprint: its outline (null "
            "where none is known)."
        ),
    )


class ExportQuerySerializer(ListQuerySerializer):
    """Query parameters of an export: the list's, and the columns to write.

    ``context["allowed"]`` holds the properties the caller may read
    (``properties_for(scope)``): an export never holds more than the list.
    """

    columns = serializers.ListField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        help_text=_(
            "Properties to write, in this order: comma-separated, or the parameter "
            "repeated. By default every property the caller may read. The id and "
            "the coordinates are always written."
        ),
    )

    def validate_columns(self, value: list[str]) -> list[str]:
        names = [name.strip() for item in value for name in item.split(",")]
        names = [name for name in names if name]
        if not names:
            raise serializers.ValidationError(_("Choose at least one column."))
        allowed: tuple[str, ...] = self.context["allowed"]
        refused = [name for name in names if name not in allowed]
        if refused:
            raise serializers.ValidationError(
                _("Not a column you may export: %(names)s. Choose among: %(allowed)s.")
                % {"names": ", ".join(refused), "allowed": ", ".join(allowed)}
            )
        return list(dict.fromkeys(names))  # first mention wins, order kept
