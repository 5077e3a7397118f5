"""What the API's OPTIONS answers (``DEFAULT_METADATA_CLASS``).

Its own module: DRF imports it while defining APIView, so it may not import
the views (config.api does, through the router).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.metadata import BaseMetadata

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class AllowOnly(BaseMetadata):
    """OPTIONS answers 200 with the resource's ``Allow`` header and no body.

    DRF's SimpleMetadata describes every field, with the choices of related
    fields (rows the caller may not list); with no metadata class at all,
    OPTIONS was a 405 whose own Allow header listed OPTIONS."""

    def determine_metadata(self, request: Request, view: APIView) -> None:
        return None
