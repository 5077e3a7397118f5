"""DRF defaults, kept free of view imports (DRF loads them while importing views)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework import pagination, permissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class DenyAll(permissions.BasePermission):
    """The default: a view that does not declare its permissions answers no one."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int | None:
        self.max_page_size = int(settings.API_MAX_PAGE_SIZE)
        return super().get_page_size(request)
