"""The finance pages (/financement/) and API (/api/v1/finance/), one include."""

from __future__ import annotations

from django.urls import include, path, re_path

from finance import views
from finance.api.urls import urlpatterns as api

app_name = "finance"

urlpatterns = [
    path("financement/", views.dashboard_page, name="dashboard"),
    # A file name, not a collection: no trailing slash.
    re_path(
        r"^financement/export\.(?P<fmt>csv|xlsx)$",
        views.export_page,
        name="export",
    ),
    path("api/v1/finance/", include(api)),
]
