"""Data steps of finance migrations, run on rows they were written for."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from django.db import DatabaseError, connection, transaction

from tests.finance.factories import CommitmentFactory, DisbursementFactory

pytestmark = pytest.mark.django_db

DISBURSED_AFTER_DECISION = importlib.import_module(
    "finance.migrations.0004_disbursed_after_decision"
)


def test_a_payment_stored_before_its_decision_stops_the_migration_naming_it() -> None:
    """The triggers check the rows written after them: one stored before (here,
    with the check deferred) is for a person to correct, not to pass unseen."""
    commitment = CommitmentFactory.create(decision_date=date(2024, 6, 1))
    DisbursementFactory.create(commitment=commitment, date=date(2024, 6, 1))
    with connection.cursor() as cursor:
        cursor.execute(DISBURSED_AFTER_DECISION.REFUSE_CONTRADICTIONS)  # none yet
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS disbursement_after_decision DEFERRED")
        early = DisbursementFactory.create(
            commitment=commitment, date=date(2024, 5, 31)
        )
        with pytest.raises(DatabaseError) as stop, transaction.atomic():
            cursor.execute(DISBURSED_AFTER_DECISION.REFUSE_CONTRADICTIONS)
        transaction.set_rollback(True)  # the early row goes, never checked
    assert (
        f"Disbursements {early.pk} are dated before their commitment's decision"
        in str(stop.value)
    )
