"""Agreement pages for State agents (/conventions/) and site pages for operators
(/mes-sites/; the list of sites is the operator space, /espace/operateur/)."""

from __future__ import annotations

from django.urls import path

from occupancy import views

app_name = "occupancy"

urlpatterns = [
    path("conventions/", views.agreement_list_page, name="agreement-list"),
    path("conventions/alertes/", views.alerts_page, name="alerts"),
    path("conventions/<int:pk>/", views.agreement_detail_page, name="agreement-detail"),
    path(
        "conventions/<int:pk>/statut/",
        views.agreement_transition_page,
        name="agreement-transition",
    ),
    path("mes-sites/", views.my_sites_redirect, name="my-sites"),
    path("mes-sites/<int:pk>/", views.site_page, name="site"),
]
