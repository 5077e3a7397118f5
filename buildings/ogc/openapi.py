"""The OpenAPI 3.0 definition of /ogc/ (/req/oas30/*), generated from the
collection declarations, and the JSON Schemas of the queryables.

Self-contained (DESIGN.md, "Standards"): every ``$ref`` points inside the
document; the OGC building blocks (ogcapi-features-1.yaml) are restated here
rather than referenced remotely. Each collection has its own paths, so that its
items operation lists exactly the filters it accepts (/req/core/query-param-unknown)
and its features' properties are typed.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from buildings.models import Building
from buildings.ogc.collections import (
    BUILDINGS,
    COLLECTIONS,
    CRS84,
    GREGORIAN,
    Collection,
    Kind,
    Queryable,
)
from buildings.ogc.params import MAX_VALUES

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
JSON = "application/json"
SCHEMA_JSON = "application/schema+json"
HTML = "text/html"
CSV = "text/csv"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2019-09/schema"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


# --- Feature properties
_LAYER_PROPERTIES: dict[str, dict[str, Any]] = {
    "code": {"type": "string", "description": "INSEE code"},
    "name": {"type": "string"},
    "region": {"type": "string", "nullable": True, "description": "INSEE code"},
    "department": {"type": "string", "nullable": True, "description": "INSEE code"},
    "vacant_buildings": {
        "type": "integer",
        "minimum": 0,
        "description": "Public vacant buildings here, located or not.",
    },
    "vacant_surface_m2": {
        "type": "number",
        "minimum": 0,
        "description": "Their total surface (m²); unknown surfaces count 0.",
    },
}


def _field_schema(name: str) -> dict[str, Any]:
    field = Building._meta.get_field(name)
    if not isinstance(field, models.Field):  # a reverse relation: never a property
        raise TypeError(name)
    schema: dict[str, Any]
    if isinstance(field, models.ForeignKey):
        schema = {"type": "string"}
    elif isinstance(field, models.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, models.DecimalField):
        schema = {"type": "number"}
    elif isinstance(field, models.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, models.DateField):
        schema = {"type": "string", "format": "date"}
    else:
        schema = {"type": "string"}
    if field.choices:
        schema["enum"] = [value for value, _label in field.choices]
    if field.null:
        schema["nullable"] = True
    schema["title"] = str(field.verbose_name)
    return schema


def properties_schema(collection: Collection) -> dict[str, Any]:
    if collection is BUILDINGS:
        properties = {name: _field_schema(name) for name in collection.properties}
    else:
        properties = {name: _LAYER_PROPERTIES[name] for name in collection.properties}
    return {"type": "object", "properties": properties}


# --- Queryables (Part 3 shape, JSON Schema 2019-09)
def _queryable_schema(queryable: Queryable) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": str(queryable.title)}
    if queryable.kind is Kind.BOOLEAN:
        schema["type"] = "boolean"
    else:
        schema.update(type="string", maxLength=queryable.max_length)
        if queryable.enum:
            schema["enum"] = list(queryable.enum)
    return schema


def queryables_schema(collection: Collection, *, url: str) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": url,
        "type": "object",
        "title": str(collection.title),
        "description": _(
            "Properties usable as filter parameters of the items: equality, and "
            "for codes a comma-separated list of values any of which matches."
        ),
        "properties": {q.name: _queryable_schema(q) for q in collection.queryables},
        "additionalProperties": False,
    }


def _queryable_parameter(queryable: Queryable) -> dict[str, Any]:
    schema = _queryable_schema(queryable)
    schema.pop("title")
    if queryable.is_list:
        schema = {"type": "array", "maxItems": MAX_VALUES, "items": schema}
    return {
        "name": queryable.name,
        "in": "query",
        "required": False,
        "description": str(queryable.title),
        "schema": schema,
        "style": "form",
        "explode": False,
    }


# --- Components
def _schemas() -> dict[str, Any]:
    number_array = {"type": "array", "items": {"type": "number"}}
    return {
        "link": {
            "type": "object",
            "required": ["href", "rel", "type"],
            "properties": {
                "href": {"type": "string"},
                "rel": {"type": "string"},
                "type": {"type": "string"},
                "title": {"type": "string"},
                "hreflang": {"type": "string"},
            },
        },
        "links": {"type": "array", "items": _ref("schemas", "link")},
        "exception": {
            "type": "object",
            "required": ["code"],
            "properties": {
                "code": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": _ref("schemas", "links"),
            },
        },
        "confClasses": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {
                "conformsTo": {"type": "array", "items": {"type": "string"}}
            },
        },
        "extent": {
            "type": "object",
            "properties": {
                "spatial": {
                    "type": "object",
                    "properties": {
                        "bbox": {
                            "type": "array",
                            "minItems": 1,
                            "items": {**number_array, "minItems": 4, "maxItems": 4},
                        },
                        "crs": {"type": "string", "enum": [CRS84], "default": CRS84},
                    },
                },
                "temporal": {
                    "type": "object",
                    "properties": {
                        "interval": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "array",
                                "minItems": 2,
                                "maxItems": 2,
                                "items": {
                                    "type": "string",
                                    "format": "date-time",
                                    "nullable": True,
                                },
                            },
                        },
                        "trs": {
                            "type": "string",
                            "enum": [GREGORIAN],
                            "default": GREGORIAN,
                        },
                    },
                },
            },
        },
        "collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "links": _ref("schemas", "links"),
                "extent": _ref("schemas", "extent"),
                "itemType": {"type": "string", "default": "feature"},
                "crs": {"type": "array", "items": {"type": "string"}},
            },
        },
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": _ref("schemas", "links"),
                "collections": {
                    "type": "array",
                    "items": _ref("schemas", "collection"),
                },
            },
        },
        "pointGeoJSON": {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": {**number_array, "minItems": 2, "maxItems": 2},
            },
        },
        "multipolygonGeoJSON": {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["MultiPolygon"]},
                "coordinates": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "minItems": 4,
                            "items": {**number_array, "minItems": 2, "maxItems": 2},
                        },
                    },
                },
            },
        },
        "queryables": {
            "type": "object",
            "description": "A JSON Schema (2019-09) of the filterable properties.",
            "required": ["type", "properties"],
            "properties": {
                "$schema": {"type": "string"},
                "$id": {"type": "string"},
                "type": {"type": "string", "enum": ["object"]},
                "title": {"type": "string"},
                "properties": {"type": "object"},
                "additionalProperties": {"type": "boolean"},
            },
        },
        **{
            name: schema
            for collection in COLLECTIONS.values()
            for name, schema in _feature_schemas(collection).items()
        },
    }


def _feature_schemas(collection: Collection) -> dict[str, Any]:
    point = collection.geometry_type == "Point"
    geometry = _ref("schemas", "pointGeoJSON" if point else "multipolygonGeoJSON")
    feature_name = f"{collection.id}Feature"
    return {
        feature_name: {
            "type": "object",
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "integer" if collection.integer_ids else "string"},
                "geometry": geometry,
                "properties": properties_schema(collection),
                "links": _ref("schemas", "links"),
            },
        },
        f"{collection.id}FeatureCollection": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": _ref("schemas", feature_name)},
                "links": _ref("schemas", "links"),
                "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Exact; left out above the count cap.",
                },
                "numberReturned": {"type": "integer", "minimum": 0},
            },
        },
    }


def _parameters(*, default_limit: int, max_limit: int) -> dict[str, Any]:
    return {
        "f": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "Output format; without it, the Accept header decides "
            "(JSON unless text/html ranks first).",
            "schema": {"type": "string", "enum": ["json", "html"]},
            "style": "form",
            "explode": False,
        },
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": "Only features whose geometry intersects the box: min "
            "lon, min lat, max lon, max lat (CRS84); or six numbers with min and "
            "max heights after the latitudes (ignored: the data are 2D). A west "
            "edge east of the east edge spans the antimeridian. Every feature has "
            "a geometry.",
            # Requirement 23: four or six numbers.
            "schema": {
                "type": "array",
                "oneOf": [
                    {"minItems": 4, "maxItems": 4},
                    {"minItems": 6, "maxItems": 6},
                ],
                "items": {"type": "number"},
            },
            "style": "form",
            "explode": False,
        },
        "bbox-crs": {
            "name": "bbox-crs",
            "in": "query",
            "required": False,
            "description": "Coordinate reference system of bbox: CRS84 only.",
            "schema": {"type": "string", "format": "uri", "enum": [CRS84]},
            "style": "form",
            "explode": False,
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Features per page; values above {max_limit} are "
            f"lowered to {max_limit}, not refused.",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": max_limit,
                "default": default_limit,
            },
            "style": "form",
            "explode": False,
        },
        "datetime": {
            "name": "datetime",
            "in": "query",
            "required": False,
            "description": "An RFC 3339 date-time or date, or an interval of them: "
            "2024-01-01T00:00:00Z, 2023-01-01/2024-01-01, ../2024-01-01, "
            "2024-01-01/... Compared by calendar day in Europe/Paris with each "
            "feature's temporal geometry; features without one always match.",
            "schema": {"type": "string"},
            "style": "form",
            "explode": False,
        },
        "cursor": {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "Opaque: copy it from a next or prev link.",
            "schema": {"type": "string", "maxLength": 1024},
            "style": "form",
            "explode": False,
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "description": "Local identifier of a feature.",
            "schema": {"type": "string"},
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": _ref("schemas", "exception")}},
    }


def _responses() -> dict[str, Any]:
    return {
        "InvalidParameter": _error(
            "An unknown parameter, or a parameter with an invalid value."
        ),
        "NotFound": _error("No such collection or feature."),
        "TooManyRequests": {
            **_error("Too many requests from this address; see Retry-After."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
        "ServerError": _error("A server error."),
    }


# --- Paths
_F = _ref("parameters", "f")
_ERRORS = {
    "400": _ref("responses", "InvalidParameter"),
    "429": _ref("responses", "TooManyRequests"),
    "500": _ref("responses", "ServerError"),
}
_HTML = {HTML: {"schema": {"type": "string"}}}


def _get(
    operation_id: str,
    summary: str,
    tag: str,
    content: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "Success.", "content": content},
        **_ERRORS,
    }
    if not_found:
        responses["404"] = _ref("responses", "NotFound")
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [tag],
            "parameters": parameters if parameters is not None else [_F],
            "responses": dict(sorted(responses.items())),
        }
    }


def _collection_paths(collection: Collection) -> dict[str, Any]:
    base = f"/collections/{collection.id}"
    tag = str(collection.title)
    paths = {
        base: _get(
            f"describe-{collection.id}",
            f"The {collection.id} collection: extent and links",
            tag,
            {JSON: {"schema": _ref("schemas", "collection")}, **_HTML},
        ),
        f"{base}/items": _get(
            f"get-{collection.id}",
            f"Features of the {collection.id} collection (keyset pages)",
            tag,
            {
                GEOJSON: {
                    "schema": _ref("schemas", f"{collection.id}FeatureCollection")
                },
                **_HTML,
            },
            parameters=[
                _F,
                _ref("parameters", "bbox"),
                _ref("parameters", "bbox-crs"),
                _ref("parameters", "limit"),
                _ref("parameters", "datetime"),
                _ref("parameters", "cursor"),
                *(_queryable_parameter(q) for q in collection.queryables),
            ],
        ),
        f"{base}/items/{{featureId}}": _get(
            f"get-{collection.id}-feature",
            f"One feature of the {collection.id} collection",
            tag,
            {GEOJSON: {"schema": _ref("schemas", f"{collection.id}Feature")}, **_HTML},
            parameters=[_ref("parameters", "featureId"), _F],
            not_found=True,
        ),
        f"{base}/queryables": _get(
            f"get-{collection.id}-queryables",
            f"Filter parameters of the {collection.id} items (JSON Schema)",
            tag,
            {SCHEMA_JSON: {"schema": _ref("schemas", "queryables")}, **_HTML},
        ),
    }
    return paths


def openapi_document(
    *, server_url: str, default_limit: int, max_limit: int
) -> dict[str, Any]:
    """The API definition; ``server_url`` is the absolute URL of /ogc."""
    capabilities = _("Capabilities")
    exports = _("Exports")
    paths: dict[str, Any] = {
        "/": _get(
            "get-landing-page",
            "Landing page: links to the API definition, conformance and data",
            capabilities,
            {JSON: {"schema": _ref("schemas", "landingPage")}, **_HTML},
        ),
        "/conformance": _get(
            "get-conformance",
            "Conformance classes implemented by this server",
            capabilities,
            {JSON: {"schema": _ref("schemas", "confClasses")}, **_HTML},
        ),
        "/api": _get(
            "get-api",
            "This API definition (OpenAPI 3.0), or its HTML rendering",
            capabilities,
            {OPENAPI_MEDIA_TYPE: {"schema": {"type": "object"}}, **_HTML},
        ),
        "/collections": _get(
            "get-collections",
            "The feature collections",
            capabilities,
            {JSON: {"schema": _ref("schemas", "collections")}, **_HTML},
        ),
    }
    for collection in COLLECTIONS.values():
        paths.update(_collection_paths(collection))
    for extension, media_type, schema in (
        ("csv", CSV, {"type": "string"}),
        ("geojson", GEOJSON, {"type": "object"}),
    ):
        paths[f"/exports/friches.{extension}"] = _get(
            f"export-friches-{extension}",
            f"The buildings collection in the CNIG “Friches” columns ({extension})",
            exports,
            {media_type: {"schema": schema}},
            parameters=[],
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": _("Intercalaire — vacant State buildings (OGC API – Features)"),
            "version": "1.0.0",
            "description": _(
                "OGC API – Features, Part 1 (core, GeoJSON, HTML, OpenAPI 3.0) over "
                "the public inventory of vacant State buildings, and the "
                "départements and communes with their vacant buildings. Open data, "
                "Licence Ouverte 2.0; no authentication."
            ),
            "license": {
                "name": "Licence Ouverte 2.0 (Etalab)",
                "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
            },
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "parameters": _parameters(default_limit=default_limit, max_limit=max_limit),
            "responses": _responses(),
            "schemas": _schemas(),
        },
    }
