"""Service views: ``/healthz`` for load balancers and compose, and the 500 page."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('server_version'), postgis_lib_version()"
            )
            postgres, postgis = cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("healthz: database unreachable: %s", exc.__class__.__name__)
        # Drop the broken connection so the next check reconnects.
        connection.close_if_unusable_or_obsolete()
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable"}, status=503
        )
    return JsonResponse({"status": "ok", "postgresql": postgres, "postgis": postgis})


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 page with the request id and nothing else: no trace, no settings."""
    body = render_to_string(
        "500.html", {"request_id": getattr(request, "request_id", "-")}
    )
    return HttpResponse(body, status=500)
