"""A stock djangorestframework-gis list, the "what a naive build gets" reference line.

Same scope (``building_list``), same filters (``BuildingFilterSet``: bbox), same
order (id), same limit and the same property list as GET /api/v1/buildings/, but
serialised the stock way: ``GeoFeatureModelSerializer`` over model instances,
rendered by DRF's JSONRenderer (performance.md §3.4: ≈160 µs per feature).
Served only by the benchmark's own server (bench/http.py), never by the app.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from buildings.api.filters import BuildingFilterSet
from buildings.geojson import properties_for
from buildings.models import Building
from buildings.selectors import building_list
from config.urls import urlpatterns as app_urls
from organizations.selectors import scope_for

_SERIALIZERS: dict[tuple[tuple[str, ...], str], type[GeoFeatureModelSerializer]] = {}


def serializer_for(
    properties: tuple[str, ...], geometry: str
) -> type[GeoFeatureModelSerializer]:
    key = (properties, geometry)
    if key not in _SERIALIZERS:
        meta = type(
            "Meta",
            (),
            {"model": Building, "geo_field": geometry, "fields": ("id", *properties)},
        )
        _SERIALIZERS[key] = type(
            "StockBuildingSerializer", (GeoFeatureModelSerializer,), {"Meta": meta}
        )
    return _SERIALIZERS[key]


class StockGeoJSONList(GenericAPIView[Building]):
    permission_classes = [AllowAny]
    filter_backends = [DjangoFilterBackend]
    filterset_class = BuildingFilterSet
    pagination_class = None
    queryset = Building.objects.none()

    def get_queryset(self) -> QuerySet[Building]:
        return building_list(scope=scope_for(self.request.user)).order_by("id")

    def get(self, request: Request) -> Response:
        limit = int(request.query_params.get("limit", 100))
        geometry = request.query_params.get("geometry", "point")
        properties = properties_for(scope_for(request.user))
        rows = self.filter_queryset(self.get_queryset())[:limit]
        serializer = serializer_for(tuple(properties), geometry)(rows, many=True)
        data: Any = serializer.data
        return Response(data)


# The application's routes stay (health check, error pages reverse them).
urlpatterns = [path("drfgis/buildings/", StockGeoJSONList.as_view()), *app_urls]
