"""Concurrent stay_start calls, each on its own connection and transaction.

The threads meet at a barrier and then race: the space row lock must keep a room's
capacity on every night, and the exclusion constraint must keep an occupant in one
stay at a time, whatever the interleaving (reliability.md §E1.2).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from django.db import connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.fixtures import Settings

from config.errors import Conflict
from occupancy.models import Agreement, AgreementStatus, Occupant, Space, Stay
from occupancy.residents import occupant_update, stay_start
from tests.occupancy.factories import (
    AgreementFactory,
    OccupantFactory,
    SafetyInspectionFactory,
    SpaceFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD = DateRange(date(2026, 1, 1), date(2028, 1, 1))


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64


def race(workers: list[Callable[[], object]]) -> list[object]:
    """Run each worker in its own thread (so its own connection) at the same time;
    return what each returned or raised."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[object] = [None] * len(workers)

    def run(index: int, work: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = work()
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test reads)
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, work))
        for index, work in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def shelter(*, spaces: list[Space]) -> Agreement:
    agreement = AgreementFactory.create(
        building=spaces[0].building,
        status=AgreementStatus.ACTIVE,
        period=PERIOD,
        sleeping_allowed=True,
        spaces=spaces,
    )
    SafetyInspectionFactory.create(building=spaces[0].building, date=date(2025, 12, 1))
    return agreement


def test_five_concurrent_stays_in_a_room_of_three_places_commit_exactly_three() -> None:
    space = SpaceFactory.create(capacity=3)
    agreement = shelter(spaces=[space])
    occupants = [OccupantFactory.create(operator=agreement.operator) for _ in range(5)]

    def enter(occupant: Occupant, entry: date) -> Callable[[], object]:
        return lambda: stay_start(
            occupant=occupant,
            space=space,
            agreement=agreement,
            entry=entry,
            structure_type="insertion",
        )

    # Different entry dates: every stay is open-ended, so all overlap from 5 Feb.
    outcomes = race([enter(o, date(2026, 2, 1 + i)) for i, o in enumerate(occupants)])

    committed = [o for o in outcomes if isinstance(o, Stay)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(committed), len(refused)) == (3, 2), outcomes
    assert all(error.field == "places" for error in refused)
    assert Stay.objects.filter(space=space).count() == 3


def test_one_occupant_entering_four_rooms_at_once_gets_exactly_one_stay() -> None:
    spaces = [SpaceFactory.create(capacity=2) for _ in range(1)]
    spaces += [
        SpaceFactory.create(capacity=2, building=spaces[0].building) for _ in range(3)
    ]
    agreement = shelter(spaces=spaces)
    occupant = OccupantFactory.create(operator=agreement.operator)

    def enter(space: Space) -> Callable[[], object]:
        return lambda: stay_start(
            occupant=occupant,
            space=space,
            agreement=agreement,
            entry=date(2026, 3, 1),
            structure_type="emergency",
        )

    outcomes = race([enter(space) for space in spaces])

    committed = [o for o in outcomes if isinstance(o, Stay)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(committed), len(refused)) == (1, 3), outcomes
    assert all(error.field == "occupant" for error in refused)
    assert Stay.objects.filter(occupant=occupant).count() == 1


def test_a_household_change_while_its_stay_is_being_written_is_a_conflict() -> None:
    """The API locks the occupant before the service runs, where stay_move locks
    the stay first and the occupant after: waiting for the stay while holding the
    occupant could deadlock (a 500). The change is refused at once instead."""
    space = SpaceFactory.create(capacity=4)
    agreement = shelter(spaces=[space])
    family = OccupantFactory.create(
        operator=agreement.operator, kind="household", household_size=2
    )
    stay = stay_start(
        occupant=family,
        space=space,
        agreement=agreement,
        entry=date(2026, 2, 1),
        structure_type="insertion",
        today=date(2026, 2, 1),
    )
    held, release = threading.Event(), threading.Event()

    def hold_the_stay() -> object:
        with transaction.atomic():
            Stay.objects.select_for_update(no_key=True).get(pk=stay.pk)
            held.set()
            release.wait(timeout=10)
        return None

    def change_the_size() -> object:
        held.wait(timeout=10)
        try:
            return occupant_update(
                occupant=family, household_size=3, today=date(2026, 6, 1)
            )
        finally:
            release.set()

    outcomes = race([hold_the_stay, change_the_size])

    assert isinstance(outcomes[1], Conflict), outcomes
    assert outcomes[1].field == "household_size"
    family.refresh_from_db()
    assert family.household_size == 2
    assert Stay.objects.filter(occupant=family).count() == 1
