"""The API router and the one exception handler that turns domain and database
errors into 400/409 with a machine-readable code and the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError
from config.permissions import PageNumberPagination

logger = logging.getLogger(__name__)

# JSON is the only format: no `.json` suffix routes (views would get a `format` kwarg).
router = DefaultRouter()
router.include_format_suffixes = False


class StrictPageNumberPagination(PageNumberPagination):
    """Pages whose ``page`` and ``page_size`` are given once and not blank, and
    whose ``page_size`` is a whole number from 1: DRF silently serves page 1
    for ``page=`` and the default size for ``page_size=abc``, ``-3.5`` or
    ``false`` (found by schemathesis, reliability.md D1). A size over the
    maximum is still cut to the maximum."""

    def _once(self, request: Request, name: str) -> str | None:
        values = request.query_params.getlist(name)
        if not values:
            return None
        if len(values) > 1 or not values[0]:
            raise exceptions.ValidationError(
                {name: [_("Give this parameter once, with a value.")]}
            )
        return values[0]

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        self._once(request, self.page_query_param)
        return super().get_page_number(request, paginator)

    def get_page_size(self, request: Request) -> int | None:
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


# PostgreSQL constraint names → (field, message). Apps register theirs at import.
CONSTRAINT_ERRORS: dict[str, tuple[str, str]] = {}


def _constraint_name(exc: Exception) -> str | None:
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", None)


def _error(
    status_code: int, code: str, message: str, field: str | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "detail": message}
    if field:
        body["errors"] = {field: [message]}
    return Response(body, status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return _error(exc.status_code, exc.code, exc.message, exc.field)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
        return Response(
            {"code": "invalid", "detail": "Invalid input.", "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        name = _constraint_name(exc)
        field, message = CONSTRAINT_ERRORS.get(
            name or "",
            ("non_field_errors", "This change conflicts with existing data."),
        )
        logger.info("integrity error on constraint %s", name)
        return _error(status.HTTP_409_CONFLICT, "conflict", message, field)
    if isinstance(exc, DataError):
        return _error(
            status.HTTP_400_BAD_REQUEST,
            "invalid",
            "A value is out of range or malformed.",
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {
            "code": "invalid",
            "detail": "Invalid input.",
            "errors": errors,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data["code"] = str(getattr(detail, "code", "error"))
    return response
