"""Request correlation ids, the idle timeout of browser sessions, and the web's
database limits."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator

import pghistory
import psycopg
from django.conf import settings
from django.contrib.auth import logout
from django.db import DatabaseError
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from config.database.limits import serving_request

logger = logging.getLogger(__name__)

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (kept from ``X-Request-ID`` when well formed).

    The id is logged with every line, echoed in the response and shown on error
    pages, so a user's report can be matched to the server logs. It also ends
    browser sessions left idle longer than ``SESSION_IDLE_SECONDS``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = REQUEST_ID.set(request_id)
        try:
            # Audit events written during this request carry its id (pghistory).
            with pghistory.context(request_id=request_id):
                response = self.get_response(request)
        finally:
            REQUEST_ID.reset(token)
        response["X-Request-ID"] = request_id
        return response


class SessionIdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and "_auth_user_id" in request.session:
            now = int(time.time())
            last_seen = request.session.get("last_seen", now)
            if now - last_seen > settings.SESSION_IDLE_SECONDS:
                logout(request)
            elif now - last_seen >= 60 or "last_seen" not in request.session:
                # Written at most once a minute: not a session save on every request.
                request.session["last_seen"] = now
        return self.get_response(request)


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


# SQLSTATE query_canceled: statement_timeout (or pg_cancel_backend) cut the statement.
QUERY_CANCELED = "57014"
# The paths whose clients read JSON; the error shape is each one's own.
API_PREFIX = "/api/"
OGC_PREFIX = "/ogc/"
RETRY_AFTER_SECONDS = 30


def _psycopg_error(exception: BaseException) -> psycopg.Error | None:
    """The psycopg error behind ``exception`` (Django wraps them in its own)."""
    if isinstance(exception, psycopg.Error):
        return exception
    if isinstance(exception, DatabaseError) and isinstance(
        exception.__cause__, psycopg.Error
    ):
        return exception.__cause__
    return None


def statement_cancelled(exception: BaseException) -> bool:
    """Whether ``exception`` is a statement the server cancelled (Django wraps
    psycopg's ``QueryCanceled`` in its ``OperationalError``)."""
    error = _psycopg_error(exception)
    return error is not None and error.sqlstate == QUERY_CANCELED


def connection_lost(exception: BaseException) -> bool:
    """Whether the request lost its database connection (reliability.md L2): the
    server ended the session (``pg_terminate_backend``, a restart, the idle-in-
    transaction timeout: SQLSTATE 57P01–57P03, 25P03) or the link broke with no
    word from it. The transaction died with the session: nothing was written."""
    error = _psycopg_error(exception)
    if error is None:
        return False
    if error.sqlstate in {"57P01", "57P02", "57P03", "25P03"}:
        return True
    if error.sqlstate is not None and error.sqlstate.startswith("08"):
        return True
    # psycopg's OperationalError without a SQLSTATE: the socket closed or broke.
    return isinstance(error, psycopg.OperationalError) and error.sqlstate is None


def _while_serving(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # A streamed body's queries run after the middleware has returned; a connection
    # they open belongs to the request all the same.
    serving_request.set(True)
    try:
        yield from chunks
    finally:
        serving_request.set(False)


class DatabaseLimitsMiddleware:
    """Web requests get the database limits of ``REQUEST_OPTIONS`` (K3 of
    reliability.md; config/database/base.py), and a statement cut by them answers
    503 with ``Retry-After``, not a 500: JSON under /api/ and /ogc/ (each in its
    error shape), an HTML page elsewhere.

    The limits are set on the connections opened while a request is served, so
    that the management commands and the job worker, which serve none, are not cut.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = serving_request.set(True)
        try:
            response = self.get_response(request)
        finally:
            serving_request.reset(token)
        if (
            isinstance(response, StreamingHttpResponse)
            and not response.is_async
            # A file's bytes are no query, and wrapping would lose wsgi.file_wrapper.
            and not isinstance(response, FileResponse)
        ):
            response.streaming_content = _while_serving(response.streaming_content)
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if statement_cancelled(exception):
            logger.warning("statement cancelled by the web timeout: %s", request.path)
            return unavailable(request)
        if connection_lost(exception):
            logger.warning("database connection lost: %s", request.path)
            return unavailable(request, lost=True)
        return None


def unavailable(request: HttpRequest, *, lost: bool = False) -> HttpResponse:
    """503 with ``Retry-After``, in the form the caller reads."""
    message = (
        _("The database connection was lost: nothing was saved. Please try again.")
        if lost
        else _("The database took too long to answer. Please try again in a moment.")
    )
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"code": "unavailable", "detail": message}, status=503)
    elif request.path_info.startswith(OGC_PREFIX):
        # The OGC exception schema; public data for other origins, as every
        # /ogc/ JSON resource (buildings/ogc/views.py).
        response = JsonResponse(
            {"code": "ServiceUnavailable", "description": message}, status=503
        )
        response["Access-Control-Allow-Origin"] = "*"
    else:
        body = render_to_string(
            "503.html",
            {
                "message": message,
                "request_id": getattr(request, "request_id", "-"),
            },
        )
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response
