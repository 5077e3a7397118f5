"""The State agents' pages on the inventory, under /batiments/."""

from __future__ import annotations

from django.urls import path

from buildings import import_views, views

app_name = "buildings"

urlpatterns = [
    path("", views.building_list_page, name="list"),
    path("import/", import_views.building_import_page, name="import"),
    path("import/rapport.csv", import_views.import_report_csv, name="import-report"),
    path("import/taches/<int:pk>/", import_views.import_job_page, name="import-job"),
    path(
        "import/taches/<int:pk>/etat.json",
        import_views.import_job_status,
        name="import-job-status",
    ),
    path(
        "import/taches/<int:pk>/confirmer/",
        import_views.import_job_confirm,
        name="import-job-confirm",
    ),
    path("<int:pk>/", views.building_detail_page, name="detail"),
    path("<int:pk>/statut/", views.building_transition_page, name="transition"),
]
