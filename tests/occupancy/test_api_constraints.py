"""The database's constraints reach the client as 400/409 on the field at fault,
never as a 500 (reliability.md E1, E4): two live agreements on one space, a full
room, one stay at a time per occupant, one space name per building — whether the
service sees the conflict first or the database refuses the second of two racing
writers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import translation
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from occupancy import legal
from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    Space,
    Stay,
)
from tests.occupancy.factories import AgreementFactory, OccupantFactory
from tests.occupancy.test_api_support import (
    PDF,
    PSEUDONYM_KEY,
    World,
    build_world,
    counts,
    days,
    if_match,
)


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


def conflict_on(response: Any, field: str, *, status: int = 409) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "detail", "errors"}
    assert field in body["errors"], body


def stay_start(client: APIClient, world: World, **fields: Any) -> Any:
    body = {
        "occupant": world.free_occupant.pk,
        "space": world.room_2.pk,
        "agreement": world.active.pk,
        "entry": days(-1).isoformat(),
        "structure_type": "insertion",
        **fields,
    }
    return client.post("/api/v1/stays/", body, format="json")


# --- Facts and rows a step has fixed ------------------------------------------------
@pytest.mark.django_db
def test_another_ddfip_opinion_on_an_approved_agreement_is_409_on_it() -> None:
    """The approval rests on the DDFiP opinion: record/ rewrote it on an active
    agreement (found by a review)."""
    world = build_world()
    active = world.active
    opinion = (active.ddfip_opinion_reference, active.ddfip_opinion_date)
    client = world.client("agent_13")
    for body in (
        {"ddfip_opinion_reference": "AVIS-REECRIT"},
        {"ddfip_opinion_date": days(-1).isoformat()},
    ):
        response = client.post(
            f"/api/v1/agreements/{active.pk}/record/",
            body,
            format="json",
            **if_match(active),
        )
        conflict_on(response, next(iter(body)))
        active.refresh_from_db()
        assert (active.ddfip_opinion_reference, active.ddfip_opinion_date) == opinion


@pytest.mark.django_db
@pytest.mark.parametrize("status", [AgreementStatus.CLOSED, AgreementStatus.WITHDRAWN])
def test_a_finished_agreement_takes_no_document_as_no_insurance(status: str) -> None:
    """Documents were attached to closed or withdrawn agreements, which refused
    insurance certificates: both answer the same 409 on status."""
    world = build_world()
    Agreement.objects.filter(pk=world.active.pk).update(status=status)
    client = world.client("operator_a")
    url = f"/api/v1/agreements/{world.active.pk}/"
    before = counts()
    insurance = client.post(
        url + "insurance/",
        {
            "insurer": "MAIF",
            "valid_from": days(-10).isoformat(),
            "valid_until": days(300).isoformat(),
        },
        format="json",
        **if_match(world.active),
    )
    document = client.post(
        url + "documents/",
        {
            "kind": "inventory",
            "title": "État des lieux de sortie",
            "file": SimpleUploadedFile("edl.pdf", PDF),
        },
        format="multipart",
        **if_match(world.active),
    )
    conflict_on(insurance, "status")
    conflict_on(document, "status")
    assert document.json() == insurance.json()
    assert counts() == before


@pytest.mark.django_db
def test_a_free_agreement_with_a_fee_of_zero_is_400_on_fee_amount() -> None:
    """A free agreement took ``fee_amount: "0.00"`` and kept its annual period."""
    world = build_world()
    draft = world.draft
    response = world.client("agent_13").patch(
        f"/api/v1/agreements/{draft.pk}/",
        {
            "free_of_charge": True,
            "fee_exemption_basis": "nonprofit_general_interest",
            "waiver_justification": "Association d'intérêt général.",
            "fee_amount": "0.00",
        },
        format="json",
        **if_match(draft),
    )
    conflict_on(response, "fee_amount", status=400)
    draft.refresh_from_db()
    assert draft.free_of_charge is False


# --- One transaction at a time --------------------------------------------------------
@pytest.mark.django_db
def test_holding_a_space_another_live_agreement_holds_is_409_on_spaces() -> None:
    world = build_world()
    approved = AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        approved=True,
        spaces=[world.draft_space],
    )
    before = counts()
    response = world.client("agent_13").post(
        f"/api/v1/agreements/{approved.pk}/spaces/",
        {"spaces": [world.room.pk]},
        format="json",
        **if_match(approved),
    )
    conflict_on(response, "spaces")
    assert counts() == before


@pytest.mark.django_db
def test_approving_an_agreement_on_a_held_space_is_409_on_spaces() -> None:
    """The spaces become live with the approval: the exclusion constraint refuses
    the overlap inside the transition, which is rolled back whole."""
    world = build_world()
    review = AgreementFactory.create(
        building=world.building_13,
        grantor=world.services["13"],
        operator=world.operator_b,
        status=AgreementStatus.UNDER_REVIEW,
        spaces=[world.room],
    )
    response = world.client("agent_13").post(
        f"/api/v1/agreements/{review.pk}/transition/",
        {"to": "approved"},
        format="json",
        **if_match(review),
    )
    conflict_on(response, "spaces")
    review.refresh_from_db()
    assert review.status == AgreementStatus.UNDER_REVIEW


@pytest.mark.django_db
def test_a_stay_beyond_the_capacity_is_409_on_places() -> None:
    world = build_world()  # the room has 4 places, one taken
    before = counts()
    response = stay_start(
        world.client("operator_a"), world, space=world.room.pk, places=4
    )
    conflict_on(response, "places")
    assert counts() == before


@pytest.mark.django_db
def test_a_second_stay_of_one_occupant_is_409_on_occupant() -> None:
    world = build_world()  # the occupant stays in room since 20 days
    before = counts()
    response = stay_start(world.client("operator_a"), world, occupant=world.occupant.pk)
    conflict_on(response, "occupant")
    assert counts() == before


@pytest.mark.django_db
def test_a_move_into_a_full_space_is_409_and_the_stay_goes_on() -> None:
    world = build_world()
    full = Space.objects.create(
        building=world.building_13, name="Chambre pleine", kind="room",
        use="sleeping", capacity=1,
    )  # fmt: skip
    world.active.agreement_spaces.create(
        space=full, period=world.active.period, is_live=True
    )
    Stay.objects.create(
        occupant=OccupantFactory.create(operator=world.operator_a),
        space=full,
        agreement=world.active,
        period=DateRange(days(-5), None),
        structure_type="insertion",
    )
    response = world.client("operator_a").post(
        f"/api/v1/stays/{world.stay.pk}/move/",
        {"space": full.pk, "on": days(0).isoformat()},
        format="json",
        **if_match(world.stay),
    )
    conflict_on(response, "places")
    world.stay.refresh_from_db()
    assert world.stay.status == "active"
    assert world.stay.period.upper is None


@pytest.mark.django_db
def test_a_space_name_taken_in_the_building_is_400_on_name() -> None:
    world = build_world()
    response = world.client("operator_a").post(
        "/api/v1/spaces/",
        {
            "building": world.building_13.pk,
            "name": world.room.name,
            "kind": "room",
            "use": "sleeping",
            "capacity": 2,
        },
        format="json",
    )
    conflict_on(response, "name", status=400)


@pytest.mark.django_db
def test_a_surface_of_zero_is_400_on_surface_m2() -> None:
    """The space_surface_positive constraint reached the client as a 400 on
    ``__all__`` naming the constraint, while the schema allowed 0."""
    world = build_world()
    client = world.client("operator_a")
    before = counts()
    response = client.patch(
        f"/api/v1/spaces/{world.room.pk}/",
        {"surface_m2": "0.00"},
        format="json",
        **if_match(world.room),
    )
    conflict_on(response, "surface_m2", status=400)
    response = client.post(
        "/api/v1/spaces/",
        {
            "building": world.building_13.pk,
            "name": "Réserve",
            "kind": "workshop",
            "use": "work",
            "capacity": 1,
            "surface_m2": "0",
        },
        format="json",
    )
    conflict_on(response, "surface_m2", status=400)
    assert counts() == before
    world.room.refresh_from_db()
    assert world.room.surface_m2 != 0


@pytest.mark.django_db
def test_a_planned_exit_in_the_past_is_400_and_the_stay_goes_on() -> None:
    world = build_world()
    client = world.client("operator_a")
    response = client.post(
        f"/api/v1/stays/{world.stay.pk}/plan-exit/",
        {"exit_date": days(-1).isoformat()},
        format="json",
        **if_match(world.stay),
    )
    conflict_on(response, "exit_date", status=400)
    before = counts()
    response = stay_start(client, world, entry=days(-5).isoformat(), exit=days(-1))
    conflict_on(response, "exit", status=400)
    assert counts() == before
    world.stay.refresh_from_db()
    assert (world.stay.status, world.stay.period.upper) == ("active", None)


@pytest.mark.django_db
def test_a_space_named_twice_in_a_new_agreement_is_attached_once() -> None:
    world = build_world()
    response = world.client("agent_13").post(
        "/api/v1/agreements/",
        {
            "building": world.building_13.pk,
            "grantor": world.services["13"].pk,
            "operator": world.operator_a.pk,
            "regime": "cot_public_domain",
            "purposes": ["workspaces", "workspaces"],
            "start": days(30 + 2 * 365).isoformat(),
            "end": days(30 + 3 * 365).isoformat(),
            "fee_amount": "12000.00",
            "fee_period": "annual",
            "spaces": [world.draft_space.pk, world.draft_space.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["spaces"] == [world.draft_space.pk]
    assert response.json()["purposes"] == ["workspaces"]


@pytest.mark.django_db
def test_a_nul_byte_in_a_query_is_a_400_not_a_server_error() -> None:
    """PostgreSQL refuses NUL in text: the search and filters must not pass it on
    as a 500 (reliability.md F4)."""
    world = build_world()
    client = world.client("agent_13")
    for url in (
        "/api/v1/spaces/?search=a%00b",
        "/api/v1/agreements/?search=%00",
        "/api/v1/agreements/?department=1%003",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400), (url, response.content)


@pytest.mark.django_db
def test_an_id_beyond_bigint_in_a_filter_is_a_400() -> None:
    world = build_world()
    response = world.client("operator_a").get(f"/api/v1/stays/?space={2**70}")
    assert response.status_code == 400


# --- Racing writers -------------------------------------------------------------------
def race(workers: list[Callable[[], Any]]) -> list[Any]:
    """Each worker on its own thread (so its own connection), released together."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = work()
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test reads)
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_racing_stays_for_the_last_place_commit_one_and_409_the_others() -> None:
    world = build_world()
    Space.objects.filter(pk=world.room_2.pk).update(capacity=1)
    occupants = [OccupantFactory.create(operator=world.operator_a) for _ in range(4)]

    def start(occupant_pk: int) -> Callable[[], Any]:
        return lambda: stay_start(
            world.client("operator_a"), world, occupant=occupant_pk
        )

    responses = race([start(occupant.pk) for occupant in occupants])
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409], [r.content for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert "places" in response.json()["errors"]
    assert Stay.objects.filter(space=world.room_2).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_space_creations_of_one_name_never_answer_500() -> None:
    """The serializer's check may pass for both; the unique constraint then refuses
    the second, which the handler names on the field (CONSTRAINT_ERRORS)."""
    world = build_world()

    def create() -> Any:
        return world.client("operator_a").post(
            "/api/v1/spaces/",
            {
                "building": world.building_13.pk,
                "name": "Salle commune",
                "kind": "commons",
                "use": "public",
                "capacity": 30,
            },
            format="json",
        )

    responses = race([create for _ in range(4)])
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == 1, [r.content for r in responses]
    for response in responses:
        if response.status_code != 201:
            assert response.status_code in (400, 409)
            assert "name" in response.json()["errors"]
    assert Space.objects.filter(name="Salle commune").count() == 1


@pytest.mark.django_db
def test_a_duplicate_name_found_by_the_service_is_named_on_name() -> None:
    """The writer that loses the race past the serializer's check: the service's
    full_clean reports the row, the API the field."""
    from rest_framework.exceptions import ValidationError

    from occupancy.api.views import _name_taken_on_name
    from occupancy.residents import space_create

    world = build_world()
    with pytest.raises(ValidationError) as refused, _name_taken_on_name():
        space_create(
            building=world.building_13,
            name=world.room.name,
            kind="room",
            use="sleeping",
            capacity=1,
        )
    assert set(refused.value.detail) == {"name"}


# --- Withdrawal: approved or signed terms are given up with a reason ---------------
def withdraw(world: World, status: str, **body: str) -> Any:
    Agreement.objects.filter(pk=world.draft.pk).update(status=status)
    return world.client("agent_13").post(
        f"/api/v1/agreements/{world.draft.pk}/transition/",
        {"to": "withdrawn", **body},
        format="json",
        **if_match(world.draft),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("status", [AgreementStatus.APPROVED, AgreementStatus.SIGNED])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_withdrawing_approved_or_signed_terms_without_a_reason_is_400_on_reason(
    status: str, reason: str | None
) -> None:
    """The State approved these terms (and the parties may have signed them): the
    move was taken with no reason at all, where a refusal, a suspension or a
    termination needs one."""
    world = build_world()
    world.building_13.refresh_from_db()
    building_before = world.building_13.status

    response = withdraw(world, status, **({} if reason is None else {"reason": reason}))

    conflict_on(response, "reason", status=400)
    with translation.override("fr"):
        assert response.json()["errors"] == {
            "reason": [str(legal.WITHDRAWAL_REASON_REQUIRED)]
        }
    world.draft.refresh_from_db()
    assert world.draft.status == status
    assert not AgreementStatusChange.objects.filter(agreement=world.draft).exists()
    world.building_13.refresh_from_db()
    assert world.building_13.status == building_before


@pytest.mark.django_db
def test_a_signed_agreement_withdrawn_with_its_reason_keeps_it_in_its_history() -> None:
    world = build_world()

    response = withdraw(
        world, AgreementStatus.SIGNED, reason="Cession du bâtiment avancée."
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "withdrawn"
    assert body["status_changes"][-1]["reason"] == "Cession du bâtiment avancée."
    change = AgreementStatusChange.objects.get(agreement=world.draft)
    assert (change.from_status, change.to_status) == ("signed", "withdrawn")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", [AgreementStatus.DRAFT, AgreementStatus.UNDER_REVIEW]
)
def test_an_application_is_withdrawn_without_a_reason(status: str) -> None:
    world = build_world()

    response = withdraw(world, status)

    assert response.status_code == 200, response.content
    world.draft.refresh_from_db()
    assert world.draft.status == AgreementStatus.WITHDRAWN


# --- A household that grows in a running stay ---------------------------------------
def family_in_room_2(world: World, *, size: int = 2) -> Stay:
    family = OccupantFactory.create(
        operator=world.operator_a,
        kind="household",
        category="household",
        household_size=size,
    )
    return Stay.objects.create(
        occupant=family,
        space=world.room_2,
        agreement=world.active,
        period=DateRange(days(-10), None),
        places=size,
        household_size=size,
        structure_type="insertion",
    )


def grow(world: World, stay: Stay, size: int) -> Any:
    return world.client("operator_a").patch(
        f"/api/v1/occupants/{stay.occupant_id}/",
        {"household_size": size},
        format="json",
        **if_match(stay.occupant),
    )


@pytest.mark.django_db
def test_a_household_that_no_longer_fits_its_room_is_409_on_household_size() -> None:
    """The household grew and its stay kept its old places: the room of four held
    five people. Now the change is refused, as a stay in a full room is."""
    world = build_world()
    stay = family_in_room_2(world)
    Stay.objects.create(
        occupant=OccupantFactory.create(operator=world.operator_a),
        space=world.room_2,
        agreement=world.active,
        period=DateRange(days(-5), None),
        places=2,
        structure_type="insertion",
    )
    before = counts()

    response = grow(world, stay, 3)

    conflict_on(response, "household_size")
    assert counts() == before
    stay.refresh_from_db()
    stay.occupant.refresh_from_db()
    assert stay.occupant.household_size == 2
    assert (stay.places, stay.period.upper, stay.status) == (2, None, "active")


@pytest.mark.django_db
def test_a_household_that_grows_goes_on_in_a_stay_of_its_new_size() -> None:
    world = build_world()
    stay = family_in_room_2(world)

    response = grow(world, stay, 4)

    assert response.status_code == 200, response.content
    listed = world.client("operator_a").get(
        "/api/v1/stays/", {"occupant": stay.occupant_id}
    )
    rows = sorted(listed.json()["results"], key=lambda row: row["entry"])
    today = days(0).isoformat()
    assert [(r["entry"], r["exit"], r["places"], r["status"]) for r in rows] == [
        (days(-10).isoformat(), today, 2, "exited"),
        (today, None, 4, "active"),
    ]
    assert rows[0]["exit_destination"] == "household_change"
