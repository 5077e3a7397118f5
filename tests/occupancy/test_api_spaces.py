"""Spaces in a shared building: an operator sees the spaces of the buildings it
occupies under a live agreement, but not those another operator's agreement holds
or claims there; it changes those its own agreements claim and the free ones it
created."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.fixtures import Settings

from occupancy.models import Agreement, Space
from occupancy.services import agreement_set_spaces
from organizations.models import Membership, Role
from tests.occupancy.factories import AgreementFactory, SpaceFactory, UserFactory
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
    # A free space of the building (claimed by no agreement) is read by both;
    # who may change it is below.
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


# --- Free spaces: their creator's to change -------------------------------------------
def share_building(world: World) -> Agreement:
    """Operator B holds its own live agreement in A's building."""
    return AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        active=True,
        spaces=[SpaceFactory.create(building=world.building_13, workshop=True)],
    )


def add_space(world: World, principal: str, **body: object) -> Any:
    return world.client(principal).post(
        "/api/v1/spaces/",
        {
            "building": world.building_13.pk,
            "name": "Salle de réunion",
            "kind": "office",
            "use": "work",
            "capacity": 8,
            **body,
        },
        format="json",
    )


def change(world: World, principal: str, space: Space, **body: object) -> Any:
    return world.client(principal).patch(
        f"/api/v1/spaces/{space.pk}/", body, format="json", **if_match(space)
    )


def test_a_free_space_is_changed_only_by_the_operator_that_created_it(
    world: World,
) -> None:
    """Operator B shares A's building: it read the room A had just added, claimed
    by no agreement yet, and could rename it or cut its capacity to nothing."""
    share_building(world)
    created = add_space(world, "operator_a")
    assert created.status_code == 201, created.content
    space = Space.objects.get(pk=created.json()["id"])
    assert space.created_by == world.operator_a

    assert space.pk in listed(world, "operator_b")  # read, as every free space
    refused = change(world, "operator_b", space, capacity=0, name="Pris")
    assert refused.status_code == 403, refused.content
    space.refresh_from_db()
    assert (space.name, space.capacity) == ("Salle de réunion", 8)

    done = change(world, "operator_a", space, capacity=10)
    assert done.status_code == 200, done.content
    space.refresh_from_db()
    assert space.capacity == 10


def test_a_free_space_a_state_agent_added_is_no_operators_to_change(
    world: World,
) -> None:
    """Added in the admin (no creator): read by both operators, changed by
    neither, until an agent attaches it to an agreement, whose operator then
    changes it."""
    b_agreement = share_building(world)
    free = SpaceFactory.create(building=world.building_13, name="Salle libre")
    for principal in ("operator_a", "operator_b"):
        assert free.pk in listed(world, principal)
        response = change(world, principal, free, capacity=9)
        assert response.status_code == 403, (principal, response.content)
    free.refresh_from_db()
    assert free.capacity == 2

    spaces = [*Space.objects.filter(agreement_spaces__agreement=b_agreement), free]
    agreement_set_spaces(agreement=b_agreement, spaces=spaces, by=None)
    assert change(world, "operator_b", free, capacity=9).status_code == 200
    assert change(world, "operator_a", free, capacity=1).status_code == 404


def test_whoever_writes_for_two_operators_of_the_building_says_which_adds_it(
    world: World,
) -> None:
    share_building(world)
    user = UserFactory.create()
    for operator in (world.operator_a, world.operator_b):
        Membership.objects.create(user=user, organization=operator, role=Role.EDITOR)
    world.users["both"] = user

    unsaid = add_space(world, "both")
    assert unsaid.status_code == 400
    assert list(unsaid.json()["errors"]) == ["operator"]

    said = add_space(world, "both", operator=world.operator_b.pk)
    assert said.status_code == 201, said.content
    assert Space.objects.get(pk=said.json()["id"]).created_by == world.operator_b


def test_an_operator_adds_a_space_only_for_an_operator_of_the_building(
    world: World,
) -> None:
    """Operator B writes for itself, but holds no live agreement in building 13:
    a user of A and B naming B there is refused on ``operator``."""
    user = UserFactory.create()
    for operator in (world.operator_a, world.operator_b):
        Membership.objects.create(user=user, organization=operator, role=Role.EDITOR)
    world.users["both"] = user

    response = add_space(world, "both", operator=world.operator_b.pk)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["operator"]
    assert not Space.objects.filter(name="Salle de réunion").exists()
