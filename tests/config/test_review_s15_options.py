"""Review s15: OPTIONS served by config.metadata.AllowOnly
(``DEFAULT_METADATA_CLASS``) reaches every DRF view, the Swagger UI too.

AllowOnly answers ``Response(None)``; /api/docs/ renders with drf-spectacular's
TemplateHTMLRenderer, which has no template for that answer: OPTIONS /api/docs/
is a 500 ("No template names provided"), for anyone, anonymous callers
included. Before (DEFAULT_METADATA_CLASS = None) it was a 405. README: "OPTIONS
on any API resource answers 200 with its Allow header and no body".
"""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_options_on_the_swagger_ui_is_no_server_error() -> None:
    response = Client(raise_request_exception=False).options("/api/docs/")

    assert response.status_code < 500, response.status_code
    assert response.status_code in (200, 204, 405)
    assert "OPTIONS" in response.get("Allow", "") or response.status_code == 405
