"""The API router and the one exception handler that turns domain and database
errors into 400/409 with a machine-readable code and the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger(__name__)

# JSON is the only format: no `.json` suffix routes (views would get a `format` kwarg).
router = DefaultRouter()
router.include_format_suffixes = False


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


# PostgreSQL constraint names → (field, message). Apps register theirs at import.
CONSTRAINT_ERRORS: dict[str, tuple[str, str]] = {}


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
