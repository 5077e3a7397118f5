"""DRF defaults, kept free of view imports (DRF loads them while importing views)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination, permissions

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

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        """A malformed page is a 400 on ``page`` (DRF answers 404 "Invalid
        page"); a page past the last one stays a 404."""
        page: int | str = super().get_page_number(request, paginator)
        text = str(page)
        if not (text.isascii() and text.isdigit() and int(text) >= 1):
            raise exceptions.ValidationError(
                {self.page_query_param: [_("A page is a number from 1, or “last”.")]}
            )
        return page
