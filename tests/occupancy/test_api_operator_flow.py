"""An operator's day through the API with an expiring token, end to end: log in,
add a room to the building it occupies, register a resident, house them, record
their exit, and read its own exact figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from config.etag import etag_of
from occupancy.models import Occupant, Stay
from tests.occupancy.test_api_support import PSEUDONYM_KEY, build_world, days

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


def test_an_operator_houses_a_resident_and_records_the_exit_with_a_token() -> None:
    world = build_world()
    user = world.users["operator_a"]
    assert user is not None
    user.set_password(PASSWORD)
    user.save()

    # The token, from the username and password.
    anonymous = APIClient()
    issued = anonymous.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    assert issued.status_code == 201, issued.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")

    # A new room in the building the operator occupies.
    created = api.post(
        "/api/v1/spaces/",
        {
            "building": world.building_13.pk,
            "name": "Chambre 10",
            "kind": "room",
            "use": "sleeping",
            "floor": 2,
            "capacity": 2,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    room = created.json()
    assert created["Location"].endswith(f"/api/v1/spaces/{room['id']}/")
    assert created["ETag"]

    # The State editor adds it to the agreement (premises are the State's grant).
    agent = world.client("agent_13")
    tag = agent.get(f"/api/v1/agreements/{world.active.pk}/")["ETag"]
    covered = agent.post(
        f"/api/v1/agreements/{world.active.pk}/spaces/",
        {"spaces": [world.room.pk, world.room_2.pk, room["id"]]},
        format="json",
        HTTP_IF_MATCH=tag,
    )
    assert covered.status_code == 200, covered.content

    # A resident, registered with the operator's own file number…
    registered = api.post(
        "/api/v1/occupants/",
        {
            "local_identifier": "SIAO-2026-000417",
            "kind": "household",
            "category": "household",
            "household_size": 2,
            "age_band": "25_34",
            "orientation_source": "siao_115",
        },
        format="json",
    )
    assert registered.status_code == 201, registered.content
    occupant = registered.json()
    assert "local_identifier" not in occupant
    assert "pseudonym" not in occupant
    assert "SIAO-2026-000417" not in registered.content.decode()
    # … found again by that number, and registered only once.
    again = api.post(
        "/api/v1/occupants/",
        {
            "local_identifier": "SIAO-2026-000417",
            "kind": "household",
            "category": "household",
        },
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["id"] == occupant["id"]
    found = api.post(
        "/api/v1/occupants/lookup/",
        {"local_identifier": "SIAO-2026-000417"},
        format="json",
    )
    assert found.json()["id"] == occupant["id"]
    assert Occupant.objects.filter(operator=world.operator_a).count() == 3

    # Housed ten days ago in the new room: the household takes both places.
    started = api.post(
        "/api/v1/stays/",
        {
            "occupant": occupant["id"],
            "space": room["id"],
            "agreement": world.active.pk,
            "entry": days(-10).isoformat(),
            "structure_type": "insertion",
        },
        format="json",
    )
    assert started.status_code == 201, started.content
    stay = started.json()
    assert (stay["places"], stay["status"], stay["exit"]) == (2, "active", None)

    # The exit, today, to social housing, against the version just read.
    left = api.post(
        f"/api/v1/stays/{stay['id']}/exit/",
        {"exit_date": days(0).isoformat(), "destination": "social_housing"},
        format="json",
        HTTP_IF_MATCH=started["ETag"],
    )
    assert left.status_code == 200, left.content
    assert left.json()["status"] == "exited"
    assert left["ETag"] == etag_of(Stay.objects.get(pk=stay["id"]))

    # Its own figures, exact: two households (with the world's resident), three
    # persons, one exit, to housing.
    figures = api.get(
        "/api/v1/indicators/",
        {"period_start": days(-30).isoformat(), "period_end": days(1).isoformat()},
    )
    assert figures.status_code == 200, figures.content
    report = figures.json()
    assert report["exact"] is True
    (row,) = report["rows"]
    assert row["households_housed"] == {"value": 2, "suppressed": False}
    assert row["persons_housed"] == {"value": 3, "suppressed": False}
    assert row["exits"] == {"value": 1, "suppressed": False}
    assert row["exits_to_housing"] == {"value": 1, "suppressed": False}

    # By site, the same operator's buildings only.
    by_site = api.get(
        "/api/v1/indicators/",
        {
            "period_start": days(-30).isoformat(),
            "period_end": days(1).isoformat(),
            "group_by": "site",
        },
    ).json()
    assert {row["group"] for row in by_site["rows"]} == {str(world.building_13.pk)}
