"""Optimistic concurrency on the occupancy API (reliability.md E2): every GET of an
object carries its ETag; every change of an object needs it in If-Match — 428
without, 412 when someone changed the object since, and the change is then made
with the current tag. A refused change leaves the row as it was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import models
from pytest_django.fixtures import Settings

from config.etag import etag_of
from occupancy.residents import (
    occupant_update,
    residence_contract_renew,
    space_update,
    stay_plan_exit,
)
from occupancy.services import agreement_update
from tests.occupancy.test_api_support import PSEUDONYM_KEY, World, build_world, days

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Write:
    name: str
    principal: str
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    target: Callable[[World], models.Model]
    # Someone else's change, made between the read and the write.
    meanwhile: Callable[[World], object]
    detail: Callable[[World], str]


def _iso(n: int) -> str:
    return days(n).isoformat()


WRITES = [
    Write(
        "agreement-update",
        "agent_13",
        "patch",
        lambda w: f"/api/v1/agreements/{w.draft.pk}/",
        lambda w: {"max_headcount": 25},
        lambda w: w.draft,
        lambda w: agreement_update(agreement=w.draft, by=None, max_headcount=35),
        lambda w: f"/api/v1/agreements/{w.draft.pk}/",
    ),
    Write(
        "agreement-transition",
        "agent_13",
        "post",
        lambda w: f"/api/v1/agreements/{w.draft.pk}/transition/",
        lambda w: {"to": "under_review"},
        lambda w: w.draft,
        lambda w: agreement_update(agreement=w.draft, by=None, max_headcount=35),
        lambda w: f"/api/v1/agreements/{w.draft.pk}/",
    ),
    Write(
        "space-update",
        "operator_a",
        "patch",
        lambda w: f"/api/v1/spaces/{w.room.pk}/",
        lambda w: {"capacity": 6},
        lambda w: w.room,
        lambda w: space_update(space=w.room, name="Chambre 1 bis"),
        lambda w: f"/api/v1/spaces/{w.room.pk}/",
    ),
    Write(
        "occupant-update",
        "operator_a",
        "patch",
        lambda w: f"/api/v1/occupants/{w.occupant.pk}/",
        lambda w: {"age_band": "50_64"},
        lambda w: w.occupant,
        lambda w: occupant_update(occupant=w.occupant, age_band="25_34"),
        lambda w: f"/api/v1/occupants/{w.occupant.pk}/",
    ),
    Write(
        "stay-exit",
        "operator_a",
        "post",
        lambda w: f"/api/v1/stays/{w.stay.pk}/exit/",
        lambda w: {"exit_date": _iso(0), "destination": "social_housing"},
        lambda w: w.stay,
        lambda w: stay_plan_exit(stay=w.stay, exit_date=days(40)),
        lambda w: f"/api/v1/stays/{w.stay.pk}/",
    ),
    Write(
        "contract-renew",
        "operator_a",
        "post",
        lambda w: f"/api/v1/residence-contracts/{w.contract.pk}/renew/",
        lambda w: {},
        lambda w: w.contract,
        lambda w: residence_contract_renew(contract=w.contract),
        lambda w: f"/api/v1/residence-contracts/{w.contract.pk}/",
    ),
]


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


def snapshot(instance: models.Model) -> dict[str, Any]:
    row: dict[str, Any] = (
        type(instance)._default_manager.filter(pk=instance.pk).values().get()
    )
    return row


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_a_get_carries_the_tag_a_write_needs(world: World, write: Write) -> None:
    client = world.client(write.principal)
    response = client.get(write.detail(world))
    assert response.status_code == 200
    target = write.target(world)
    target.refresh_from_db()
    assert response["ETag"] == etag_of(target)  # type: ignore[arg-type]

    sent = getattr(client, write.method)(
        write.url(world),
        write.body(world),
        format="json",
        HTTP_IF_MATCH=response["ETag"],
    )
    assert sent.status_code in (200, 201), sent.content
    after = client.get(write.detail(world))
    assert after["ETag"] != response["ETag"], "a change must yield a new tag"


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_a_write_without_if_match_is_428_and_changes_nothing(
    world: World, write: Write
) -> None:
    target = write.target(world)
    before = snapshot(target)
    client = world.client(write.principal)
    response = getattr(client, write.method)(
        write.url(world), write.body(world), format="json"
    )
    assert response.status_code == 428, response.content
    assert response.json()["code"] == "precondition_required"
    assert snapshot(target) == before


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_a_write_with_a_stale_tag_is_412_and_changes_nothing(
    world: World, write: Write
) -> None:
    client = world.client(write.principal)
    stale = client.get(write.detail(world))["ETag"]
    write.meanwhile(world)
    target = write.target(world)
    before = snapshot(target)
    response = getattr(client, write.method)(
        write.url(world), write.body(world), format="json", HTTP_IF_MATCH=stale
    )
    assert response.status_code == 412, response.content
    assert response.json()["code"] == "precondition_failed"
    assert snapshot(target) == before


def test_a_row_added_under_an_agreement_makes_its_tag_stale_as_the_readme_says(
    world: World,
) -> None:
    """The 201 of an insurance certificate carries the certificate, not the
    agreement's new tag (no row added under an object answers with its parent's):
    the client reads the agreement again (README, "The API")."""
    client = world.client("operator_a")
    url = f"/api/v1/agreements/{world.active.pk}/"
    read = client.get(url)["ETag"]
    created = client.post(
        url + "insurance/",
        {
            "insurer": "MAIF",
            "valid_from": _iso(-10),
            "valid_until": _iso(300),
        },
        format="json",
        HTTP_IF_MATCH=read,
    )
    assert created.status_code == 201, created.content
    assert "ETag" not in created
    again = client.post(
        url + "insurance/",
        {"insurer": "MACIF", "valid_from": _iso(0), "valid_until": _iso(300)},
        format="json",
        HTTP_IF_MATCH=read,
    )
    assert again.status_code == 412
    fresh = client.get(url)["ETag"]
    assert fresh != read
    assert (
        client.post(
            url + "insurance/",
            {"insurer": "MACIF", "valid_from": _iso(0), "valid_until": _iso(300)},
            format="json",
            HTTP_IF_MATCH=fresh,
        ).status_code
        == 201
    )


def test_a_weak_tag_never_matches(world: World) -> None:
    client = world.client("operator_a")
    tag = client.get(f"/api/v1/occupants/{world.occupant.pk}/")["ETag"]
    response = client.patch(
        f"/api/v1/occupants/{world.occupant.pk}/",
        {"age_band": "50_64"},
        format="json",
        HTTP_IF_MATCH=f"W/{tag}",
    )
    assert response.status_code == 412


def test_another_tenant_gets_404_before_any_precondition(world: World) -> None:
    """No If-Match, a foreign object: the answer is the scope's (404), so the
    precondition never tells that the object exists."""
    response = world.client("operator_b").patch(
        f"/api/v1/occupants/{world.occupant.pk}/", {"age_band": "50_64"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_resident_update_whose_connection_dies_is_a_503_and_changes_nothing(
    kill_session_on: Callable[[str, str], Callable[[], None]],
) -> None:
    """reliability.md L2 (c): the session ends in the middle of the UPDATE under
    If-Match; the client is told to retry; the row and its history are as before;
    the retry with the same tag succeeds."""
    world = build_world()
    occupant = world.occupant
    client = world.client("operator_a")
    url = f"/api/v1/occupants/{occupant.pk}/"
    tag = client.get(url)["ETag"]
    history = apps.get_model("occupancy", "OccupantEvent").objects
    events = history.filter(pgh_obj_id=occupant.pk).count()
    lift = kill_session_on("occupancy_occupant", "UPDATE")

    lost = client.patch(url, {"age_band": "50_64"}, format="json", HTTP_IF_MATCH=tag)

    assert lost.status_code == 503, lost.content
    assert lost["Retry-After"] == "30"
    lift()
    occupant.refresh_from_db()
    assert occupant.age_band != "50_64"
    assert history.filter(pgh_obj_id=occupant.pk).count() == events
    retried = client.patch(url, {"age_band": "50_64"}, format="json", HTTP_IF_MATCH=tag)
    assert retried.status_code == 200, retried.content
