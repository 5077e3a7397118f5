"""/ogc/: OGC API – Features. Paths without a trailing slash, as the standard
writes them (/conformance, /collections/{collectionId}/items…)."""

from __future__ import annotations

from django.urls import path, re_path

from buildings.ogc import views

app_name = "ogc"

urlpatterns = [
    path("", views.LandingView.as_view(), name="landing"),
    path("conformance", views.ConformanceView.as_view(), name="conformance"),
    path("api", views.ApiDefinitionView.as_view(), name="api"),
    path("collections", views.CollectionsView.as_view(), name="collections"),
    path(
        "collections/<str:collection_id>",
        views.CollectionView.as_view(),
        name="collection",
    ),
    path(
        "collections/<str:collection_id>/items",
        views.ItemsView.as_view(),
        name="items",
    ),
    path(
        "collections/<str:collection_id>/items/<str:feature_id>",
        views.FeatureView.as_view(),
        name="feature",
    ),
    path(
        "collections/<str:collection_id>/queryables",
        views.QueryablesView.as_view(),
        name="queryables",
    ),
    re_path(
        r"^exports/friches\.(?P<extension>csv|geojson)$",
        views.FrichesExportView.as_view(),
        name="export",
    ),
]
