"""The building lifecycle (reference/domain.md §D.1) and the write services."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction

from buildings.models import (
    AGREEMENT_DRIVEN_STATUSES,
    ALLOWED_TRANSITIONS,
    Building,
    BuildingStatus,
    BuildingStatusChange,
    Domaniality,
    NextUse,
)
from buildings.services import (
    DOMANIALITY_REQUIRED,
    NEXT_USE_REQUIRED,
    VACANCY_DATE_REQUIRED,
    building_create,
    building_transition,
    building_update,
)
from config.errors import DomainError, InvalidTransition
from tests.buildings.factories import BuildingFactory, SiteFactory

S = BuildingStatus
pytestmark = pytest.mark.django_db


def make_building(**fields: Any) -> Building:
    """A building that meets every guard: dated vacancy, known domaniality, horizon."""
    return BuildingFactory.create(vacant=True, **fields)


@pytest.fixture
def agent_user() -> User:
    return User.objects.create_user(username="agent-13")


EVERY_ALLOWED_MOVE = sorted(
    (old, new) for old, targets in ALLOWED_TRANSITIONS.items() for new in targets
)


@pytest.mark.parametrize(("old", "new"), EVERY_ALLOWED_MOVE)
def test_every_allowed_transition_succeeds_and_is_recorded(
    agent_user: User, old: str, new: str
) -> None:
    building = make_building(status=old)

    moved = building_transition(
        building=building,
        to=new,
        by=agent_user,
        reason="decided in committee",
        by_agreement=new in AGREEMENT_DRIVEN_STATUSES,
    )

    assert moved.status == new
    building.refresh_from_db()
    assert building.status == new
    change = BuildingStatusChange.objects.get(building=building)
    assert (change.from_status, change.to_status) == (old, new)
    assert change.changed_by == agent_user
    assert change.reason == "decided in committee"
    assert change.changed_at is not None


REFUSED_MOVES = [
    (S.IN_USE, S.AVAILABLE),
    (S.IN_USE, S.DISPOSED),
    (S.VACANT, S.AVAILABLE),
    (S.VACANT, S.OCCUPIED),
    (S.ASSESSED, S.UNDER_AGREEMENT),
    (S.AVAILABLE, S.OCCUPIED),
    (S.OCCUPIED, S.VACANT),
    (S.OCCUPIED, S.AVAILABLE),
    (S.RELEASING, S.AVAILABLE),
    (S.UNSAFE, S.AVAILABLE),
    (S.ILLEGALLY_OCCUPIED, S.AVAILABLE),
    (S.REASSIGNED, S.VACANT),
    (S.SUSPENDED, S.VACANT),
]


@pytest.mark.parametrize(("old", "new"), REFUSED_MOVES)
def test_a_move_outside_the_table_is_refused_and_changes_nothing(
    agent_user: User, old: str, new: str
) -> None:
    building = make_building(status=old)

    with pytest.raises(InvalidTransition):
        building_transition(building=building, to=new, by=agent_user, by_agreement=True)

    building.refresh_from_db()
    assert building.status == old
    assert not BuildingStatusChange.objects.exists()


@pytest.mark.parametrize(
    ("old", "new", "missing", "field", "message"),
    [
        (S.IN_USE, S.VACANT, {"vacancy_since": None}, "vacancy_since",
         VACANCY_DATE_REQUIRED),
        (S.VACANT, S.ASSESSED, {"domaniality": Domaniality.UNKNOWN}, "domaniality",
         DOMANIALITY_REQUIRED),
        (S.ASSESSED, S.AVAILABLE, {"next_use_date": None}, "next_use_date",
         NEXT_USE_REQUIRED),
        (S.ASSESSED, S.AVAILABLE, {"next_use": NextUse.UNKNOWN}, "next_use_date",
         NEXT_USE_REQUIRED),
    ],
)  # fmt: skip
def test_a_guard_refuses_the_move_and_names_the_field_to_fill(
    agent_user: User,
    old: str,
    new: str,
    missing: dict[str, Any],
    field: str,
    message: str,
) -> None:
    building = make_building(status=old, **missing)

    with pytest.raises(DomainError) as refused:
        building_transition(building=building, to=new, by=agent_user)

    assert not isinstance(refused.value, InvalidTransition)
    assert refused.value.field == field
    assert refused.value.message == message
    building.refresh_from_db()
    assert building.status == old
    assert not BuildingStatusChange.objects.exists()


@pytest.mark.parametrize(
    ("old", "new"), [(S.AVAILABLE, S.UNDER_AGREEMENT), (S.UNDER_AGREEMENT, S.OCCUPIED)]
)
def test_agreement_driven_statuses_follow_the_agreement_only(
    agent_user: User, old: str, new: str
) -> None:
    building = make_building(status=old)

    with pytest.raises(InvalidTransition):
        building_transition(building=building, to=new, by=agent_user)
    building.refresh_from_db()
    assert building.status == old

    building_transition(building=building, to=new, by=None, by_agreement=True)
    building.refresh_from_db()
    assert building.status == new


@pytest.mark.parametrize("terminal", [S.DISPOSED, S.DEMOLISHED])
def test_terminal_statuses_have_no_way_out(agent_user: User, terminal: str) -> None:
    assert ALLOWED_TRANSITIONS[terminal] == frozenset()
    building = make_building(status=terminal)

    for target in S.values:
        with pytest.raises(InvalidTransition):
            building_transition(
                building=building, to=target, by=agent_user, by_agreement=True
            )

    building.refresh_from_db()
    assert building.status == terminal


def test_an_unknown_status_is_refused_with_the_status_field(agent_user: User) -> None:
    building = make_building(status=S.VACANT)

    with pytest.raises(DomainError) as refused:
        building_transition(building=building, to="sold", by=agent_user)

    assert refused.value.field == "status"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transitions_commit_exactly_once() -> None:
    """Both read "vacant"; the row lock makes the second see "assessed" and fail."""
    building = make_building(status=S.VACANT)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def move() -> None:
        try:
            barrier.wait()
            building_transition(building=building, to=S.ASSESSED, by=None)
            outcome = "committed"
        except InvalidTransition:
            outcome = "refused"
        except Exception as error:  # noqa: BLE001 - reported through the assertion
            outcome = repr(error)
        finally:
            connection.close()  # each thread opened its own connection
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(outcomes) == ["committed", "refused"]
    building.refresh_from_db()
    assert building.status == S.ASSESSED
    assert BuildingStatusChange.objects.filter(building=building).count() == 1


def test_building_update_recomputes_suitability_when_an_input_changes() -> None:
    building = building_create(
        by=None,
        site=SiteFactory.create(),
        inventory_id="inv-update",
        designation="Caserne",
        surface_m2=Decimal("500"),
        condition="good",
    )
    before = building.suitability_mixed

    updated = building_update(building=building, by=None, surface_m2=Decimal("2000"))

    updated.refresh_from_db()
    assert updated.suitability_mixed is not None
    assert before is not None
    assert updated.suitability_mixed > before
    assert updated.suitability_details["mixed"]["surface"]["value"] == 1.0


def test_building_update_leaves_suitability_alone_when_no_input_changes() -> None:
    building = building_create(
        by=None,
        site=SiteFactory.create(),
        inventory_id="inv-rename",
        designation="Caserne",
        surface_m2=Decimal("500"),
    )
    # A marker no computation would produce: it survives only if nothing recomputes.
    Building.objects.filter(pk=building.pk).update(suitability_mixed=99)

    building_update(building=building, by=None, designation="Caserne Saint-Charles")

    building.refresh_from_db()
    assert building.designation == "Caserne Saint-Charles"
    assert building.suitability_mixed == 99


@pytest.mark.parametrize("field", ["status", "suitability_mixed", "source_fingerprint"])
def test_building_create_refuses_fields_it_does_not_own(field: str) -> None:
    site = make_building().site

    with pytest.raises(DomainError) as refused:
        building_create(
            by=None,
            site=site,
            inventory_id="inv-x",
            designation="X",
            **{field: "available" if field == "status" else 1},
        )

    assert refused.value.field == field
    assert not Building.objects.filter(inventory_id="inv-x").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("surface_m2", Decimal("-1")),
        ("energy_kwh_ef", Decimal("-0.01")),
        ("guarding_cost_monthly", Decimal("-5")),
        ("erp_category", 6),
        ("erp_category", 0),
        ("year_built", 500),
        ("status", "sold"),
        ("postal_code", "1300"),
    ],
)
def test_the_database_refuses_impossible_values_even_in_bulk(
    field: str, value: object
) -> None:
    """bulk_create skips full_clean(): the check constraints are the last line."""
    row = Building(
        site=SiteFactory.create(),
        inventory_id="inv-bulk",
        designation="Bulk",
        **{field: value},
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Building.objects.bulk_create([row])

    assert not Building.objects.filter(inventory_id="inv-bulk").exists()
