"""Optimistic concurrency for API writes: ETag on reads, If-Match required on writes.

A client reads an object (the response carries its ``ETag``), then sends the
change with ``If-Match: <that etag>``. Without the header the write answers 428
(RFC 6585: a write that could silently overwrite a colleague's change is refused);
with a stale one, 412 (RFC 9110 §13.1.1). Buildings, agreements and commitments
share the mechanism.

The tag hashes the object's type, primary key and ``updated_at``: every service
saves ``updated_at`` with the fields it changes, so any write yields a new tag.
It identifies the *row version*, not the representation (which varies with the
caller's persona and embeds neighbouring objects), so it serves If-Match only;
conditional GETs (If-None-Match, 304) are deliberately not answered with it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS

if TYPE_CHECKING:
    from datetime import datetime

    from django.http import HttpResponseBase
    from rest_framework.request import Request


class Versioned(Protocol):
    pk: Any
    updated_at: datetime


R = TypeVar("R", bound="HttpResponseBase")


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _(
        "Send the ETag of the version you read in an If-Match header: "
        "changes made without it could overwrite someone else's."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _(
        "The object changed since you read it: read it again, then retry."
    )
    default_code = "precondition_failed"


def etag_of(instance: Versioned) -> str:
    """A strong entity tag, quoted as the header carries it."""
    kind = type(instance)
    version = (
        f"{kind.__module__}.{kind.__qualname__}:{instance.pk}:"
        f"{instance.updated_at.isoformat()}"
    )
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'


def check_if_match(request: Request, instance: Versioned) -> None:
    """Raise 428 without If-Match, 412 when no listed tag is the current one.

    If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag (``W/"…"``)
    never matches. ``*`` matches any current version.
    """
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise PreconditionRequired
    if header == "*":
        return
    current = etag_of(instance)
    if current not in (tag.strip() for tag in header.split(",")):
        raise PreconditionFailed


class ConditionalWriteMixin:
    """For DRF views: unsafe methods on one object require a matching If-Match.

    The check runs in ``check_object_permissions``, which DRF's ``get_object``
    (and every well-behaved override) calls, so a new ``@action`` on an object is
    covered without remembering to call it. Fetch the object with
    ``select_for_update()`` inside the write's transaction: otherwise two writers
    holding the same tag could both pass before either saves.
    """

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        super().check_object_permissions(request, obj)  # type: ignore[misc]
        if request.method not in SAFE_METHODS:
            check_if_match(request, obj)

    @staticmethod
    def with_etag(response: R, instance: Versioned) -> R:
        """``response`` carrying the tag of ``instance``'s current version."""
        response["ETag"] = etag_of(instance)
        return response


# The header in the schema of every write ConditionalWriteMixin guards.
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the version you read: 428 without it, 412 if stale.",
)
