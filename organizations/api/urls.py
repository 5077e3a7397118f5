from __future__ import annotations

from django.urls import path

from config.api import router
from organizations.api.views import (
    MeView,
    OrganizationViewSet,
    TokenObtainView,
    TokenRevokeView,
)

router.register("organizations", OrganizationViewSet, basename="organization")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="token-revoke"),
    path("me/", MeView.as_view(), name="me"),
]
