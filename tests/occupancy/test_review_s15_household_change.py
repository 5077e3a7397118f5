"""Review s15: a household size change splits the running stay at today
(stays_follow_household): the old stay ends today (``household_change``) and a
new one starts today.

The continuation is meant to be invisible ("continued like a move: no exit, no
entry"), yet the new stay starts today, and stay_exit/stay_move refuse an exit
on or before a stay's entry: once the size changed, the household can neither
leave nor move to a bigger room on that day (the typical next step for a
household that grew), and an exit recorded late, dated before the change, is
refused outright, although the same exit was accepted a minute before the
PATCH. The operator's only way out is to invent nights that did not happen
(an exit tomorrow), which the indicators then count.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from occupancy.models import (
    AgreementStatus,
    ExitDestination,
    SpaceUse,
    Stay,
    StayStatus,
)
from occupancy.residents import occupant_update, stay_exit, stay_move
from tests.occupancy.factories import (
    AgreementFactory,
    SafetyInspectionFactory,
    SpaceFactory,
)
from tests.occupancy.test_residents import (
    PERIOD,
    TODAY,
    household,
    shelter,
    start,
    stays_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _key(settings: object) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64  # type: ignore[attr-defined]


def test_the_household_leaves_on_the_day_its_size_changed() -> None:
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    start(agreement, space, TODAY - timedelta(days=120), occupant=family, places=None)
    occupant_update(occupant=family, household_size=3, today=TODAY)
    running = Stay.objects.get(occupant=family, status=StayStatus.ACTIVE)

    stay_exit(
        stay=running,
        exit_date=TODAY,
        destination=ExitDestination.SOCIAL_HOUSING,
        today=TODAY,
    )

    assert not Stay.objects.filter(
        occupant=family, status__in=(StayStatus.ACTIVE, StayStatus.EXIT_PLANNED)
    ).exists()
    assert ExitDestination.SOCIAL_HOUSING in {
        s.exit_destination for s in stays_of(family)
    }


def test_an_exit_recorded_late_still_takes_its_real_date() -> None:
    """The family left two days ago; the operator first corrects its size, then
    records the exit at its real date."""
    agreement, space = shelter(capacity=4)
    family = household(agreement, 2)
    start(agreement, space, TODAY - timedelta(days=120), occupant=family, places=None)
    occupant_update(occupant=family, household_size=3, today=TODAY)
    running = Stay.objects.get(occupant=family, status=StayStatus.ACTIVE)

    stay_exit(
        stay=running,
        exit_date=TODAY - timedelta(days=2),
        destination=ExitDestination.FAMILY_FRIENDS,
        today=TODAY,
    )

    last = stays_of(family)[-1]
    assert last.status == StayStatus.EXITED
    assert last.period.upper == TODAY - timedelta(days=2)


def test_a_grown_household_moves_to_a_bigger_room_the_same_day() -> None:
    space = SpaceFactory.create(capacity=3, use=SpaceUse.SLEEPING)
    bigger = SpaceFactory.create(
        building=space.building, capacity=6, use=SpaceUse.SLEEPING
    )
    agreement = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=PERIOD,
        sleeping_allowed=True,
        spaces=[space, bigger],
    )
    SafetyInspectionFactory.create(building=space.building, date=date(2025, 12, 1))
    family = household(agreement, 2)
    start(agreement, space, TODAY - timedelta(days=120), occupant=family, places=None)
    occupant_update(occupant=family, household_size=3, today=TODAY)
    running = Stay.objects.get(occupant=family, status=StayStatus.ACTIVE)

    moved = stay_move(stay=running, space=bigger, on=TODAY, today=TODAY)

    assert moved.space_id == bigger.pk
