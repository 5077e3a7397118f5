from __future__ import annotations

from django.urls import re_path

from buildings.api.views import BuildingExportView, BuildingViewSet
from config.api import router

router.register("buildings", BuildingViewSet, basename="building")

urlpatterns = [
    # A file name, not a collection: no trailing slash.
    re_path(
        r"^buildings/export\.(?P<fmt>csv|xlsx|geojson|gpkg)$",
        BuildingExportView.as_view(),
        name="building-export",
    ),
]
