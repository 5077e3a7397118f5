"""PostGIS, with a health check that asks the socket before the server.

``CONN_HEALTH_CHECKS`` keeps persistent connections safe across a database
restart: before a request's first statement, Django checks the connection with a
``SELECT 1``. That is one more round trip on every request, as costly as the
statement of a small tile. A server that ends a connection (restart,
``pg_terminate_backend``, ``idle_session_timeout``) says so on the socket first:
an error message, then end of file. So a connection that is idle, in a good
state and has nothing to read is usable as it stands; any other connection gets
Django's ``SELECT 1``. A connection lost without a word from the server (a cable
cut) is found by its first statement, as it would be by ``SELECT 1``.

A connection opened while a web request is served (``serving_request``, set by
``config.middleware.DatabaseLimitsMiddleware``) also carries the alias's
``REQUEST_OPTIONS``: the web's statement and idle-transaction timeouts
(config/settings.py). They go in the startup packet, so they cost no round trip,
and they last as long as the connection, which only that thread's requests reuse.
Commands and the job worker serve no request: their connections are unbounded.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.contrib.gis.db.backends.postgis import base
from psycopg import pq

from config.database.limits import serving_request


def _has_input(fd: int) -> bool:
    """Whether the socket has bytes to read, an end of file or an error pending."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    # Set by Django's BaseDatabaseWrapper; declared for the type checker.
    health_check_enabled: bool
    health_check_done: bool

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        limits = self.settings_dict.get("REQUEST_OPTIONS")
        if limits and serving_request.get():
            params["options"] = f"{params.get('options', '')} {limits}".strip()
        return params

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None:
            return False
        try:
            quiet = (
                connection.pgconn.status == pq.ConnStatus.OK
                and connection.info.transaction_status == pq.TransactionStatus.IDLE
                and not _has_input(connection.pgconn.socket)
            )
        except (psycopg.Error, OSError):  # any doubt goes to the round trip below
            quiet = False
        return quiet or super().is_usable()
