"""Map pages (/carte/…) and vector tiles (/tiles/…)."""

from __future__ import annotations

from django.urls import path

from maps import views

app_name = "maps"

urlpatterns = [
    path("carte/", views.inventory_map_page, name="inventory"),
    path("carte/selection/", views.inventory_selection, name="inventory-selection"),
    path("carte/couches/", views.inventory_overlays_data, name="inventory-overlays"),
    path("carte/occupation/", views.occupancy_map_page, name="occupancy"),
    path("carte-publique/", views.public_map_page, name="public"),
    path(
        "tiles/buildings/<int:z>/<int:x>/<int:y>.pbf",
        views.building_tile,
        name="building-tile",
    ),
    path(
        "tiles/public/buildings/<int:z>/<int:x>/<int:y>.pbf",
        views.public_building_tile,
        name="public-building-tile",
    ),
    path(
        "tiles/friches/<int:z>/<int:x>/<int:y>.pbf",
        views.friche_tile,
        name="friche-tile",
    ),
]
