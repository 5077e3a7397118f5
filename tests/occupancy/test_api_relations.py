"""Every writable relation refuses another tenant's id (reliability.md B4): the
request is a 400 naming that field only, and no row is created or changed. The
message is the one a missing id gets, so the refusal does not tell whether the
row exists."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import models
from pytest_django.fixtures import Settings

from occupancy.models import Occupant, Space, Stay
from organizations.models import Organization, OrganizationKind
from tests.occupancy.test_api_support import (
    PSEUDONYM_KEY,
    World,
    build_world,
    counts,
    days,
    if_match,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Relation:
    principal: str
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    field: str
    foreign: Callable[[World], Any]
    target: Callable[[World], models.Model] | None = None

    @property
    def name(self) -> str:
        return f"{self.url.__name__}-{self.field}"


def _iso(n: int) -> str:
    return days(n).isoformat()


def agreements(world: World) -> str:
    return "/api/v1/agreements/"


def agreement_terms(world: World) -> str:
    return f"/api/v1/agreements/{world.draft.pk}/"


def agreement_spaces(world: World) -> str:
    return f"/api/v1/agreements/{world.draft.pk}/spaces/"


def inspections(world: World) -> str:
    return "/api/v1/safety-inspections/"


def spaces(world: World) -> str:
    return "/api/v1/spaces/"


def occupants(world: World) -> str:
    return "/api/v1/occupants/"


def occupant_lookup(world: World) -> str:
    return "/api/v1/occupants/lookup/"


def stays(world: World) -> str:
    return "/api/v1/stays/"


def stay_move(world: World) -> str:
    return f"/api/v1/stays/{world.stay.pk}/move/"


def contracts(world: World) -> str:
    return "/api/v1/residence-contracts/"


def new_agreement(world: World) -> dict[str, Any]:
    return {
        "building": world.building_13.pk,
        "grantor": world.services["13"].pk,
        "operator": world.operator_a.pk,
        "regime": "cot_public_domain",
        "purposes": ["workspaces"],
        "start": _iso(30),
        "end": _iso(400),
        "spaces": [world.draft_space.pk],
    }


def new_inspection(world: World) -> dict[str, Any]:
    return {
        "building": world.building_13.pk,
        "space": world.room.pk,
        "kind": "electricity",
        "date": _iso(-1),
        "result": "favourable",
    }


def new_hosted(world: World) -> dict[str, Any]:
    hosted = Organization.objects.create(
        name="Atelier Juxtapoz", kind=OrganizationKind.OTHER
    )
    return {
        "local_identifier": "structure-1",
        "operator": world.operator_a.pk,
        "kind": "organization",
        "category": "hosted_organization",
        "hosted_organization": hosted.pk,
    }


def new_stay(world: World) -> dict[str, Any]:
    return {
        "occupant": world.free_occupant.pk,
        "space": world.room_2.pk,
        "agreement": world.active.pk,
        "entry": _iso(-1),
        "structure_type": "insertion",
    }


def new_contract(world: World) -> dict[str, Any]:
    return {
        "agreement": world.active.pk,
        "occupant": world.free_occupant.pk,
        "start": _iso(-1),
        "initial_end": _iso(120),
        "monthly_fee": "100.00",
    }


RELATIONS = [
    # State editors of the 13
    Relation("agent_13", "post", agreements, new_agreement, "building",
             lambda w: w.building_75.pk),
    Relation("agent_13", "post", agreements, new_agreement, "grantor",
             lambda w: w.services["75"].pk),
    Relation("agent_13", "post", agreements, new_agreement, "operator",
             lambda w: w.funder.pk),
    Relation("agent_13", "post", agreements, new_agreement, "spaces",
             lambda w: [w.space_b.pk]),
    Relation("agent_13", "patch", agreement_terms, lambda w: {}, "grantor",
             lambda w: w.services["75"].pk, target=lambda w: w.draft),
    Relation("agent_13", "patch", agreement_terms, lambda w: {}, "operator",
             lambda w: w.services["13"].pk, target=lambda w: w.draft),
    Relation("agent_13", "post", agreement_spaces, lambda w: {}, "spaces",
             lambda w: [w.draft_space.pk, w.space_b.pk], target=lambda w: w.draft),
    Relation("agent_13", "post", inspections, new_inspection, "building",
             lambda w: w.building_75.pk),
    Relation("agent_13", "post", inspections, new_inspection, "space",
             lambda w: w.space_b.pk),
    # Operator A, with operator B's rows
    Relation("operator_a", "post", spaces,
             lambda w: {"name": "Bureau", "kind": "office", "use": "work",
                        "capacity": 3},
             "building", lambda w: w.building_75.pk),
    Relation("operator_a", "post", occupants, new_hosted, "operator",
             lambda w: w.operator_b.pk),
    Relation("operator_a", "post", occupants, new_hosted, "hosted_organization",
             lambda w: w.operator_b.pk),
    Relation("operator_a", "post", occupant_lookup,
             lambda w: {"local_identifier": w.local_identifier}, "operator",
             lambda w: w.operator_b.pk),
    Relation("operator_a", "post", stays, new_stay, "occupant",
             lambda w: w.occupant_b.pk),
    Relation("operator_a", "post", stays, new_stay, "space", lambda w: w.space_b.pk),
    Relation("operator_a", "post", stays, new_stay, "agreement",
             lambda w: w.active_b.pk),
    Relation("operator_a", "post", stay_move,
             lambda w: {"space": w.room_2.pk, "on": _iso(0)}, "space",
             lambda w: w.space_b.pk, target=lambda w: w.stay),
    Relation("operator_a", "post", stay_move,
             lambda w: {"space": w.room_2.pk, "on": _iso(0)}, "agreement",
             lambda w: w.active_b.pk, target=lambda w: w.stay),
    Relation("operator_a", "post", contracts, new_contract, "agreement",
             lambda w: w.active_b.pk),
    Relation("operator_a", "post", contracts, new_contract, "occupant",
             lambda w: w.occupant_b.pk),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


def rows(world: World) -> dict[str, Any]:
    """Counts, plus the rows a relation would point at (none may change)."""
    return {
        **counts(),
        "spaces": list(Space.objects.order_by("pk").values()),
        "stays": list(Stay.objects.order_by("pk").values()),
        "occupants": list(Occupant.objects.order_by("pk").values()),
    }


@pytest.mark.parametrize("relation", RELATIONS, ids=lambda relation: relation.name)
def test_another_tenants_id_is_refused_on_its_field(relation: Relation) -> None:
    world = build_world()
    body = {**relation.body(world), relation.field: relation.foreign(world)}
    headers = if_match(relation.target(world)) if relation.target else {}
    before = rows(world)
    response = getattr(world.client(relation.principal), relation.method)(
        relation.url(world), body, format="json", **headers
    )
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert set(errors) == {relation.field}, errors
    assert rows(world) == before


def test_a_foreign_id_and_a_missing_id_get_the_same_answer() -> None:
    world = build_world()
    client = world.client("operator_a")
    answers = []
    for occupant in (world.occupant_b.pk, 2**31 - 1):
        response = client.post(
            "/api/v1/stays/", {**new_stay(world), "occupant": occupant}, format="json"
        )
        message = response.json()["errors"]["occupant"][0]
        answers.append((response.status_code, message.replace(str(occupant), "ID")))
    assert answers[0] == answers[1]
