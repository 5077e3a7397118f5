from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView

from buildings.api.urls import urlpatterns as building_api
from config.api import router
from config.views import ApiDocsView, healthz
from occupancy.api.urls import urlpatterns as occupancy_api
from organizations import views as organization_views
from organizations.api.urls import urlpatterns as organization_api

handler500 = "config.views.server_error"

api_v1 = [*organization_api, *building_api, *occupancy_api, *router.urls]

urlpatterns = [
    path("", organization_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("compte/connexion/", organization_views.LoginView.as_view(), name="login"),
    path("compte/deconnexion/", organization_views.logout_view, name="logout"),
    path(
        "espace/<slug:space>/", organization_views.persona_space, name="persona-space"
    ),
    path("batiments/", include("buildings.urls")),
    path("", include("occupancy.urls")),
    path("", include("finance.urls")),
    path("", include("maps.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("ogc/", include("buildings.ogc.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        ApiDocsView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
