"""The database backend's health check (config/database/base.py).

Before a request's first statement Django checks a persistent connection. Ours
asks the socket first: a quiet connection is used as it stands, with no round
trip; one the server ended is found and replaced. The statements a backend ran
are read from pg_stat_activity through the test's own connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from django.contrib.gis.db.backends.postgis.base import (
    DatabaseWrapper as PostGISWrapper,
)
from django.db import DEFAULT_DB_ALIAS, connection, connections

from config.database.base import DatabaseWrapper


@pytest.fixture
def own() -> Iterator[DatabaseWrapper]:
    """A connection of its own, from settings (the test's sits in a transaction)."""
    wrapper = cast(DatabaseWrapper, connections.create_connection(DEFAULT_DB_ALIAS))
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _backend_pid(wrapper: DatabaseWrapper) -> int:
    assert wrapper.connection is not None
    return int(wrapper.connection.info.backend_pid)


def _last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return str(cursor.fetchone()[0])


def _start_request(wrapper: DatabaseWrapper) -> None:
    """What Django does between requests: the next cursor checks the connection."""
    wrapper.close_if_unusable_or_obsolete()
    assert not wrapper.health_check_done


@pytest.mark.django_db
def test_the_settings_check_connections_before_each_request(
    own: DatabaseWrapper,
) -> None:
    assert own.health_check_enabled
    assert type(own) is DatabaseWrapper  # ours, from config/env.py's ENGINE


@pytest.mark.django_db
def test_a_quiet_connection_is_used_with_no_round_trip(
    own: DatabaseWrapper,
) -> None:
    pid = _backend_pid(own)
    with own.cursor() as cursor:
        cursor.execute("SELECT 'before the check'")
    _start_request(own)
    with own.cursor() as cursor:
        assert own.health_check_done
        assert _last_statement(pid) == "SELECT 'before the check'"
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == pid
    # Django's own check is a statement, seen the same way: the probe can tell.
    assert PostGISWrapper.is_usable(own)
    assert _last_statement(pid) == "SELECT 1"


@pytest.mark.django_db
def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(
    own: DatabaseWrapper,
) -> None:
    pid = _backend_pid(own)
    with connection.cursor() as cursor:
        # Waits (up to 5 s) until the backend has gone, as after a restart.
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        assert cursor.fetchone()[0] is True
    assert own.is_usable() is False
    _start_request(own)
    with own.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@pytest.mark.django_db
def test_a_connection_inside_a_transaction_gets_the_round_trip(
    own: DatabaseWrapper,
) -> None:
    """Only an idle connection is judged by its socket; any other state asks."""
    pid = _backend_pid(own)
    own.set_autocommit(False)
    try:
        with own.cursor() as cursor:
            cursor.execute("SELECT 'in a transaction'")
        assert own.is_usable()
        assert _last_statement(pid) == "SELECT 1"
    finally:
        own.rollback()
        own.set_autocommit(True)


def test_a_closed_connection_is_not_usable() -> None:
    wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
    assert wrapper.connection is None
    assert wrapper.is_usable() is False
