"""Data steps of occupancy migrations, run on rows they were written for."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from occupancy.models import Agreement
from tests.occupancy.factories import AgreementFactory

pytestmark = pytest.mark.django_db

FREE_HAS_NO_FEE = importlib.import_module(
    "occupancy.migrations.0007_free_agreement_has_no_fee"
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
