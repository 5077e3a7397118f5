"""HTTP side of /ogc/: parameters checked, format negotiated, links added.

The items body is PostGIS's text wrapped in an envelope (no feature is parsed on
the JSON path, DESIGN.md "Serving fast"); only the HTML pages parse a page of
features to lay them out. Everything here is public open data, the same for every
caller: no authentication is read, so no session or token costs a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions, renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, BaseThrottle
from rest_framework.views import APIView

from buildings.ogc import cnig
from buildings.ogc.collections import (
    COLLECTIONS,
    CRS84,
    GREGORIAN,
    QUERYABLES_REL,
    Collection,
)
from buildings.ogc.conformance import CONFORMANCE_CLASSES
from buildings.ogc.openapi import (
    CSV,
    GEOJSON,
    HTML,
    JSON,
    OPENAPI_MEDIA_TYPE,
    SCHEMA_JSON,
    openapi_document,
    queryables_schema,
)
from buildings.ogc.params import (
    Format,
    InvalidParameter,
    check_known,
    output_format,
    parse_items,
)
from buildings.ogc.selectors import (
    Extent,
    collection_extent,
    feature_text,
    items_page,
)
from config.database.routing import replica_reads
from config.links import url_with
from config.streams import primed

Link = dict[str, str]
JSON_TYPES = frozenset({JSON, GEOJSON, SCHEMA_JSON, OPENAPI_MEDIA_TYPE.split(";")[0]})
PREFLIGHT_MAX_AGE_SECONDS = 86400  # browsers cap it lower (Chromium: 2 hours)


class ReadOnly(permissions.BasePermission):
    """Open data: anyone reads, nobody writes. (OgcView answers a method it does
    not serve with a 405 first: this stays as a second lock.)"""

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS


class NotFound(Exception):  # named after the OGC exception code
    pass


def _json(data: Any, *, content_type: str = JSON) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type=content_type)


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> Link:
    # /req/core/fc-rel-type: every link has rel and type.
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


class OgcView(APIView):
    """Base of every /ogc/ view."""

    authentication_classes = []
    permission_classes = [ReadOnly]
    # Every caller is anonymous here (no authentication is read): the anonymous
    # rate is the one that applies, and the per-user throttle would only repeat
    # its cache read and write (each a pickled history) on every request.
    throttle_classes = [AnonRateThrottle]
    schema = None  # documented by /ogc/api, not by the project's /api/schema/
    # Query parameters this resource accepts besides its own (Requirement 8).
    parameters: ClassVar[frozenset[str]] = frozenset({"f"})

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[renderers.BaseRenderer, str]:
        # The views negotiate themselves (f, then Accept) and return finished
        # responses; DRF's negotiation would answer 406 to a browser.
        renderer = renderers.JSONRenderer()
        return renderer, renderer.media_type

    def handle_exception(self, exc: Exception) -> Response:
        # The OGC exception schema: ``code`` required, ``description`` optional.
        if isinstance(exc, InvalidParameter):
            return Response(
                {
                    "code": "InvalidParameterValue",
                    "description": f"{exc.name}: {exc.message}",
                },
                status=400,
            )
        if isinstance(exc, NotFound | Http404):
            description = str(exc) or _("Not found.")
            if self.error_format() is Format.HTML:
                # A person followed a link: a page, in the negotiated language.
                response = render(
                    self.request._request,
                    "ogc/not_found.html",
                    {"description": description},
                    status=404,
                )
                return response  # type: ignore[return-value]
            return Response(
                {"code": "NotFound", "description": description}, status=404
            )
        return super().handle_exception(exc)

    def error_format(self) -> Format:
        """The format an error answers in: the one asked for, JSON if that is
        itself invalid."""
        try:
            return self.format()
        except InvalidParameter:
            return Format.JSON

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method no handler serves is a 405 with its Allow header (RFC 9110
        # §15.5.6) before the permission check: DRF checks permissions first,
        # and ReadOnly answered POST, PUT, DELETE and TRACE with a 403.
        if request.method not in self.allowed_methods:
            raise exceptions.MethodNotAllowed(str(request.method))
        super().initial(request, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        # A CORS preflight is the browser asking, not a read, and costs a
        # dictionary lookup: counting it spent a web client's rate twice.
        if self.request.method == "OPTIONS":
            return []
        return super().get_throttles()

    def options(  # type: ignore[override]  # as DRF's own stub
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        """The methods of every /ogc/ resource, and a CORS preflight's answer: the
        data are public and read without credentials, so any origin may ask,
        with any header. (DRF's answer is off: DEFAULT_METADATA_CLASS is None,
        which made OPTIONS a 405 whose Allow header listed OPTIONS.)"""
        if "collection_id" in kwargs:
            self.collection(kwargs["collection_id"])  # an unknown one is a 404
        # A Response, as the errors: dispatch adds Access-Control-Allow-Origin.
        response = Response(status=204)
        response["Allow"] = ", ".join(self.allowed_methods)
        response["Access-Control-Allow-Methods"] = ", ".join(self.allowed_methods)
        requested = request.headers.get("Access-Control-Request-Headers")
        if requested:
            response["Access-Control-Allow-Headers"] = requested
            patch_vary_headers(response, ["Access-Control-Request-Headers"])
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Open data, read-only: served from the replica when there is one.
        with replica_reads():
            response = super().dispatch(request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        # Public data for browser clients on other origins: the JSON resources
        # (GeoJSON, JSON Schema, OpenAPI included), not the HTML pages, which are
        # for people on this site, nor the export files. A DRF Response (an
        # error) is not rendered yet here: it will be JSON.
        media_type = response["Content-Type"].split(";")[0]
        if isinstance(response, Response) or media_type in JSON_TYPES:
            response["Access-Control-Allow-Origin"] = "*"
        return response

    # --- Helpers
    def format(self) -> Format:
        return output_format(self.request.GET, self.request.headers.get("Accept", ""))

    def url(self, name: str, *args: str, **query: str | None) -> str:
        """Absolute URL of the route ``name`` with ``query`` set."""
        return self._absolute(reverse(f"ogc:{name}", args=args), query)

    def here(self, **changes: str | None) -> str:
        """This request's URL with some parameters set (None removes one)."""
        return url_with(self.request, **changes)

    def _absolute(self, path: str, query: dict[str, str | None]) -> str:
        url = self.request.build_absolute_uri(path)
        pairs = urlencode({key: value for key, value in query.items() if value})
        return f"{url}?{pairs}" if pairs else url

    def self_links(self, data_type: str, fmt: Format) -> list[Link]:
        """self and alternate (/req/core/fc-md-links, fc-links, f-links)."""
        json_link = self.here(f="json")
        html_link = self.here(f="html")
        if fmt is Format.HTML:
            return [
                _link(html_link, "self", HTML, _("This document")),
                _link(json_link, "alternate", data_type, _("This document as JSON")),
            ]
        return [
            _link(json_link, "self", data_type, _("This document")),
            _link(html_link, "alternate", HTML, _("This document as HTML")),
        ]

    def html(self, template: str, context: dict[str, Any]) -> HttpResponse:
        request: HttpRequest = self.request._request
        return render(request, f"ogc/{template}", context)

    def collection(self, collection_id: str) -> Collection:
        try:
            return COLLECTIONS[collection_id]
        except KeyError:
            raise NotFound(_("No such collection.")) from None


class LandingView(OgcView):
    def get(self, request: Request) -> HttpResponse:
        check_known(request.GET, self.parameters)
        fmt = self.format()
        data = {
            "title": _("Intercalaire — vacant State buildings"),
            "description": _(
                "The public inventory of vacant State buildings, available for "
                "temporary social use, as OGC API – Features (Part 1). Open data, "
                "Licence Ouverte 2.0."
            ),
            "links": [
                *self.self_links(JSON, fmt),
                _link(
                    self.url("api"),
                    "service-desc",
                    OPENAPI_MEDIA_TYPE,
                    _("The API definition (OpenAPI 3.0)"),
                ),
                _link(
                    self.url("api", f="html"),
                    "service-doc",
                    HTML,
                    _("The API documentation"),
                ),
                _link(
                    self.url("conformance"),
                    "conformance",
                    JSON,
                    _("Conformance classes"),
                ),
                _link(self.url("collections"), "data", JSON, _("Feature collections")),
            ],
        }
        if fmt is Format.HTML:
            return self.html("landing.html", {"data": data})
        return _json(data)


class ConformanceView(OgcView):
    def get(self, request: Request) -> HttpResponse:
        check_known(request.GET, self.parameters)
        data = {"conformsTo": list(CONFORMANCE_CLASSES)}
        if self.format() is Format.HTML:
            links = self.self_links(JSON, Format.HTML)
            return self.html("conformance.html", {"data": data, "links": links})
        return _json(data)


def _document(view: OgcView) -> dict[str, Any]:
    return openapi_document(
        server_url=view.request.build_absolute_uri(reverse("ogc:landing")).rstrip("/"),
        default_limit=settings.API_PAGE_SIZE,
        max_limit=settings.API_MAX_PAGE_SIZE,
    )


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The API definition flattened for its HTML page: $refs resolved."""
    components = document["components"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if ref is None:
            return node
        kind, name = ref.split("/")[-2:]
        resolved: dict[str, Any] = components[kind][name]
        return resolved

    operations = []
    for path, item in document["paths"].items():
        operation = item["get"]
        operations.append(
            {
                "path": path,
                "summary": operation["summary"],
                "parameters": [resolve(p) for p in operation["parameters"]],
                "responses": [
                    {
                        "status": status,
                        "description": resolve(response)["description"],
                        "media_types": list(resolve(response).get("content", {})),
                    }
                    for status, response in operation["responses"].items()
                ],
            }
        )
    return operations


class ApiDefinitionView(OgcView):
    """/req/oas30/oas-definition-1: the OpenAPI JSON, and an HTML rendering."""

    def get(self, request: Request) -> HttpResponse:
        check_known(request.GET, self.parameters)
        document = _document(self)
        if self.format() is Format.HTML:
            return self.html(
                "api.html",
                {
                    "info": document["info"],
                    "operations": _operations(document),
                    "links": self.self_links(OPENAPI_MEDIA_TYPE, Format.HTML),
                },
            )
        return _json(document, content_type=OPENAPI_MEDIA_TYPE)


def _moment(day: date, end: bool) -> str:
    """A calendar day of the project's time zone as an RFC 3339 date-time (the
    extent schema's format): its first second, or its last for an end."""
    moment = datetime.combine(
        day, time(23, 59, 59) if end else time(0), tzinfo=ZoneInfo(settings.TIME_ZONE)
    )
    return moment.isoformat()


def _extent(extent: Extent) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if extent.bbox is not None:
        data["spatial"] = {"bbox": [list(extent.bbox)], "crs": CRS84}
    if extent.interval is not None:
        start, end = extent.interval
        data["temporal"] = {
            "interval": [
                [
                    None if start is None else _moment(start, end=False),
                    None if end is None else _moment(end, end=True),
                ]
            ],
            "trs": GREGORIAN,
        }
    return data


class _CollectionMetadata(OgcView):
    def describe(self, collection: Collection, *, alone: bool) -> dict[str, Any]:
        """One collection's metadata: the same in /collections and in
        /collections/{id} (Requirement 18 B)."""
        items = self.url("items", collection.id)
        links = [
            # /req/core/fc-md-items-links: one items link per encoding.
            _link(items, "items", GEOJSON, _("Features (GeoJSON)")),
            _link(
                self.url("items", collection.id, f="html"),
                "items",
                HTML,
                _("Features (HTML)"),
            ),
            _link(
                self.url("queryables", collection.id),
                QUERYABLES_REL,
                SCHEMA_JSON,
                _("Filter parameters (JSON Schema)"),
            ),
        ]
        if collection.id == "buildings":
            links += [
                _link(
                    self.url("export", "csv"),
                    "enclosure",
                    CSV,
                    _("Every feature in the CNIG “Friches” columns (CSV)"),
                ),
                _link(
                    self.url("export", "geojson"),
                    "enclosure",
                    GEOJSON,
                    _("Every feature in the CNIG “Friches” columns (GeoJSON)"),
                ),
            ]
        if not alone:
            links.insert(
                0, _link(self.url("collection", collection.id), "collection", JSON)
            )
        return {
            "id": collection.id,
            "title": str(collection.title),
            "description": str(collection.description),
            "itemType": "feature",
            "crs": [CRS84],
            "extent": _extent(collection_extent(collection=collection)),
            "links": links,
        }


class CollectionsView(_CollectionMetadata):
    def get(self, request: Request) -> HttpResponse:
        check_known(request.GET, self.parameters)
        fmt = self.format()
        data = {
            "links": self.self_links(JSON, fmt),
            "collections": [
                self.describe(collection, alone=False)
                for collection in COLLECTIONS.values()
            ],
        }
        if fmt is Format.HTML:
            return self.html("collections.html", {"data": data})
        return _json(data)


class CollectionView(_CollectionMetadata):
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        collection = self.collection(collection_id)
        check_known(request.GET, self.parameters)
        fmt = self.format()
        data = self.describe(collection, alone=True)
        data["links"] = [*self.self_links(JSON, fmt), *data["links"]]
        if fmt is Format.HTML:
            return self.html(
                "collection.html", {"data": data, "collection": collection}
            )
        return _json(data)


def _geometry_summary(geometry: dict[str, Any] | None) -> str:
    """A point's coordinates, or a polygon layer's part count, for HTML tables."""
    if geometry is None:
        return "—"
    if geometry["type"] == "Point":
        longitude, latitude = geometry["coordinates"]
        return f"{longitude}, {latitude}"
    return _("%(type)s of %(count)d parts") % {
        "type": geometry["type"],
        "count": len(geometry["coordinates"]),
    }


def _timestamp() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ItemsView(OgcView):
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        collection = self.collection(collection_id)
        query = parse_items(
            request.GET,
            collection,
            default_limit=settings.API_PAGE_SIZE,
            maximum=settings.API_MAX_PAGE_SIZE,
        )
        fmt = self.format()
        page = items_page(
            collection=collection, query=query, count_cap=settings.API_COUNT_CAP
        )
        # Links keep the representation asked for, so that paging stays in it.
        f = fmt.value
        page_type = HTML if fmt is Format.HTML else GEOJSON
        links = [
            *self.self_links(GEOJSON, fmt),
            _link(
                self.url("collection", collection.id, f=f),
                "collection",
                HTML if fmt is Format.HTML else JSON,
                str(collection.title),
            ),
        ]
        if page.next_cursor:
            links.append(
                _link(
                    self.here(cursor=page.next_cursor, f=f),
                    "next",
                    page_type,
                    _("Next page"),
                )
            )
        if page.prev_cursor:
            links.append(
                _link(
                    self.here(cursor=page.prev_cursor, f=f),
                    "prev",
                    page_type,
                    _("Previous page"),
                )
            )
        meta: dict[str, Any] = {"links": links, "timeStamp": _timestamp()}
        if page.matched is not None:
            meta["numberMatched"] = page.matched
        meta["numberReturned"] = page.returned
        if fmt is Format.HTML:
            rows = [
                {
                    "id": feature["id"],
                    "geometry": _geometry_summary(feature["geometry"]),
                    "cells": [
                        feature["properties"].get(name)
                        for name in collection.properties
                    ],
                }
                for feature in orjson.loads(b"[" + page.features + b"]")
            ]
            return self.html(
                "items.html",
                {
                    "collection": collection,
                    "rows": rows,
                    "columns": collection.properties,
                    "meta": meta,
                    "links": links,
                },
            )
        # The envelope around PostGIS's text: no feature is parsed in Python,
        # and the page's bytes are copied once (a join, not chained +).
        body = b"".join(
            (
                b'{"type":"FeatureCollection","features":[',
                page.features,
                b"],",
                orjson.dumps(meta)[1:],
            )
        )
        return HttpResponse(body, content_type=GEOJSON)


class FeatureView(OgcView):
    def get(
        self, request: Request, collection_id: str, feature_id: str
    ) -> HttpResponse:
        collection = self.collection(collection_id)
        check_known(request.GET, self.parameters)
        fmt = self.format()
        text = feature_text(collection=collection, feature_id=feature_id)
        if text is None:
            raise NotFound(_("No such feature in this collection."))
        # /req/core/f-links: self, alternate, and the collection.
        links = [
            *self.self_links(GEOJSON, fmt),
            _link(
                self.url("collection", collection.id),
                "collection",
                JSON,
                str(collection.title),
            ),
        ]
        if fmt is Format.HTML:
            feature = orjson.loads(text)
            return self.html(
                "feature.html",
                {
                    "collection": collection,
                    "feature": feature,
                    "geometry": _geometry_summary(feature["geometry"]),
                    "links": links,
                },
            )
        # The Feature text ends with its closing brace: links go just before it.
        body = b"".join((text[:-1], b',"links":', orjson.dumps(links), b"}"))
        return HttpResponse(body, content_type=GEOJSON)


class QueryablesView(OgcView):
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        collection = self.collection(collection_id)
        check_known(request.GET, self.parameters)
        schema = queryables_schema(
            collection, url=self.url("queryables", collection.id)
        )
        if self.format() is Format.HTML:
            return self.html(
                "queryables.html",
                {
                    "collection": collection,
                    "schema": schema,
                    "links": self.self_links(SCHEMA_JSON, Format.HTML),
                },
            )
        return _json(schema, content_type=SCHEMA_JSON)


class FrichesExportView(OgcView):
    """The buildings collection as one file in the CNIG "Friches" columns."""

    parameters: ClassVar[frozenset[str]] = frozenset()

    def get(self, request: Request, extension: str) -> HttpResponseBase:
        check_known(request.GET, self.parameters)
        chunks: Iterable[bytes]
        if extension == "csv":
            chunks, content_type = cnig.export_csv(), f"{CSV}; charset=utf-8"
        else:
            chunks, content_type = cnig.export_geojson(), GEOJSON
        response = StreamingHttpResponse(
            primed(chunks, name=request.path), content_type=content_type
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=cnig.filename(extension)
        )
        return response
