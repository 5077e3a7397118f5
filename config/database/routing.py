"""Reads of the inventory from a PostGIS streaming replica (DESIGN.md, "Beyond one
machine").

With ``DATABASE_REPLICA_URL`` set, the read-only endpoints that carry the map and
open-data traffic — the buildings list and exports, vector tiles, the inventory
map's data, OGC API – Features — read the inventory (the ``buildings`` and
``maps`` apps) from the ``replica`` alias; everything else, writes, sessions,
users and memberships included, stays on the primary. Without it nothing
changes: one database serves all.

Three rules keep it correct:

- only GET and HEAD requests may read from the replica (``ReplicaMiddleware``),
  and only inside ``replica_reads()``, which those views enter explicitly;
- a browser that has just written (any successful POST, PUT, PATCH or DELETE)
  reads from the primary for ``DATABASE_REPLICA_PIN_SECONDS`` (a cookie), so that
  an agent sees their own change at once despite replication lag;
- a replica that cannot be reached is logged and skipped: the request reads from
  the primary, and so do this process's requests for the next
  ``RETRY_AFTER_SECONDS`` (a replica that times out would otherwise cost every
  request its connect timeout, 2 s unless the URL says otherwise).

Raw SQL on those paths takes its connection from ``reader()``, the ORM from
``ReplicaRouter``; both follow the same context variable.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

REPLICA = "replica"
# The apps whose tables the replica serves: the inventory and its map aggregates.
REPLICATED_APPS = frozenset({"buildings", "maps"})
PIN_COOKIE = "intercalaire_primary"
READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER_SECONDS = 30.0

# Whether this request may read from the replica (set by ReplicaMiddleware).
_allowed: ContextVar[bool] = ContextVar("replica_allowed", default=False)
# The alias that reads of the inventory use right now.
_reading: ContextVar[str] = ContextVar("read_alias", default=DEFAULT_DB_ALIAS)
# Until when (``_clock()``) this process leaves an unreachable replica alone.
_skip_until = 0.0
_clock = time.monotonic


def replica_configured() -> bool:
    return REPLICA in connections.settings


def read_alias() -> str:
    return _reading.get()


def reader() -> BaseDatabaseWrapper:
    """The connection that raw SQL reading the inventory uses in this context."""
    return connections[_reading.get()]


@contextmanager
def replica_reads() -> Iterator[str]:
    """A block whose reads of the inventory go to the replica when this request
    may use it and the replica answers; yields the alias in use."""
    global _skip_until
    alias = DEFAULT_DB_ALIAS
    if _allowed.get() and replica_configured() and _clock() >= _skip_until:
        try:
            connections[REPLICA].ensure_connection()
            alias = REPLICA
        except DatabaseError as error:
            _skip_until = _clock() + RETRY_AFTER_SECONDS
            logger.warning(
                "replica unavailable, reading from the primary for %d s: %s",
                RETRY_AFTER_SECONDS,
                error,
            )
    token = _reading.set(alias)
    try:
        yield alias
    finally:
        _reading.reset(token)


def streamed_reads(chunks: Iterable[T]) -> Iterator[T]:
    """``chunks`` read with the alias in use now. A streamed response (an export)
    is consumed after its view has returned, outside ``replica_reads()``, maybe in
    another thread: the alias travels with the iterator."""
    alias = _reading.get()

    def consume() -> Iterator[T]:
        _reading.set(alias)
        try:
            yield from chunks
        finally:
            # Not reset(): the server may close the iterator from another context.
            # Between requests the alias is the primary's.
            _reading.set(DEFAULT_DB_ALIAS)

    return consume()


def reads_replica(view: Callable[P, R]) -> Callable[P, R]:
    """A view whose reads of the inventory may go to the replica (``replica_reads``)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped


class ReplicaRouter:
    """Sends ORM reads of the inventory to the alias of the current context."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if model._meta.app_label in REPLICATED_APPS:
            alias = _reading.get()
            if alias != DEFAULT_DB_ALIAS:
                return alias
        return None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        # Never where an instance was read from (Django's fallback): the replica
        # is read-only.
        if model._meta.app_label in REPLICATED_APPS:
            return DEFAULT_DB_ALIAS
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: objects read from either relate.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        # A streaming replica replays the primary's schema; it is never migrated.
        return False if db == REPLICA else None


class ReplicaMiddleware:
    """Lets safe requests of browsers that have not just written use the replica,
    and pins a browser to the primary for a while after each successful write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        reads = request.method in READ_METHODS
        token = _allowed.set(reads and PIN_COOKIE not in request.COOKIES)
        try:
            response = self.get_response(request)
        finally:
            _allowed.reset(token)
        pin = settings.DATABASE_REPLICA_PIN_SECONDS
        wrote = request.method in WRITE_METHODS and response.status_code < 400
        if wrote and pin:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=pin,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
