"""The inventory over HTTP: the GeoJSON list (written by PostGIS), one building,
agents' writes through the services, and exports.

Every queryset starts from ``building_list(scope=…)``: the public and operators
and funders see the public stock, State agents their territory; anything else
answers 404 (DESIGN.md, "Permissions").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, renderers, status
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from buildings import exports
from buildings.api.filters import BuildingFilterSet, refused_filters
from buildings.api.pagination import (
    ORDERING_CHOICES,
    Ordering,
    after,
    cursor_decode,
    page_links,
)
from buildings.api.serializers import (
    AgentBuildingFeatureSerializer,
    BuildingFeatureCollectionSerializer,
    BuildingFeatureSerializer,
    BuildingWriteSerializer,
    ExportQuerySerializer,
    ListQuerySerializer,
    NearbyQuerySerializer,
    TransitionSerializer,
)
from buildings.geojson import (
    MEDIA_TYPE,
    GeometryKind,
    estimated_count,
    feature_page,
    properties_for,
    serial_plans,
)
from buildings.models import Building
from buildings.selectors import (
    NEARBY_DEFAULT_M,
    building_get,
    building_list,
    building_status_history,
    nearby_buildings,
    nearby_friches,
)
from buildings.services import building_create, building_transition, building_update
from config.database.routing import replica_reads, streamed_reads
from config.etag import IF_MATCH, ConditionalWriteMixin
from config.streams import primed
from organizations.selectors import Scope, scope_for, writable_departments

# Reads are open data (InventoryAccess): a token or a session narrows nothing away
# and is optional; drf-spectacular infers that only from AllowAny.
OPEN_READ_AUTH: list[dict[str, list[str]]] = [
    {"knoxApiToken": []},
    {"cookieAuth": []},
    {},
]
WRITE_ERRORS = {
    400: OpenApiResponse(description="Invalid input, with the field at fault."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not an editor of a State service here."),
    404: OpenApiResponse(description="No such building in your scope."),
    412: OpenApiResponse(description="The building changed since you read it."),
    428: OpenApiResponse(description="If-Match is missing."),
}


def _acting(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _writable_departments(request: Request) -> frozenset[str] | None:
    """Départements the caller may write in; None: everywhere (as on the pages,
    buildings.views.may_write_inventory)."""
    return writable_departments(scope=scope_for(request.user), user=request.user)


class InventoryAccess(permissions.BasePermission):
    """Reads are open data, narrowed by the caller's scope; writes need an admin
    or editor of a State service, within that service's territory."""

    message = _("Only editors of a State service may change the inventory.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        if getattr(user, "is_superuser", False) and user.is_active:
            return True
        scope = scope_for(user)
        return scope.is_state_agent and bool(
            scope.writable_ids & scope.state_service_ids
        )

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        departments: frozenset[str] | None = view.writable_departments
        return departments is None or obj.department_id in departments


class _AnyAccept(DefaultContentNegotiation):
    """Responses are GeoJSON or the file the URL names, whatever Accept says
    (``application/geo+json`` included); it only chooses how errors render,
    falling back to JSON."""

    def select_renderer(
        self,
        request: Request,
        available: Iterable[renderers.BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[renderers.BaseRenderer, str]:
        available = list(available)
        try:
            chosen: tuple[renderers.BaseRenderer, str]
            chosen = super().select_renderer(request, available, format_suffix)
        except exceptions.NotAcceptable:
            chosen = available[0], available[0].media_type
        return chosen


class _InventoryQuery(GenericAPIView[Building]):
    """The scoped queryset and the shared filters, for the list and the exports."""

    queryset = Building.objects.none()  # schema generation only; see get_queryset
    filterset_class = BuildingFilterSet
    filter_backends = [DjangoFilterBackend]
    permission_classes = [InventoryAccess]
    pagination_class = None  # keyset pages are built by hand (see list)
    content_negotiation_class = _AnyAccept

    @property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_queryset(self) -> QuerySet[Building]:
        return building_list(scope=self.scope)

    def selection(self) -> QuerySet[Building]:
        """The caller's buildings narrowed by the query's filters."""
        # Agent-only properties cannot be filtered on by others (reliability.md B6).
        refused = refused_filters(self.request.query_params, self.scope)
        if refused:
            raise exceptions.ValidationError(refused)
        return self.filter_queryset(self.get_queryset())


class BuildingViewSet(ConditionalWriteMixin, _InventoryQuery, GenericViewSet[Building]):
    """The State's vacant property inventory: GeoJSON for everyone, writes for
    State editors. Status moves only through ``…/transition/``."""

    lookup_value_regex = "[0-9]+"

    def get_object(self) -> Building:
        pk = int(self.kwargs["pk"])
        scope = self.scope
        try:
            if self.request.method in permissions.SAFE_METHODS:
                building = building_get(scope=scope, pk=pk)
            else:
                # Locked for the write's transaction, so that the If-Match check
                # and the write see the same version.
                building = (
                    building_list(scope=scope)
                    .select_for_update(of=("self",))
                    .get(pk=pk)
                )
        except Building.DoesNotExist:
            raise exceptions.NotFound from None
        self.check_object_permissions(self.request, building)
        return building

    @extend_schema(
        summary="Buildings as a GeoJSON FeatureCollection",
        description=(
            "Keyset-paginated: follow the `next` and `prev` links. `numberMatched` "
            "is exact up to a cap (10,000), then the planner's estimate, flagged "
            "by `numberMatchedIsEstimate`. Public callers, operators and funders "
            "see the non-confidential vacant stock and its public properties; "
            "State agents their territory and every property."
        ),
        parameters=[ListQuerySerializer],
        auth=OPEN_READ_AUTH,  # type: ignore[arg-type]
        responses={
            (200, MEDIA_TYPE): BuildingFeatureCollectionSerializer,
            400: OpenApiResponse(description="A filter or parameter is invalid."),
        },
    )
    def list(self, request: Request) -> HttpResponse:
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        limit = min(
            params.get("limit", settings.API_PAGE_SIZE), settings.API_MAX_PAGE_SIZE
        )
        ordering = Ordering.parse(params.get("ordering"))
        cursor = (
            cursor_decode(params["cursor"], ordering=ordering)
            if "cursor" in params
            else None
        )
        backwards = cursor is not None and cursor.backwards
        keys = ordering.sort_keys(backwards=backwards)
        selection = self.selection()
        rows = selection.filter(after(keys, cursor.key)) if cursor else selection
        cap: int = settings.API_COUNT_CAP
        # One statement reads the page and its capped count (one snapshot), from
        # the replica when there is one (config/database/routing.py).
        with replica_reads(), serial_plans():
            page = feature_page(
                rows,
                matched_of=selection,
                properties=properties_for(self.scope),
                geometry=GeometryKind(params["geometry"]),
                sort=keys,
                limit=limit,
                reverse_output=backwards,
                count_cap=cap,
            )
            estimate = page.matched > cap
            matched = estimated_count(selection) if estimate else page.matched

        meta = {
            "links": page_links(request, ordering=ordering, cursor=cursor, page=page),
            "numberMatched": matched,
            "numberMatchedIsEstimate": estimate,
            "numberReturned": page.returned,
            "timeStamp": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        }
        # The envelope around PostGIS's text: no feature is parsed in Python.
        # One copy of the page's bytes (a join: chained + copies it at each step).
        body = b"".join(
            (
                b'{"type":"FeatureCollection","features":[',
                page.features,
                b"],",
                orjson.dumps(meta)[1:],
            )
        )
        return HttpResponse(body, content_type=MEDIA_TYPE)

    def _feature(
        self, building: Building, *, radius_m: float, status_code: int = 200
    ) -> Response:
        scope = self.scope
        context: dict[str, Any] = {
            "request": self.request,
            "nearby_friches": nearby_friches(building=building, radius_m=radius_m),
            "nearby_buildings": nearby_buildings(
                scope=scope, building=building, radius_m=radius_m
            ),
        }
        serializer: BuildingFeatureSerializer
        if scope.is_state_agent:
            context["status_history"] = building_status_history(building=building)
            serializer = AgentBuildingFeatureSerializer(building, context=context)
        else:
            serializer = BuildingFeatureSerializer(building, context=context)
        return self.with_etag(
            Response(serializer.data, status=status_code, content_type=MEDIA_TYPE),
            building,
        )

    @extend_schema(
        summary="One building as a GeoJSON Feature, with what lies around it",
        description=(
            "`nearby_friches` (Cartofriches sites) and `nearby_buildings` (those "
            "the caller may see) lie within `radius` metres, geodesic, nearest "
            "first. State agents also get `status_history`, `allowed_transitions` "
            "and the properties the public does not see. The `ETag` header is "
            "what If-Match takes on PATCH and transition."
        ),
        parameters=[
            NearbyQuerySerializer,
            OpenApiParameter(
                "ETag",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description="The version's tag, for If-Match.",
            ),
        ],
        responses={
            (200, MEDIA_TYPE): AgentBuildingFeatureSerializer,
            400: OpenApiResponse(description="`radius` is out of range."),
            404: OpenApiResponse(description="No such building in your scope."),
        },
        auth=OPEN_READ_AUTH,  # type: ignore[arg-type]
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        query = NearbyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return self._feature(self.get_object(), radius_m=query.validated_data["radius"])

    @cached_property
    def writable_departments(self) -> frozenset[str] | None:
        return _writable_departments(self.request)

    def _write_context(self) -> dict[str, Any]:
        return {"request": self.request, "departments": self.writable_departments}

    @extend_schema(
        summary="Add a building (State editors, within their territory)",
        request=BuildingWriteSerializer,
        responses={
            (201, MEDIA_TYPE): AgentBuildingFeatureSerializer,
            400: WRITE_ERRORS[400],
            401: WRITE_ERRORS[401],
            403: WRITE_ERRORS[403],
        },
    )
    def create(self, request: Request) -> Response:
        data = BuildingWriteSerializer(data=request.data, context=self._write_context())
        data.is_valid(raise_exception=True)
        building = building_create(by=_acting(request), **data.validated_data)
        response = self._feature(
            building, radius_m=NEARBY_DEFAULT_M, status_code=status.HTTP_201_CREATED
        )
        response["Location"] = request.build_absolute_uri(f"{building.pk}/")
        return response

    @extend_schema(
        summary="Change a building's facts (State editors; If-Match required)",
        request=BuildingWriteSerializer,
        parameters=[IF_MATCH],
        responses={(200, MEDIA_TYPE): AgentBuildingFeatureSerializer, **WRITE_ERRORS},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        with transaction.atomic():
            building = self.get_object()
            data = BuildingWriteSerializer(
                building,
                data=request.data,
                partial=True,
                context=self._write_context(),
            )
            data.is_valid(raise_exception=True)
            building = building_update(
                building=building, by=_acting(request), **data.validated_data
            )
        return self._feature(building, radius_m=NEARBY_DEFAULT_M)

    @extend_schema(
        summary="Move a building to another status (State editors; If-Match)",
        description=(
            "The lifecycle of reference/domain.md §D.1. An illegal move answers 409 "
            "`invalid_transition`; a move whose condition is unmet (a vacancy date, "
            "a known domaniality, a next use and its date) answers 400 with the "
            "field to fill in."
        ),
        request=TransitionSerializer,
        parameters=[IF_MATCH],
        responses={
            (200, MEDIA_TYPE): AgentBuildingFeatureSerializer,
            **WRITE_ERRORS,
            409: OpenApiResponse(description="This move is not allowed."),
        },
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        data = TransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            building = building_transition(
                building=self.get_object(),
                to=data.validated_data["to"],
                reason=data.validated_data["reason"],
                by=_acting(request),
            )
        return self._feature(building, radius_m=NEARBY_DEFAULT_M)


class _ExportSchema(AutoSchema):
    def get_filter_backends(self) -> list[Any]:
        # The response is a file, which drf-spectacular does not take for a
        # list; the filters apply all the same.
        return list(getattr(self.view, "filter_backends", []))


@extend_schema(
    summary="Export the filtered selection (CSV, XLSX, GeoJSON, GeoPackage)",
    description=(
        "The same filters and scope as the list, every matching building at once "
        f"(up to {exports.EXPORT_MAX_ROWS:,}), ordered by `ordering`. CSV is UTF-8 "
        "with a BOM, `;`-separated, decimal commas; spreadsheet cells that could "
        "start a formula are prefixed with an apostrophe. GeoJSON is RFC 7946; the "
        "GeoPackage has one layer, `buildings`."
    ),
    parameters=[
        OpenApiParameter(
            "fmt",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            enum=list(exports.FORMATS),
            description="File format.",
        ),
        OpenApiParameter(
            "ordering",
            OpenApiTypes.STR,
            enum=ORDERING_CHOICES,
        ),
        OpenApiParameter(
            "geometry", OpenApiTypes.STR, enum=[kind.value for kind in GeometryKind]
        ),
        OpenApiParameter(
            "columns",
            {"type": "array", "items": {"type": "string"}},
            explode=False,
            style="form",
            description=(
                "Properties to write, in this order (comma-separated); by default "
                "every property the caller may read. The id and the coordinates "
                "are always written."
            ),
        ),
    ],
    responses={
        # The GeoJSON file is a JSON document (a FeatureCollection), not bytes.
        (200, media_type): (
            OpenApiTypes.OBJECT if fmt == "geojson" else OpenApiTypes.BINARY
        )
        for fmt, media_type in exports.FORMATS.items()
    }
    | {
        400: OpenApiResponse(description="A filter is invalid, or too many rows."),
        404: OpenApiResponse(description="No such format."),
    },
    auth=OPEN_READ_AUTH,  # type: ignore[arg-type]
)
class BuildingExportView(_InventoryQuery):
    """The current selection as a file (``/buildings/export.<fmt>``)."""

    schema = _ExportSchema()

    def get(self, request: Request, fmt: str) -> HttpResponseBase:
        # From the replica when there is one, streamed files included.
        with replica_reads():
            return self._export(request, fmt)

    def _export(self, request: Request, fmt: str) -> HttpResponseBase:
        readable = properties_for(self.scope)
        query = ExportQuerySerializer(
            data=request.query_params, context={"allowed": readable}
        )
        query.is_valid(raise_exception=True)
        ordering = Ordering.parse(query.validated_data.get("ordering"))
        geometry = GeometryKind(query.validated_data["geometry"])
        selection = self.selection()
        fields = query.validated_data.get("columns", readable)
        sort = ordering.sort_keys()
        exports.check_size(selection)
        name = exports.filename(fmt)
        content_type = exports.FORMATS[fmt]
        response: HttpResponseBase
        if fmt == "csv":
            response = StreamingHttpResponse(
                primed(
                    streamed_reads(
                        exports.export_csv(selection, fields=fields, sort=sort)
                    ),
                    name=request.path,
                ),
                content_type=content_type,
            )
        elif fmt == "xlsx":
            response = HttpResponse(
                exports.export_xlsx(selection, fields=fields, sort=sort),
                content_type=content_type,
            )
        elif fmt == "geojson":
            response = StreamingHttpResponse(
                primed(
                    streamed_reads(
                        exports.export_geojson(
                            selection, fields=fields, geometry=geometry, sort=sort
                        )
                    ),
                    name=request.path,
                ),
                content_type=content_type,
            )
        else:
            response = FileResponse(
                exports.export_gpkg(
                    selection, fields=fields, geometry=geometry, sort=sort
                ),
                content_type=content_type,
            )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=name
        )
        return response
