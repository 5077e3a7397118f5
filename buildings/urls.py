"""The State agents' pages on the inventory, under /batiments/."""

from __future__ import annotations

from django.urls import path

from buildings import views

app_name = "buildings"

urlpatterns = [
    path("", views.building_list_page, name="list"),
    path("import/", views.building_import_page, name="import"),
    path("import/rapport.csv", views.import_report_csv, name="import-report"),
    path("<int:pk>/", views.building_detail_page, name="detail"),
    path("<int:pk>/statut/", views.building_transition_page, name="transition"),
]
