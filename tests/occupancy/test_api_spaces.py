"""Spaces in a shared building: an operator sees and manages the spaces of the
buildings it occupies under a live agreement, but not those another operator's
agreement holds or claims there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.fixtures import Settings

from tests.occupancy.factories import AgreementFactory, SpaceFactory
from tests.occupancy.test_api_support import (
    PSEUDONYM_KEY,
    World,
    build_world,
    if_match,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


def listed(world: World, principal: str) -> set[int]:
    response = world.client(principal).get("/api/v1/spaces/", {"page_size": 100})
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_two_operators_in_one_building_see_only_their_own_spaces(
    world: World,
) -> None:
    workshop = SpaceFactory.create(building=world.building_13, workshop=True)
    AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        active=True,
        spaces=[workshop],
    )
    seen_by_b = listed(world, "operator_b")
    assert workshop.pk in seen_by_b
    assert world.room.pk not in seen_by_b
    assert workshop.pk not in listed(world, "operator_a")
    # A free space of the building (claimed by no agreement) is either's to
    # describe.
    free = SpaceFactory.create(building=world.building_13, name="Salle libre")
    assert free.pk in listed(world, "operator_b") & listed(world, "operator_a")

    response = world.client("operator_b").patch(
        f"/api/v1/spaces/{world.room.pk}/",
        {"capacity": 1},
        format="json",
        **if_match(world.room),
    )
    assert response.status_code == 404


def test_a_space_held_by_two_operators_one_after_the_other_stays_each_ones(
    world: World,
) -> None:
    after = world.active.period.upper
    AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        approved=True,
        period=DateRange(after, after + timedelta(days=365)),
        spaces=[world.room],
    )
    assert world.room.pk in listed(world, "operator_a")
    assert world.room.pk in listed(world, "operator_b")


def test_an_agent_reads_the_spaces_but_adds_none(world: World) -> None:
    client = world.client("agent_13")
    assert world.room.pk in listed(world, "agent_13")
    response = client.post(
        "/api/v1/spaces/",
        {
            "building": world.building_13.pk,
            "name": "Bureau",
            "kind": "office",
            "use": "work",
            "capacity": 2,
        },
        format="json",
    )
    assert response.status_code == 403


def test_a_space_promised_to_another_operator_is_not_yours_to_change(
    world: World,
) -> None:
    """Operator A's draft names the workshop: operator B, sharing the building
    under its own live agreement, read it and could rename it or cut its capacity
    to nothing before A's agreement was even approved."""
    AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        active=True,
        spaces=[SpaceFactory.create(building=world.building_13, workshop=True)],
    )
    atelier = world.draft_space  # in A's draft only
    assert atelier.pk not in listed(world, "operator_b")
    response = world.client("operator_b").patch(
        f"/api/v1/spaces/{atelier.pk}/",
        {"capacity": 0, "name": "Pris"},
        format="json",
        **if_match(atelier),
    )
    assert response.status_code == 404
    atelier.refresh_from_db()
    assert (atelier.name, atelier.capacity) != ("Pris", 0)
    assert atelier.pk in listed(world, "operator_a")

    # Once A's draft is withdrawn, the workshop is free again.
    world.draft.status = "withdrawn"
    world.draft.save(update_fields=["status"])
    assert atelier.pk in listed(world, "operator_b")
