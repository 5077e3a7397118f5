"""Who may do what on the occupancy API: every endpoint and action, for seven
principals, against operator A's objects in the Bouches-du-Rhône (reliability.md
§1 and B1–B4).

Each expectation reads ``status[+|-]``: ``200+`` is a list that includes A's
object, ``200-`` one that does not. Objects outside a caller's scope answer 404,
never 403; a refused request changes no row; a foreign id in a body is a 400 on
its field. Every unsafe request carries the object's current ETag, so the status
is the access rule's, not the precondition's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from pytest_django.fixtures import Settings

from occupancy.models import Occupant, ResidentAccess
from organizations.models import OrganizationKind
from tests.occupancy.test_api_support import (
    PDF,
    PRINCIPALS,
    PSEUDONYM_KEY,
    World,
    build_world,
    counts,
    days,
    if_match,
)

pytestmark = pytest.mark.django_db

Body = Callable[[World, str], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    # One expectation per principal, in PRINCIPALS order.
    expect: str
    body: Body | None = None
    target: Callable[[World], models.Model] | None = None  # for If-Match
    listed: Callable[[World], int] | None = None  # the id a list must show or hide
    multipart: bool = False
    # Fields a 400 names (a foreign id on each writable relation).
    refused_fields: tuple[str, ...] = ()

    def expected(self, principal: str) -> str:
        return dict(zip(PRINCIPALS, self.expect.split(), strict=True))[principal]


def iso(n: int) -> str:
    return days(n).isoformat()


def agreement_body(world: World, principal: str) -> dict[str, Any]:
    grantor = world.organization_of(principal)
    if grantor is None or grantor.kind != OrganizationKind.STATE_SERVICE:
        grantor = world.services["13"]
    return {
        "building": world.building_13.pk,
        "grantor": grantor.pk,
        "operator": world.operator_a.pk,
        "regime": "cot_public_domain",
        "purposes": ["workspaces"],
        "start": iso(30),
        "end": iso(30 + 365),
        "fee_amount": "12000.00",
        "fee_period": "annual",
        "ddfip_opinion_reference": "AVIS-DDFIP-1",
        "ddfip_opinion_date": iso(-10),
        "max_headcount": 20,
    }


def stay_body(world: World, principal: str) -> dict[str, Any]:
    return {
        "occupant": world.free_occupant.pk,
        "space": world.room_2.pk,
        "agreement": world.active.pk,
        "entry": iso(-1),
        "structure_type": "insertion",
    }


def contract_body(world: World, principal: str) -> dict[str, Any]:
    return {
        "agreement": world.active.pk,
        "occupant": world.free_occupant.pk,
        "start": iso(-1),
        "initial_end": iso(120),
        "monthly_fee": "120.00",
    }


def agreement(world: World) -> str:
    return f"/api/v1/agreements/{world.active.pk}/"


def draft(world: World) -> str:
    return f"/api/v1/agreements/{world.draft.pk}/"


def space(world: World) -> str:
    return f"/api/v1/spaces/{world.room.pk}/"


def occupant(world: World) -> str:
    return f"/api/v1/occupants/{world.occupant.pk}/"


def stay(world: World) -> str:
    return f"/api/v1/stays/{world.stay.pk}/"


def contract(world: World) -> str:
    return f"/api/v1/residence-contracts/{world.contract.pk}/"


def constant(value: dict[str, Any]) -> Body:
    return lambda world, principal: value


#       anonymous agent_13 agent_75 national operator_a operator_b funder
AGENT_WRITE = "401 200 404 200 403 404 403"
PARTY_WRITE = "401 201 404 201 201 404 403"
RESIDENT_ACTION = "401 403 403 403 200 404 403"

CASES = [
    # --- Agreements
    Case(
        "agreements-list",
        "get",
        lambda w: "/api/v1/agreements/",
        "401 200+ 200- 200+ 200+ 200- 403",
        listed=lambda w: w.active.pk,
    ),
    Case("agreements-retrieve", "get", agreement, "401 200 404 200 200 404 403"),
    Case(
        "agreements-create",
        "post",
        lambda w: "/api/v1/agreements/",
        "401 201 400 201 403 403 403",
        body=agreement_body,
        refused_fields=("building",),
    ),
    Case(
        "agreements-update",
        "patch",
        draft,
        AGENT_WRITE,
        body=constant({"max_headcount": 30}),
        target=lambda w: w.draft,
    ),
    Case(
        "agreements-transition",
        "post",
        lambda w: draft(w) + "transition/",
        AGENT_WRITE,
        body=constant({"to": "under_review"}),
        target=lambda w: w.draft,
    ),
    Case(
        "agreements-record",
        "post",
        lambda w: agreement(w) + "record/",
        AGENT_WRITE,
        body=lambda w, p: {"mayor_notified_on": iso(-1)},
        target=lambda w: w.active,
    ),
    Case(
        "agreements-spaces",
        "post",
        lambda w: draft(w) + "spaces/",
        AGENT_WRITE,
        body=lambda w, p: {"spaces": [w.draft_space.pk]},
        target=lambda w: w.draft,
    ),
    Case(
        "agreements-amendments",
        "post",
        lambda w: agreement(w) + "amendments/",
        "401 201 404 201 403 404 403",
        body=lambda w, p: {"kind": "other", "signed_on": iso(0)},
        target=lambda w: w.active,
    ),
    Case(
        "agreements-insurance",
        "post",
        lambda w: agreement(w) + "insurance/",
        PARTY_WRITE,
        body=lambda w, p: {
            "insurer": "MAIF",
            "valid_from": iso(0),
            "valid_until": iso(365),
        },
        target=lambda w: w.active,
    ),
    Case(
        "agreements-documents",
        "post",
        lambda w: agreement(w) + "documents/",
        PARTY_WRITE,
        body=lambda w, p: {
            "kind": "annual_report",
            "title": "Rapport annuel",
            "file": SimpleUploadedFile("rapport.pdf", PDF, "application/pdf"),
        },
        target=lambda w: w.active,
        multipart=True,
    ),
    Case(
        "agreements-document-download",
        "get",
        lambda w: agreement(w) + f"documents/{w.document.pk}/",
        "401 200 404 200 200 404 403",
    ),
    # --- Spaces
    Case(
        "spaces-list",
        "get",
        lambda w: "/api/v1/spaces/",
        "401 200+ 200- 200+ 200+ 200- 403",
        listed=lambda w: w.room.pk,
    ),
    Case("spaces-retrieve", "get", space, "401 200 404 200 200 404 403"),
    Case(
        "spaces-create",
        "post",
        lambda w: "/api/v1/spaces/",
        "401 403 403 403 201 400 403",
        body=lambda w, p: {
            "building": w.building_13.pk,
            "name": "Chambre 3",
            "kind": "room",
            "use": "sleeping",
            "capacity": 2,
        },
        refused_fields=("building",),
    ),
    Case(
        "spaces-update",
        "patch",
        space,
        "401 403 404 403 200 404 403",
        body=constant({"capacity": 5}),
        target=lambda w: w.room,
    ),
    # --- Safety inspections
    Case(
        "inspections-list",
        "get",
        lambda w: "/api/v1/safety-inspections/",
        "401 200+ 200- 200+ 200+ 200- 403",
        listed=lambda w: w.inspection.pk,
    ),
    Case(
        "inspections-retrieve",
        "get",
        lambda w: f"/api/v1/safety-inspections/{w.inspection.pk}/",
        "401 200 404 200 200 404 403",
    ),
    Case(
        "inspections-create",
        "post",
        lambda w: "/api/v1/safety-inspections/",
        "401 201 400 201 403 403 403",
        body=lambda w, p: {
            "building": w.building_13.pk,
            "space": w.room.pk,
            "kind": "electricity",
            "date": iso(-2),
            "result": "favourable",
        },
        refused_fields=("building", "space"),
    ),
    # --- Occupants
    Case(
        "occupants-list",
        "get",
        lambda w: "/api/v1/occupants/",
        "401 403 403 403 200+ 200- 403",
        listed=lambda w: w.occupant.pk,
    ),
    Case("occupants-retrieve", "get", occupant, "401 403 403 403 200 404 403"),
    Case(
        "occupants-create",
        "post",
        lambda w: "/api/v1/occupants/",
        "401 403 403 403 201 201 403",
        body=constant(
            {"local_identifier": "dossier-9", "kind": "person", "category": "sheltered"}
        ),
    ),
    Case(
        "occupants-update",
        "patch",
        occupant,
        RESIDENT_ACTION,
        body=constant({"age_band": "50_64"}),
        target=lambda w: w.occupant,
    ),
    Case(
        "occupants-erase",
        "post",
        lambda w: f"/api/v1/occupants/{w.free_occupant.pk}/erase/",
        RESIDENT_ACTION,
        body=constant({}),
        target=lambda w: w.free_occupant,
    ),
    Case(
        "occupants-lookup",
        "post",
        lambda w: "/api/v1/occupants/lookup/",
        RESIDENT_ACTION,
        body=lambda w, p: {"local_identifier": w.local_identifier},
    ),
    # --- Stays
    Case(
        "stays-list",
        "get",
        lambda w: "/api/v1/stays/",
        "401 403 403 403 200+ 200- 403",
        listed=lambda w: w.stay.pk,
    ),
    Case("stays-retrieve", "get", stay, "401 403 403 403 200 404 403"),
    Case(
        "stays-start",
        "post",
        lambda w: "/api/v1/stays/",
        "401 403 403 403 201 400 403",
        body=stay_body,
        refused_fields=("occupant", "space", "agreement"),
    ),
    Case(
        "stays-plan-exit",
        "post",
        lambda w: stay(w) + "plan-exit/",
        RESIDENT_ACTION,
        body=lambda w, p: {"exit_date": iso(30)},
        target=lambda w: w.stay,
    ),
    Case(
        "stays-exit",
        "post",
        lambda w: stay(w) + "exit/",
        RESIDENT_ACTION,
        body=lambda w, p: {"exit_date": iso(0), "destination": "social_housing"},
        target=lambda w: w.stay,
    ),
    Case(
        "stays-move",
        "post",
        lambda w: stay(w) + "move/",
        "401 403 403 403 201 404 403",
        body=lambda w, p: {"space": w.room_2.pk, "on": iso(0)},
        target=lambda w: w.stay,
    ),
    # --- Residence contracts
    Case(
        "contracts-list",
        "get",
        lambda w: "/api/v1/residence-contracts/",
        "401 403 403 403 200+ 200- 403",
        listed=lambda w: w.contract.pk,
    ),
    Case("contracts-retrieve", "get", contract, "401 403 403 403 200 404 403"),
    Case(
        "contracts-create",
        "post",
        lambda w: "/api/v1/residence-contracts/",
        "401 403 403 403 201 400 403",
        body=contract_body,
        refused_fields=("agreement", "occupant"),
    ),
    Case(
        "contracts-notice",
        "post",
        lambda w: contract(w) + "notice/",
        RESIDENT_ACTION,
        body=lambda w, p: {"notice_date": iso(0)},
        target=lambda w: w.contract,
    ),
    Case(
        "contracts-terminate",
        "post",
        lambda w: contract(w) + "terminate/",
        RESIDENT_ACTION,
        body=lambda w, p: {
            "by": "resident",
            "notice_date": iso(0),
            "effective_end": iso(15),
        },
        target=lambda w: w.contract,
    ),
    Case(
        "contracts-renew",
        "post",
        lambda w: contract(w) + "renew/",
        RESIDENT_ACTION,
        body=constant({}),
        target=lambda w: w.contract,
    ),
    Case(
        "contracts-end",
        "post",
        lambda w: contract(w) + "end/",
        RESIDENT_ACTION,
        body=lambda w, p: {"end_date": iso(0), "ground": "death_or_abandonment"},
        target=lambda w: w.contract,
    ),
    # --- Indicators
    Case(
        "indicators",
        "get",
        lambda w: f"/api/v1/indicators/?period_start={iso(-60)}&period_end={iso(1)}",
        "401 200 200 200 200 200 200",
    ),
]


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()  # throttle counters
    yield
    cache.clear()


RESIDENT_FAMILIES = ("occupants", "stays", "contracts")


def occupants_of(world: World, principal: str) -> set[int]:
    operator = world.organization_of(principal)
    return set(Occupant.objects.filter(operator=operator).values_list("pk", flat=True))


def send(world: World, case: Case, principal: str) -> Any:
    client = world.client(principal)
    headers = if_match(case.target(world)) if case.target else {}
    url = case.url(world)
    if case.method == "get":
        return client.get(url)
    body = case.body(world, principal) if case.body else {}
    fmt = "multipart" if case.multipart else "json"
    return getattr(client, case.method)(url, body, format=fmt, **headers)


@pytest.mark.parametrize(
    ("case", "principal"),
    [
        pytest.param(case, principal, id=f"{case.name}-{principal}")
        for case in CASES
        for principal in PRINCIPALS
    ],
)
def test_every_principal_gets_what_the_access_matrix_says(
    case: Case, principal: str
) -> None:
    world = build_world()
    before = counts()
    theirs = occupants_of(world, principal)
    logged = set(ResidentAccess.objects.values_list("pk", flat=True))
    response = send(world, case, principal)
    expected = case.expected(principal)
    status = int(expected.rstrip("+-"))
    assert response.status_code == status, response.content
    # Every answer with resident rows is logged, by id, to its reader (H3).
    reads = list(
        ResidentAccess.objects.exclude(pk__in=logged).values_list(
            "user_id", "channel", "occupant_ids"
        )
    )
    if status >= 300:
        assert counts() == before, "a refused request changed rows"
        assert reads == []
    elif case.name.split("-")[0] in RESIDENT_FAMILIES and reads == []:
        assert response.json()["results"] == []  # read no resident, logged nothing
    elif case.name.split("-")[0] in RESIDENT_FAMILIES:
        (user_id, channel, ids), *more = reads
        assert more == []
        assert user_id == world.users[principal].pk  # type: ignore[union-attr]
        assert channel.startswith("api:")
        assert ids
        assert set(ids) <= theirs | occupants_of(world, principal)
    else:
        assert reads == []
    if status == 400:
        errors = response.json()["errors"]
        assert set(case.refused_fields) <= set(errors), errors
    if expected.endswith(("+", "-")):
        assert case.listed is not None
        ids = [row["id"] for row in response.json()["results"]]
        assert (case.listed(world) in ids) is expected.endswith("+"), ids


def test_the_matrix_covers_every_occupancy_route_and_action() -> None:
    """A new endpoint or action cannot escape the matrix (reliability.md B1)."""
    from config.api import router

    covered = {case.name.split("-")[0] for case in CASES}
    prefixes = {
        "agreements": "agreements",
        "spaces": "spaces",
        "safety-inspections": "inspections",
        "occupants": "occupants",
        "stays": "stays",
        "residence-contracts": "contracts",
    }
    actions: dict[str, set[str]] = {}
    for prefix, viewset, _basename in router.registry:
        if prefix not in prefixes:
            continue
        names = {"list", "retrieve"}
        names |= {
            name
            for name in ("create", "partial_update", "update", "destroy")
            if hasattr(viewset, name)
        }
        names |= {extra.__name__ for extra in viewset.get_extra_actions()}
        actions[prefixes[prefix]] = names
    assert set(actions) <= covered
    expected_cases = {
        "agreements": {
            "list", "retrieve", "create", "update", "transition", "record", "spaces",
            "amendments", "insurance", "documents", "document-download",
        },
        "spaces": {"list", "retrieve", "create", "update"},
        "inspections": {"list", "retrieve", "create"},
        "occupants": {"list", "retrieve", "create", "update", "lookup", "erase"},
        "stays": {"list", "retrieve", "start", "plan-exit", "exit", "move"},
        "contracts": {
            "list", "retrieve", "create", "notice", "terminate", "renew", "end",
        },
    }  # fmt: skip
    for family, names in actions.items():
        cases = {
            case.name.split("-", 1)[1]
            for case in CASES
            if case.name.split("-")[0] == family
        }
        assert cases == expected_cases[family]
        # Every action of the viewset has its case (create is "start" for stays).
        assert len(names) == len(cases), (family, names, cases)
