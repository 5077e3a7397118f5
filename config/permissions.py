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
    """Pages whose ``page`` and ``page_size`` are given once and not blank: DRF
    silently serves page 1 for ``page=`` and the default size for
    ``page_size=abc``, ``-3.5`` or ``false`` (found by schemathesis, reliability.md
    D1), and answers 404 "Invalid page" for a malformed page. Each is a 400 on its
    parameter; a page past the last one stays a 404, a size over the maximum is
    cut to the maximum."""

    page_size_query_param = "page_size"

    def _once(self, request: Request, name: str) -> str | None:
        values = request.query_params.getlist(name)
        if not values:
            return None
        if len(values) > 1 or not values[0]:
            raise exceptions.ValidationError(
                {name: [_("Give this parameter once, with a value.")]}
            )
        return values[0]

    def get_page_size(self, request: Request) -> int | None:
        self.max_page_size = int(settings.API_MAX_PAGE_SIZE)
        text = self._once(request, self.page_size_query_param)
        if text is not None and not (
            text.isascii() and text.isdigit() and int(text) >= 1
        ):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        _("A page size is a whole number from 1.")
                    ]
                }
            )
        return super().get_page_size(request)

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        self._once(request, self.page_query_param)
        page: int | str = super().get_page_number(request, paginator)
        text = str(page)
        if not (text.isascii() and text.isdigit() and int(text) >= 1):
            raise exceptions.ValidationError(
                {self.page_query_param: [_("A page is a number from 1, or “last”.")]}
            )
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """What the two parameters take, ``last`` included."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {
                    "oneOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "enum": ["last"]},
                    ]
                }
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
