"""The API's request parsers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's, with a body nested deeper than the interpreter's recursion limit
    refused as a parse error (400), not a ``RecursionError`` (500): 1,000 nested
    brackets, a 2 KB body, reached it on every JSON endpoint."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                _("The JSON body is nested too deeply.")
            ) from None
