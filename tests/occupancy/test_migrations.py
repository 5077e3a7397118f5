"""Data steps of occupancy migrations, run on rows they were written for."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from occupancy.models import Agreement, AgreementStatus, Space, Stay
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    OccupantFactory,
    OperatorFactory,
    SpaceFactory,
    StayFactory,
)

pytestmark = pytest.mark.django_db

FREE_HAS_NO_FEE = importlib.import_module(
    "occupancy.migrations.0007_free_agreement_has_no_fee"
)
SPACE_CREATED_BY = importlib.import_module("occupancy.migrations.0009_space_created_by")
STAY_HOUSEHOLD_SIZE = importlib.import_module(
    "occupancy.migrations.0010_stay_household_size"
)


def _stored_before_the_constraint(**fields: object) -> Agreement:
    agreement = AgreementFactory.create(free=True)
    with connection.cursor() as cursor:
        # The deferred checks of the factory's rows first: no ALTER with them pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE occupancy_agreement DROP CONSTRAINT agreement_free_has_no_fee"
        )
    Agreement.objects.filter(pk=agreement.pk).update(**fields)
    return agreement


def test_a_free_agreement_with_a_fee_stops_the_migration_naming_it() -> None:
    """It dropped the amount without a word (found by a review): which of "free"
    and the fee is right is for a person to say."""
    agreement = _stored_before_the_constraint(fee_amount=Decimal("1200.00"))
    with (
        pytest.raises(DatabaseError, match=f"Agreements {agreement.pk} are free"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(FREE_HAS_NO_FEE.REFUSE_CONTRADICTIONS)
    agreement.refresh_from_db()
    assert agreement.fee_amount == Decimal("1200.00")


def test_the_leftovers_of_a_free_agreement_are_cleared() -> None:
    agreement = _stored_before_the_constraint(
        fee_amount=Decimal("0.00"), fee_period="annual"
    )
    with connection.cursor() as cursor:
        cursor.execute(FREE_HAS_NO_FEE.REFUSE_CONTRADICTIONS)
        cursor.execute(FREE_HAS_NO_FEE.CLEAR_LEFTOVERS)
    agreement.refresh_from_db()
    assert (agreement.fee_amount, agreement.fee_period) == (None, "")


def test_free_spaces_go_to_the_only_operator_of_their_building() -> None:
    """Before 0009 every operator of the building changed a free space: where
    there was one operator, it keeps that; where several shared the building,
    none can be told to have added it."""
    operator_a, operator_b = OperatorFactory.create(), OperatorFactory.create()
    alone, shared, drafted = BuildingFactory.create_batch(3)
    held = SpaceFactory.create(building=alone)
    released = SpaceFactory.create(building=alone)
    free_alone = SpaceFactory.create(building=alone)
    AgreementFactory.create(
        building=alone, operator=operator_a, active=True, spaces=[held]
    )
    AgreementFactory.create(
        building=alone,
        operator=operator_b,
        status=AgreementStatus.WITHDRAWN,
        spaces=[released],
    )
    free_shared = SpaceFactory.create(building=shared)
    for operator in (operator_a, operator_b):
        AgreementFactory.create(building=shared, operator=operator, active=True)
    free_drafted = SpaceFactory.create(building=drafted)
    AgreementFactory.create(building=drafted, operator=operator_a)

    with connection.cursor() as cursor:
        cursor.execute(SPACE_CREATED_BY.GIVE_FREE_SPACES_TO_THE_ONLY_OPERATOR)

    creators = dict(Space.objects.values_list("pk", "created_by_id"))
    assert creators[free_alone.pk] == operator_a.pk
    assert creators[released.pk] == operator_a.pk  # its claim was withdrawn
    assert creators[held.pk] is None  # its agreement's claim governs it
    assert creators[free_shared.pk] is None
    assert creators[free_drafted.pk] is None  # a draft occupies nothing


def test_stays_stored_before_take_their_occupants_size() -> None:
    family = OccupantFactory.create(kind="household", household_size=3)
    stay = StayFactory.create(occupant=family, agreement__operator=family.operator)
    alone = StayFactory.create()
    Stay.objects.filter(pk=stay.pk).update(household_size=1)  # the column's default

    with connection.cursor() as cursor:
        cursor.execute(STAY_HOUSEHOLD_SIZE.COPY_THE_OCCUPANTS_SIZE)

    sizes = dict(Stay.objects.values_list("pk", "household_size"))
    assert sizes == {stay.pk: 3, alone.pk: 1}
