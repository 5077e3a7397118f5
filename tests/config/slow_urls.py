"""A test-only URLconf: views whose statement outlives the web's statement timeout,
and one that shows the session settings a request's connections carry."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.db import connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from buildings.ogc.views import OgcView

SLEEP_SECONDS = 3  # far above the timeout the tests set


def _sleep() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [SLEEP_SECONDS])


def slow_page(request: HttpRequest) -> HttpResponse:
    _sleep()
    return HttpResponse("done")


class SlowApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        _sleep()
        return HttpResponse("done")


class SlowOgcView(OgcView):
    def get(self, request: Request) -> HttpResponse:
        _sleep()
        return HttpResponse("done")


def _settings() -> dict[str, list[str]]:
    values = {}
    for alias in ("default", "jobs"):
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), "
                "current_setting('idle_in_transaction_session_timeout')"
            )
            values[alias] = list(cursor.fetchone())
    return values


def session_settings(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_settings())


def streamed_session_settings(request: HttpRequest) -> StreamingHttpResponse:
    """The query runs while the body is sent, after the view has returned."""

    def chunks() -> Iterator[bytes]:
        yield json.dumps(_settings()).encode()

    return StreamingHttpResponse(chunks(), content_type="application/json")


urlpatterns = [
    path("pages/slow", slow_page),
    path("api/v1/slow", SlowApiView.as_view()),
    path("ogc/slow", SlowOgcView.as_view()),
    path("session-settings", session_settings),
    path("session-settings/streamed", streamed_session_settings),
]

# As config/urls.py: errors raised outside the views (middleware) meet this handler.
handler500 = "config.views.server_error"
