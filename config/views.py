"""Service views: ``/healthz`` for load balancers and compose, the 500 page, and the
API's Swagger UI."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.db import DatabaseError, connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularSwaggerSplitView

from config.database.routing import REPLICA, replica_configured
from config.middleware import connection_lost, statement_cancelled, unavailable

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
    body: dict[str, Any] = {"status": "ok", "postgresql": postgres, "postgis": postgis}
    if replica_configured():
        # Reported, not judged: reads fall back to the primary without it.
        body["replica"] = _replica_status()
    return JsonResponse(body)


def _replica_status() -> dict[str, Any]:
    """Whether the replica answers, whether it is a standby, and the seconds since
    it replayed the primary's last transaction (grows while the primary is idle)."""
    replica = connections[REPLICA]
    try:
        with replica.cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), extract(epoch FROM now() - "
                "pg_last_xact_replay_timestamp())::float8"
            )
            standby, lag = cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("healthz: replica unreachable: %s", exc.__class__.__name__)
        replica.close_if_unusable_or_obsolete()
        return {"status": "unreachable"}
    return {"status": "ok", "standby": standby, "lag_seconds": lag}


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 page with the request id and nothing else: no trace, no settings.

    Django calls it while handling the exception. A statement cut by the web's
    timeout, or a lost connection, raised in a middleware (the session's read or
    save), never reached DatabaseLimitsMiddleware: it is the same 503 here."""
    exception = sys.exc_info()[1]
    if exception is not None and (
        statement_cancelled(exception) or connection_lost(exception)
    ):
        return unavailable(request, lost=connection_lost(exception))
    body = render_to_string(
        "500.html", {"request_id": getattr(request, "request_id", "-")}
    )
    return HttpResponse(body, status=500)


class ApiDocsView(SpectacularSwaggerSplitView):
    """The Swagger UI of the API (/api/docs/).

    OPTIONS answers as on the API's resources, 200 with ``Allow`` and no body
    (config.metadata.AllowOnly): this page's only renderer is an HTML template,
    which has no template for that empty answer (a 500 before)."""

    # A plain HttpResponse: a DRF Response goes through the HTML renderer.
    def options(  # type: ignore[override]
        self, request: Any, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        return HttpResponse()  # APIView.finalize_response adds ``Allow``
