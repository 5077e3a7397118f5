"""Reads of the inventory from a streaming replica (config/database/routing.py).

The replica here is a second connection to the test database that, like a hot
standby, refuses to write (``default_transaction_read_only``). The tests commit
their rows (``transactional_db``) so that the second connection sees them, and
tell the two connections apart by the statements each one ran.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import InternalError
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from buildings.models import Building
from config.database import routing
from config.database.routing import (
    PIN_COOKIE,
    REPLICA,
    ReplicaMiddleware,
    ReplicaRouter,
    replica_reads,
)
from tests.buildings.factories import MARSEILLE_POINT, BuildingFactory, SiteFactory
from tests.maps.conftest import tile_of

INVENTORY = "buildings_building"


pytestmark = pytest.mark.django_db(
    transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA]
)


def replica_settings(**changes: object) -> dict[str, object]:
    """The test database's connection settings, read-only, as a test mirror
    (never created nor flushed by the test runner)."""
    settings_dict = copy.deepcopy(connections[DEFAULT_DB_ALIAS].settings_dict)
    base = settings_dict["OPTIONS"].get("options", "")
    settings_dict["OPTIONS"] = {
        **settings_dict["OPTIONS"],
        "options": f"{base} -c default_transaction_read_only=on",
    }
    settings_dict["TEST"] = {**settings_dict["TEST"], "MIRROR": DEFAULT_DB_ALIAS}
    settings_dict.update(changes)
    return settings_dict


def set_replica(settings_dict: dict[str, object] | None) -> None:
    """Configure the replica alias (None: no replica), dropping any open connection."""
    if REPLICA in connections.settings:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]
    if settings_dict is not None:
        connections.settings[REPLICA] = settings_dict


@pytest.fixture(scope="module", autouse=True)
def replica_alias(django_db_setup: None) -> Iterator[None]:
    """The alias must exist before each test declares the databases it uses."""
    set_replica(replica_settings())
    yield
    set_replica(None)


@pytest.fixture
def replica() -> Iterator[BaseDatabaseWrapper]:
    cache.clear()  # throttle counters and cached extents
    yield connections[REPLICA]
    cache.clear()


@pytest.fixture
def vacant() -> Building:
    return BuildingFactory.create(vacant=True)


def inventory_reads(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if INVENTORY in q["sql"]]


def fetch(client: Client, url: str) -> tuple[Any, list[str], list[str]]:
    """The response and the inventory statements each connection ran for it."""
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
    ):
        response = client.get(url)
    return response, inventory_reads(on_replica), inventory_reads(on_primary)


def test_the_replica_refuses_writes_as_a_standby_does(
    replica: BaseDatabaseWrapper,
) -> None:
    with pytest.raises(InternalError, match="read-only transaction"):
        Building.objects.using(REPLICA).filter(pk=0).update(designation="x")


def test_the_buildings_list_reads_the_inventory_from_the_replica(
    replica: BaseDatabaseWrapper, vacant: Building
) -> None:
    response, on_replica, on_primary = fetch(Client(), "/api/v1/buildings/")
    assert response.status_code == 200, response.content
    assert [f["id"] for f in response.json()["features"]] == [vacant.pk]
    assert any("string_agg" in sql for sql in on_replica)
    assert on_primary == []


def test_public_tiles_read_from_the_replica(
    replica: BaseDatabaseWrapper, vacant: Building
) -> None:
    z, x, y = tile_of(*MARSEILLE_POINT, 14)
    response, on_replica, on_primary = fetch(
        Client(), f"/tiles/public/buildings/{z}/{x}/{y}.pbf"
    )
    assert response.status_code == 200
    assert response.content  # the building is in its tile
    assert any("ST_AsMVT" in sql for sql in on_replica)
    assert on_primary == []


def test_ogc_items_and_item_read_from_the_replica(
    replica: BaseDatabaseWrapper, vacant: Building
) -> None:
    base = "/ogc/collections/buildings/items"
    response, on_replica, on_primary = fetch(Client(), f"{base}?f=json")
    assert response.status_code == 200, response.content
    assert response.json()["numberReturned"] == 1
    assert on_replica
    assert on_primary == []
    response, on_replica, on_primary = fetch(Client(), f"{base}/{vacant.pk}?f=json")
    assert response.status_code == 200
    assert on_replica
    assert on_primary == []


def test_pages_and_details_stay_on_the_primary(
    replica: BaseDatabaseWrapper, vacant: Building, agent: User
) -> None:
    client = Client()
    client.force_login(agent)
    for url in (f"/api/v1/buildings/{vacant.pk}/", f"/batiments/{vacant.pk}/"):
        response, on_replica, on_primary = fetch(client, url)
        assert response.status_code == 200, url
        assert on_replica == []
        assert on_primary


def test_sessions_users_and_memberships_are_read_from_the_primary(
    replica: BaseDatabaseWrapper, vacant: Building, agent: User
) -> None:
    client = Client()
    client.force_login(agent)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.get("/api/v1/buildings/")
    assert response.status_code == 200
    assert on_replica.captured_queries
    for query in on_replica.captured_queries:
        assert "django_session" not in query["sql"]
        assert "auth_user" not in query["sql"]
        assert "organizations_membership" not in query["sql"]


def test_a_browser_that_has_written_reads_its_own_change_from_the_primary(
    replica: BaseDatabaseWrapper, agent: User
) -> None:
    client = APIClient()
    client.force_login(agent)
    site = SiteFactory.create()
    created = client.post(
        "/api/v1/buildings/",
        {
            "site": site.pk,
            "inventory_id": "DIE-13-REPLICA",
            "designation": "Ancienne caserne",
            "department": "13",
            "commune": "13055",
            "point": {"type": "Point", "coordinates": list(MARSEILLE_POINT)},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pin = created.cookies[PIN_COOKIE]
    assert int(pin["max-age"]) == 10
    assert pin["httponly"]
    # The test client keeps the cookie: the next list reads from the primary.
    response, on_replica, on_primary = fetch(client, "/api/v1/buildings/")
    assert response.status_code == 200
    assert created.json()["id"] in [f["id"] for f in response.json()["features"]]
    assert on_replica == []
    assert any("string_agg" in sql for sql in on_primary)
    # Once the cookie has expired, the replica serves the list again.
    del client.cookies[PIN_COOKIE]
    _response, on_replica, on_primary = fetch(client, "/api/v1/buildings/")
    assert on_replica
    assert on_primary == []


@pytest.mark.parametrize(
    ("method", "pinned"),
    [
        *[(method, True) for method in ("POST", "PUT", "PATCH", "DELETE")],
        *[(method, False) for method in ("GET", "HEAD", "OPTIONS")],
    ],
)
def test_only_a_successful_write_pins(
    replica: BaseDatabaseWrapper, method: str, pinned: bool
) -> None:
    request = RequestFactory().generic(method, "/anything/")
    request.COOKIES = {}
    response = ReplicaMiddleware(lambda request: HttpResponse())(request)
    assert (PIN_COOKIE in response.cookies) is pinned


def test_a_refused_write_does_not_pin(
    replica: BaseDatabaseWrapper, agent: User
) -> None:
    client = APIClient()
    client.force_login(agent)
    refused = client.post("/api/v1/buildings/", {"designation": ""}, format="json")
    assert refused.status_code == 400
    assert PIN_COOKIE not in refused.cookies


def test_an_unreachable_replica_is_logged_and_left_alone_for_a_while(
    replica: BaseDatabaseWrapper,
    vacant: Building,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(routing, "_clock", lambda: now[0])
    monkeypatch.setattr(routing, "_skip_until", 0.0)
    # Nothing listens on port 1: the connection is refused at once.
    set_replica(replica_settings(HOST="127.0.0.1", PORT="1"))
    try:
        with caplog.at_level(logging.WARNING, logger="config.database.routing"):
            first = Client().get("/api/v1/buildings/")
            now[0] += routing.RETRY_AFTER_SECONDS - 1
            second = Client().get("/api/v1/buildings/")
            now[0] += 1
            third = Client().get("/api/v1/buildings/")
    finally:
        set_replica(replica_settings())
    for response in (first, second, third):
        assert response.status_code == 200
        assert [f["id"] for f in response.json()["features"]] == [vacant.pk]
    warnings = [r.getMessage() for r in caplog.records]
    # Tried on the first request and once the window is over, not in between.
    assert len(warnings) == 2
    assert warnings[0].startswith(
        "replica unavailable, reading from the primary for 30 s"
    )


def test_without_a_replica_nothing_changes(replica: BaseDatabaseWrapper) -> None:
    request = RequestFactory().post("/anything/")
    request.COOKIES = {}

    def view(request: HttpRequest) -> HttpResponse:
        with replica_reads() as alias:
            return HttpResponse(alias)

    set_replica(None)
    try:
        response = ReplicaMiddleware(view)(request)
    finally:
        set_replica(replica_settings())
    assert response.content == DEFAULT_DB_ALIAS.encode()
    assert PIN_COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("method", "cookies", "alias"),
    [
        ("GET", {}, REPLICA),
        ("HEAD", {}, REPLICA),
        ("GET", {PIN_COOKIE: "1"}, DEFAULT_DB_ALIAS),
        ("POST", {}, DEFAULT_DB_ALIAS),
        ("OPTIONS", {}, DEFAULT_DB_ALIAS),
    ],
)
def test_only_safe_requests_of_unpinned_browsers_may_read_the_replica(
    replica: BaseDatabaseWrapper, method: str, cookies: dict[str, str], alias: str
) -> None:
    request = RequestFactory().generic(method, "/anything/")
    request.COOKIES = cookies
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        with replica_reads() as used:
            seen.append(used)
        return HttpResponse()

    ReplicaMiddleware(view)(request)
    assert seen == [alias]


def test_outside_a_request_reads_stay_on_the_primary(
    replica: BaseDatabaseWrapper,
) -> None:
    with replica_reads() as alias:
        assert alias == DEFAULT_DB_ALIAS


def test_the_router_sends_only_the_inventory_and_never_migrates_the_replica(
    replica: BaseDatabaseWrapper,
) -> None:
    router = ReplicaRouter()
    request = RequestFactory().get("/anything/")
    request.COOKIES = {}
    routes: dict[str, str | None] = {}

    def view(request: HttpRequest) -> HttpResponse:
        with replica_reads():
            routes["building"] = router.db_for_read(Building)
            routes["user"] = router.db_for_read(User)
        return HttpResponse()

    ReplicaMiddleware(view)(request)
    assert routes == {"building": REPLICA, "user": None}
    assert router.db_for_read(Building) is None  # outside the block
    assert router.allow_migrate(REPLICA, "buildings") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "buildings") is None


def test_an_object_read_from_the_replica_is_written_to_the_primary(
    replica: BaseDatabaseWrapper, vacant: Building
) -> None:
    request = RequestFactory().get("/anything/")
    request.COOKIES = {}
    loaded: list[Building] = []

    def view(request: HttpRequest) -> HttpResponse:
        with replica_reads():
            loaded.append(Building.objects.get(pk=vacant.pk))
        return HttpResponse()

    ReplicaMiddleware(view)(request)
    (building,) = loaded
    assert building._state.db == REPLICA
    building.designation = "Relue sur le réplica"
    building.save(update_fields=["designation"])  # the replica would refuse it
    building.site = SiteFactory.create()  # a relation across the two aliases
    building.save(update_fields=["site"])
    assert Building.objects.get(pk=vacant.pk).designation == "Relue sur le réplica"


def test_healthz_reports_the_replica_without_failing_on_it(
    replica: BaseDatabaseWrapper,
) -> None:
    body = Client().get("/healthz").json()
    # The test's replica is the primary itself, read-only: not in recovery, so no lag.
    assert body["replica"] == {"status": "ok", "standby": False, "lag_seconds": None}
    set_replica(replica_settings(HOST="127.0.0.1", PORT="1"))
    try:
        response = Client().get("/healthz")
    finally:
        set_replica(replica_settings())
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["replica"] == {"status": "unreachable"}


@pytest.mark.parametrize("url", ["/carte/selection/", "/carte/couches/"])
def test_the_inventory_maps_data_reads_from_the_replica(
    replica: BaseDatabaseWrapper, vacant: Building, agent: User, url: str
) -> None:
    client = Client()
    client.force_login(agent)
    response, on_replica, on_primary = fetch(client, url)
    assert response.status_code == 200, response.content
    assert on_replica
    assert on_primary == []


@pytest.mark.parametrize("fmt", ["csv", "geojson", "xlsx", "gpkg"])
def test_exports_read_from_the_replica_even_while_they_stream(
    replica: BaseDatabaseWrapper, vacant: Building, fmt: str
) -> None:
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
    ):
        response: Any = Client().get(f"/api/v1/buildings/export.{fmt}")
        # A streamed file is read after the view has returned, as a server does.
        content = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.getvalue()
        )
    assert response.status_code == 200
    assert content
    reads = inventory_reads(on_replica)
    assert len(reads) >= 2  # the size check, then the rows
    assert inventory_reads(on_primary) == []
    if fmt == "csv":
        assert str(vacant.pk).encode() in content


def test_after_a_stream_reads_are_the_primarys_again(
    replica: BaseDatabaseWrapper, vacant: Building
) -> None:
    response: Any = Client().get("/api/v1/buildings/export.csv")
    b"".join(response.streaming_content)
    assert routing.read_alias() == DEFAULT_DB_ALIAS
