"""Spaces, safety opinions, occupants and stays through the occupancy.residents package.

Dates are fixed (the agreement runs 2026–2027) and ``today`` is passed explicitly.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils.translation import gettext as _
from pytest_django.fixtures import Settings

from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, DomainError, InvalidTransition
from occupancy.models import (
    Agreement,
    AgreementStatus,
    ExitDestination,
    InspectionKind,
    InspectionResult,
    Occupant,
    OccupantCategory,
    OccupantKind,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.residents import (
    occupant_register,
    occupant_update,
    safety_inspection_record,
    space_create,
    space_update,
    stay_exit,
    stay_move,
    stay_plan_exit,
    stay_start,
)
from occupancy.residents.base import (
    HOUSEHOLD_DOES_NOT_FIT,
    NO_SAFETY_OPINION,
    SLEEPING_NOT_ALLOWED,
)
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    OccupantFactory,
    OperatorFactory,
    SafetyInspectionFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db

PERIOD = DateRange(date(2026, 1, 1), date(2028, 1, 1))
TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64


def shelter(
    *, capacity: int = 3, use: str = SpaceUse.SLEEPING, opinion: str | None = "ok"
) -> tuple[Agreement, Space]:
    """An active agreement on one space, with a favourable building opinion."""
    space = SpaceFactory.create(capacity=capacity, use=use)
    agreement = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=PERIOD,
        sleeping_allowed=True,
        spaces=[space],
    )
    if opinion:
        SafetyInspectionFactory.create(building=space.building, date=date(2025, 12, 1))
    return agreement, space


def start(
    agreement: Agreement,
    space: Space,
    entry: date,
    *,
    occupant: Occupant | None = None,
    places: int | None = 1,
    structure_type: str = StructureType.INSERTION,
    exit: date | None = None,
) -> Stay:
    return stay_start(
        occupant=occupant or OccupantFactory.create(operator=agreement.operator),
        space=space,
        agreement=agreement,
        entry=entry,
        places=places,
        structure_type=structure_type,
        exit=exit,
        today=entry,  # recorded on the day of entry
    )


def refused(message: str) -> pytest.RaisesExc[DomainError]:
    """The rule refusing with ``message`` (in the active language)."""
    return pytest.raises(DomainError, check=lambda error: error.message == _(message))


# --- Spaces and safety ---------------------------------------------------------------
def test_space_create_records_kind_use_and_capacity() -> None:
    building = BuildingFactory.create()
    space = space_create(
        building=building,
        name="Dortoir A",
        kind=SpaceKind.DORMITORY,
        use=SpaceUse.SLEEPING,
        capacity=8,
        surface_m2=Decimal("40.00"),
    )
    assert (space.kind, space.use, space.capacity) == ("dormitory", "sleeping", 8)


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "cave"), ("use", "party"), ("capacity", -1)]
)
def test_space_create_refuses_unknown_kinds_uses_and_negative_capacity(
    field: str, value: object
) -> None:
    values: dict[str, object] = {
        "kind": SpaceKind.ROOM,
        "use": SpaceUse.SLEEPING,
        "capacity": 2,
        field: value,
    }
    with pytest.raises(ValidationError) as error:
        space_create(building=BuildingFactory.create(), name="Chambre 1", **values)  # type: ignore[arg-type]
    assert field in error.value.message_dict


def test_a_space_of_zero_places_is_allowed() -> None:
    space = space_create(
        building=BuildingFactory.create(),
        name="Local technique",
        kind=SpaceKind.COMMONS,
        use=SpaceUse.OTHER,
        capacity=0,
    )
    assert space.capacity == 0


def test_capacity_cannot_drop_below_the_places_taken_from_today_on() -> None:
    agreement, space = shelter(capacity=3)
    start(agreement, space, date(2026, 5, 1), places=2)
    with pytest.raises(DomainError) as error:
        space_update(space=space, capacity=1, today=TODAY)
    assert error.value.field == "capacity"
    assert space_update(space=space, capacity=2, today=TODAY).capacity == 2


def test_a_capacity_cut_ignores_nights_already_past() -> None:
    agreement, space = shelter(capacity=3)
    start(agreement, space, date(2026, 2, 1), places=3, exit=date(2026, 3, 1))
    assert space_update(space=space, capacity=1, today=TODAY).capacity == 1


def test_space_update_changes_only_what_it_is_given() -> None:
    space = SpaceFactory.create(floor=2)
    space_update(space=space, name="Chambre 12", floor=None)
    space.refresh_from_db()
    assert (space.name, space.floor, space.capacity) == ("Chambre 12", None, 2)


def test_an_inspection_of_a_space_is_in_the_space_building() -> None:
    space = SpaceFactory.create()
    with pytest.raises(DomainError) as error:
        safety_inspection_record(
            building=BuildingFactory.create(),
            space=space,
            kind=InspectionKind.SAFETY_COMMISSION,
            date=date(2026, 1, 5),
            result=InspectionResult.FAVOURABLE,
            today=TODAY,
        )
    assert error.value.field == "space"


def test_an_inspection_is_recorded_once_it_has_taken_place() -> None:
    with pytest.raises(DomainError) as error:
        safety_inspection_record(
            building=BuildingFactory.create(),
            kind=InspectionKind.SAFETY_COMMISSION,
            date=date(2026, 7, 1),
            result=InspectionResult.FAVOURABLE,
            today=TODAY,
        )
    assert error.value.field == "date"


@pytest.mark.parametrize("use", [SpaceUse.SLEEPING, SpaceUse.PUBLIC])
def test_sleeping_or_public_space_needs_a_safety_opinion_before_a_stay(
    use: str,
) -> None:
    agreement, space = shelter(use=use, opinion=None)
    with pytest.raises(DomainError) as error:
        start(agreement, space, date(2026, 2, 1))
    assert error.value.field == "space"


def test_an_unfavourable_latest_opinion_refuses_the_stay() -> None:
    agreement, space = shelter()
    safety_inspection_record(
        building=space.building,
        kind=InspectionKind.SAFETY_COMMISSION,
        date=date(2026, 1, 10),
        result=InspectionResult.UNFAVOURABLE,
        today=TODAY,
    )
    with refused(NO_SAFETY_OPINION):
        start(agreement, space, date(2026, 2, 1))
    # Before the unfavourable visit the favourable opinion of December applied.
    assert start(agreement, space, date(2026, 1, 5)).pk


def test_the_space_own_opinion_prevails_over_the_building_opinion() -> None:
    agreement, space = shelter()
    safety_inspection_record(
        building=space.building,
        space=space,
        kind=InspectionKind.SAFETY_COMMISSION,
        date=date(2025, 11, 1),
        result=InspectionResult.UNFAVOURABLE,
        today=TODAY,
    )
    with refused(NO_SAFETY_OPINION):
        start(agreement, space, date(2026, 2, 1))


def test_other_inspections_do_not_count_as_a_safety_opinion() -> None:
    agreement, space = shelter(opinion=None)
    SafetyInspectionFactory.create(
        building=space.building, kind=InspectionKind.ELECTRICITY, date=date(2026, 1, 2)
    )
    with refused(NO_SAFETY_OPINION):
        start(agreement, space, date(2026, 2, 1))


def test_a_workshop_needs_no_safety_opinion() -> None:
    agreement, space = shelter(use=SpaceUse.WORK, opinion=None)
    assert start(agreement, space, date(2026, 2, 1)).pk


# --- Occupants -----------------------------------------------------------------------
def test_a_person_alone_has_a_household_of_one() -> None:
    with pytest.raises(DomainError) as error:
        occupant_register(
            operator=OperatorFactory.create(),
            local_identifier="D-1",
            kind=OccupantKind.PERSON,
            category=OccupantCategory.SHELTERED,
            household_size=3,
        )
    assert error.value.field == "household_size"


def test_a_hosted_organization_names_its_organization() -> None:
    with pytest.raises(DomainError) as error:
        occupant_register(
            operator=OperatorFactory.create(),
            local_identifier="ORG-1",
            kind=OccupantKind.ORGANIZATION,
            category=OccupantCategory.HOSTED_ORGANIZATION,
        )
    assert error.value.field == "hosted_organization"


def test_only_operators_register_residents() -> None:
    with pytest.raises(DomainError) as error:
        occupant_register(
            operator=OperatorFactory.create(kind="funder"),
            local_identifier="D-1",
            kind=OccupantKind.PERSON,
            category=OccupantCategory.SHELTERED,
        )
    assert error.value.field == "operator"


def test_occupant_update_rectifies_the_household() -> None:
    occupant = occupant_register(
        operator=OperatorFactory.create(),
        local_identifier="D-1",
        kind=OccupantKind.HOUSEHOLD,
        category=OccupantCategory.HOUSEHOLD,
        household_size=3,
    )
    assert occupant_update(occupant=occupant, household_size=4).household_size == 4


# --- A household that changes size while it stays --------------------------------
def household(agreement: Agreement, size: int) -> Occupant:
    return OccupantFactory.create(
        operator=agreement.operator,
        kind=OccupantKind.HOUSEHOLD,
        category=OccupantCategory.HOUSEHOLD,
        household_size=size,
    )


def stays_of(occupant: Occupant) -> list[Stay]:
    return list(Stay.objects.filter(occupant=occupant).order_by("period"))


def test_a_running_stay_follows_the_household_from_today() -> None:
    """The household grew from 2 to 3: its stay kept 2 places, and the space
    looked one place emptier than it was."""
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    stay = start(agreement, space, date(2026, 2, 1), occupant=family, places=None)

    occupant_update(occupant=family, household_size=3, today=TODAY)

    before, after = stays_of(family)
    assert before.pk == stay.pk
    assert before.period == DateRange(date(2026, 2, 1), TODAY)
    assert (before.places, before.household_size) == (2, 2)
    assert before.status == StayStatus.EXITED
    assert before.exit_destination == ExitDestination.HOUSEHOLD_CHANGE
    assert after.period == DateRange(TODAY, None)
    assert (after.places, after.household_size) == (3, 3)
    assert after.status == StayStatus.ACTIVE
    assert (after.space_id, after.agreement_id, after.structure_type) == (
        space.pk,
        agreement.pk,
        stay.structure_type,
    )


def test_a_planned_exit_goes_on_with_the_new_stay() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 3)
    start(
        agreement,
        space,
        date(2026, 2, 1),
        occupant=family,
        places=None,
        exit=date(2026, 9, 1),
    )

    occupant_update(occupant=family, household_size=2, today=TODAY)

    after = stays_of(family)[-1]
    assert after.period == DateRange(TODAY, date(2026, 9, 1))
    assert after.status == StayStatus.EXIT_PLANNED
    assert (after.places, after.household_size) == (2, 2)


def test_a_household_that_no_longer_fits_its_space_is_refused() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    start(agreement, space, date(2026, 2, 1), occupant=family, places=None)
    start(agreement, space, date(2026, 5, 1), places=2)  # the space is full

    with pytest.raises(Conflict) as caught:
        occupant_update(occupant=family, household_size=3, today=TODAY)

    assert caught.value.field == "household_size"
    assert caught.value.message == _(HOUSEHOLD_DOES_NOT_FIT).format(
        places=3, capacity=4, used=2, night=TODAY
    )
    family.refresh_from_db()
    assert family.household_size == 2
    (stay,) = stays_of(family)
    assert (stay.period.upper, stay.places, stay.status) == (None, 2, "active")


def test_past_stays_keep_what_they_were() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    past = start(agreement, space, date(2026, 2, 1), occupant=family, places=None)
    stay_exit(stay=past, exit_date=date(2026, 3, 1), destination="street", today=TODAY)

    occupant_update(occupant=family, household_size=4, today=TODAY)

    (stay,) = stays_of(family)
    assert stay.period == DateRange(date(2026, 2, 1), date(2026, 3, 1))
    assert (stay.places, stay.household_size, stay.exit_destination) == (
        2,
        2,
        "street",
    )


def test_places_set_apart_from_the_household_size_are_kept() -> None:
    """A household of three in two beds: the operator's number stands; the size
    the indicators count changes from today all the same."""
    agreement, space = shelter(capacity=4)
    family = household(agreement, 3)
    start(agreement, space, date(2026, 2, 1), occupant=family, places=2)

    occupant_update(occupant=family, household_size=4, today=TODAY)

    before, after = stays_of(family)
    assert (before.places, before.household_size) == (2, 3)
    assert (after.places, after.household_size) == (2, 4)


def test_a_stay_not_yet_begun_changes_in_place() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    stay = stay_start(
        occupant=family,
        space=space,
        agreement=agreement,
        entry=date(2026, 7, 1),
        structure_type=StructureType.INSERTION,
        today=TODAY,
    )

    occupant_update(occupant=family, household_size=3, today=TODAY)

    (again,) = stays_of(family)
    assert again.pk == stay.pk
    assert (again.period, again.places, again.household_size) == (
        DateRange(date(2026, 7, 1), None),
        3,
        3,
    )


def test_a_stay_records_the_household_size_it_starts_with() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 3)
    stay = start(agreement, space, date(2026, 2, 1), occupant=family, places=1)
    assert (stay.places, stay.household_size) == (1, 3)


# --- Stays ---------------------------------------------------------------------------
def test_places_default_to_the_household_size() -> None:
    agreement, space = shelter(capacity=4)
    family = OccupantFactory.create(
        operator=agreement.operator, kind=OccupantKind.HOUSEHOLD, household_size=3
    )
    stay = start(agreement, space, date(2026, 2, 1), occupant=family, places=None)
    assert stay.places == 3


@pytest.mark.parametrize(
    "status",
    [AgreementStatus.SIGNED, AgreementStatus.SUSPENDED, AgreementStatus.ENDING],
)
def test_a_stay_starts_only_under_an_active_agreement(status: str) -> None:
    agreement, space = shelter()
    Agreement.objects.filter(pk=agreement.pk).update(status=status)
    agreement.refresh_from_db()
    with pytest.raises(DomainError) as error:
        start(agreement, space, date(2026, 2, 1))
    assert error.value.field == "agreement"


def test_a_stay_needs_a_space_the_agreement_covers() -> None:
    agreement, space = shelter()
    other = SpaceFactory.create(building=space.building)
    SafetyInspectionFactory.create(building=space.building, date=date(2025, 12, 1))
    with pytest.raises(DomainError) as error:
        start(agreement, other, date(2026, 2, 1))
    assert error.value.field == "space"


def test_a_space_of_another_building_is_refused() -> None:
    agreement, _ = shelter()
    with pytest.raises(DomainError) as error:
        start(agreement, SpaceFactory.create(), date(2026, 2, 1))
    assert error.value.field == "space"


@pytest.mark.parametrize(
    ("entry", "exit", "field"),
    [
        (date(2025, 12, 31), None, "entry"),
        (date(2028, 1, 1), None, "entry"),
        (date(2027, 12, 1), date(2028, 1, 2), "exit"),
    ],
)
def test_a_stay_falls_within_the_agreement_period(
    entry: date, exit: date | None, field: str
) -> None:
    agreement, space = shelter()
    with pytest.raises(DomainError) as error:
        start(agreement, space, entry, exit=exit)
    assert error.value.field == field


def test_an_occupant_of_another_operator_is_refused() -> None:
    agreement, space = shelter()
    with pytest.raises(DomainError) as error:
        start(agreement, space, date(2026, 2, 1), occupant=OccupantFactory.create())
    assert error.value.field == "occupant"


def test_sleeping_needs_an_agreement_that_allows_it() -> None:
    agreement, space = shelter()
    Agreement.objects.filter(pk=agreement.pk).update(sleeping_allowed=False)
    agreement.refresh_from_db()
    with refused(SLEEPING_NOT_ALLOWED):
        start(agreement, space, date(2026, 2, 1))


def test_capacity_is_checked_on_the_busiest_night_of_the_new_stay() -> None:
    agreement, space = shelter(capacity=3)
    # 1–10 Feb: 2 places; from 5 Feb on: 1 place. Nights 5–9 Feb are full.
    start(agreement, space, date(2026, 2, 1), places=2, exit=date(2026, 2, 10))
    start(agreement, space, date(2026, 2, 5), places=1)
    with pytest.raises(Conflict) as error:
        start(agreement, space, date(2026, 1, 20), places=1)  # open end: crosses 5 Feb
    assert error.value.field == "places"
    assert "2026-02-05" in error.value.message
    # Ending before 5 Feb, or arriving on 10 Feb when the pair has left, fits.
    assert start(agreement, space, date(2026, 1, 20), exit=date(2026, 2, 5)).pk
    assert start(agreement, space, date(2026, 2, 10)).pk


def test_places_over_the_capacity_of_an_empty_space_are_refused() -> None:
    agreement, space = shelter(capacity=2)
    with pytest.raises(Conflict):
        start(agreement, space, date(2026, 2, 1), places=3)


def test_an_emergency_stay_has_no_planned_end() -> None:
    agreement, space = shelter()
    with pytest.raises(DomainError) as error:
        start(
            agreement,
            space,
            date(2026, 2, 1),
            structure_type=StructureType.EMERGENCY,
            exit=date(2026, 3, 1),
        )
    assert error.value.field == "exit"
    stay = start(agreement, space, date(2026, 2, 1), structure_type="emergency")
    with pytest.raises(DomainError) as error:
        stay_plan_exit(stay=stay, exit_date=date(2026, 3, 1))
    assert error.value.field == "exit_date"
    # It ends only by a recorded exit, whenever that comes.
    stay = stay_exit(
        stay=stay,
        exit_date=date(2026, 5, 1),
        destination=ExitDestination.SOCIAL_HOUSING,
        today=TODAY,
    )
    assert stay.status == StayStatus.EXITED
    assert stay.period == DateRange(date(2026, 2, 1), date(2026, 5, 1))


def test_a_second_stay_over_the_same_nights_is_a_conflict_on_the_occupant() -> None:
    agreement, space = shelter(capacity=3)
    occupant = OccupantFactory.create(operator=agreement.operator)
    start(agreement, space, date(2026, 2, 1), occupant=occupant)
    with pytest.raises(Conflict) as error:
        start(agreement, space, date(2026, 3, 1), occupant=occupant)
    assert error.value.field == "occupant"


def test_both_stay_constraints_are_registered_for_the_api() -> None:
    assert CONSTRAINT_ERRORS["stay_one_at_a_time_per_occupant"][0] == "occupant"
    assert CONSTRAINT_ERRORS["stay_emergency_no_planned_end"][0] == "exit"


def test_an_exit_records_a_destination_and_follows_the_entry() -> None:
    agreement, space = shelter()
    stay = start(agreement, space, date(2026, 2, 1))
    with pytest.raises(DomainError) as error:
        stay_exit(stay=stay, exit_date=date(2026, 3, 1), destination="", today=TODAY)
    assert error.value.field == "destination"
    with pytest.raises(DomainError) as error:
        stay_exit(
            stay=stay, exit_date=date(2026, 1, 15), destination="street", today=TODAY
        )
    assert error.value.field == "exit_date"
    with pytest.raises(DomainError) as error:
        stay_exit(
            stay=stay, exit_date=date(2026, 7, 1), destination="street", today=TODAY
        )
    assert error.value.field == "exit_date"


def test_an_exited_stay_cannot_exit_again() -> None:
    agreement, space = shelter()
    stay = start(agreement, space, date(2026, 2, 1))
    stay_exit(stay=stay, exit_date=date(2026, 3, 1), destination="unknown", today=TODAY)
    with pytest.raises(InvalidTransition):
        stay_exit(
            stay=stay, exit_date=date(2026, 4, 1), destination="unknown", today=TODAY
        )


def test_a_later_planned_exit_needs_room_for_the_extra_nights() -> None:
    agreement, space = shelter(capacity=1)
    stay = start(agreement, space, date(2026, 2, 1), exit=date(2026, 3, 1))
    start(agreement, space, date(2026, 3, 1), exit=date(2026, 4, 1))
    planned_on = date(2026, 2, 1)
    with pytest.raises(Conflict):
        stay_plan_exit(stay=stay, exit_date=date(2026, 3, 15), today=planned_on)
    assert stay_plan_exit(
        stay=stay, exit_date=date(2026, 2, 20), today=planned_on
    ).status == (StayStatus.EXIT_PLANNED)


def test_an_exit_already_past_is_recorded_not_planned() -> None:
    """A "planned" exit dated yesterday ended the stay with no exit recorded: the
    person left the indicators (neither an exit nor present at the end) and, once
    older than the retention period, the record went as if closed."""
    agreement, space = shelter()
    stay = start(agreement, space, date(2026, 2, 1))
    with pytest.raises(DomainError) as error:
        stay_plan_exit(stay=stay, exit_date=TODAY - timedelta(days=1), today=TODAY)
    assert error.value.field == "exit_date"
    with pytest.raises(DomainError) as error:
        stay_start(
            occupant=OccupantFactory.create(operator=agreement.operator),
            space=space,
            agreement=agreement,
            entry=date(2026, 2, 1),
            structure_type=StructureType.INSERTION,
            exit=TODAY - timedelta(days=1),
            today=TODAY,
        )
    assert error.value.field == "exit"
    stay.refresh_from_db()
    assert (stay.status, stay.period.upper) == (StayStatus.ACTIVE, None)
    # Leaving today is still to come; tomorrow too.
    assert stay_plan_exit(stay=stay, exit_date=TODAY, today=TODAY).period.upper == (
        TODAY
    )


def test_cancelling_a_planned_exit_reopens_the_stay() -> None:
    agreement, space = shelter()
    stay = start(agreement, space, date(2026, 2, 1), exit=date(2026, 3, 1))
    stay = stay_plan_exit(stay=stay, exit_date=None)
    assert stay.status == StayStatus.ACTIVE
    assert stay.period.upper is None


def test_a_move_ends_one_stay_and_starts_the_next_the_same_day() -> None:
    agreement, space = shelter()
    room = SpaceFactory.create(building=space.building)
    agreement.agreement_spaces.create(space=room, period=PERIOD, is_live=True)
    stay = start(agreement, space, date(2026, 2, 1), structure_type="emergency")
    moved = stay_move(stay=stay, space=room, on=date(2026, 4, 1), today=TODAY)
    stay.refresh_from_db()
    assert stay.period.upper == moved.period.lower == date(2026, 4, 1)
    assert (moved.space, moved.structure_type, moved.occupant_id) == (
        room,
        "emergency",
        stay.occupant_id,
    )


def test_a_move_into_a_full_space_leaves_the_stay_as_it_was() -> None:
    agreement, space = shelter()
    full = SpaceFactory.create(building=space.building, capacity=1)
    agreement.agreement_spaces.create(space=full, period=PERIOD, is_live=True)
    start(agreement, full, date(2026, 1, 10))
    stay = start(agreement, space, date(2026, 2, 1))
    with pytest.raises(Conflict):
        stay_move(stay=stay, space=full, on=date(2026, 4, 1), today=TODAY)
    stay.refresh_from_db()
    assert (stay.status, stay.period.upper) == (StayStatus.ACTIVE, None)
