"""Integrity in the database: each finance table's CHECK constraints, and the
audit trail every write leaves (pghistory events, append-only)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateRange

from finance.models import BaselineMethod, Commitment, Nature
from finance.services import commitment_create, commitment_update
from tests.finance.factories import (
    CommitmentFactory,
    CostLineFactory,
    DisbursementFactory,
    FeePaymentFactory,
    SecurityBaselineFactory,
    SubLettingFactory,
)
from tests.occupancy.factories import AgreementFactory, BuildingFactory, FunderFactory

pytestmark = pytest.mark.django_db


def refused(constraint: str, make: Any) -> None:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        make()
    diag = getattr(error.value.__cause__, "diag", None)
    assert getattr(diag, "constraint_name", None) == constraint


@pytest.mark.parametrize(
    ("constraint", "fields"),
    [
        ("commitment_amount_positive", {"amount": Decimal("0.00")}),
        ("commitment_nature_valid", {"nature": "gift"}),
        ("commitment_valuation_method", {"nature": Nature.IN_KIND}),
        ("commitment_valuation_method", {"nature": Nature.FEE_WAIVER}),
        ("commitment_decision_reference", {"decision_reference": ""}),
        (
            "commitment_period_bounded",
            {"period": DateRange(date(2024, 1, 1), None)},
        ),
    ],
)
def test_commitment_constraints(constraint: str, fields: dict[str, Any]) -> None:
    refused(constraint, lambda: CommitmentFactory.create(**fields))


def test_a_commitment_funds_an_agreement_or_a_building_not_both_nor_neither() -> None:
    agreement = AgreementFactory.create()
    refused(
        "commitment_one_target",
        lambda: CommitmentFactory.create(
            agreement=agreement, building=agreement.building
        ),
    )
    refused(
        "commitment_one_target",
        lambda: CommitmentFactory.create(agreement=None, building=None),
    )


def test_valued_contributions_with_their_method_are_accepted() -> None:
    commitment = CommitmentFactory.create(
        nature=Nature.FEE_WAIVER, valuation_method="Valeur locative DDFiP"
    )
    assert commitment.pk


@pytest.mark.parametrize(
    ("constraint", "make"),
    [
        (
            "disbursement_amount_positive",
            lambda: DisbursementFactory.create(amount=Decimal("0.00")),
        ),
        (
            "disbursement_has_evidence",
            lambda: DisbursementFactory.create(evidence_reference=""),
        ),
        (
            "disbursement_key_present",
            lambda: DisbursementFactory.create(idempotency_key=""),
        ),
        (
            "cost_line_amount_not_negative",
            lambda: CostLineFactory.create(amount=Decimal("-1.00")),
        ),
        ("cost_line_category_valid", lambda: CostLineFactory.create(category="x")),
        ("cost_line_payer_valid", lambda: CostLineFactory.create(payer="x")),
        (
            "fee_payment_amount_positive",
            lambda: FeePaymentFactory.create(amount=Decimal("0.00")),
        ),
        (
            "fee_payment_key_present",
            lambda: FeePaymentFactory.create(idempotency_key=""),
        ),
        (
            "subletting_area_positive",
            lambda: SubLettingFactory.create(area_m2=Decimal("0.00")),
        ),
        (
            "baseline_hourly_product",
            lambda: SecurityBaselineFactory.create(
                method=BaselineMethod.HOURLY_RATE,
                hourly_rate=Decimal("22.00"),
                hours_per_month=Decimal("730.0"),
                monthly_amount=Decimal("15000.00"),  # not 22 × 730 = 16,060
            ),
        ),
        (
            "baseline_hours_range",
            lambda: SecurityBaselineFactory.create(hours_per_month=Decimal("745.0")),
        ),
    ],
)
def test_other_constraints(constraint: str, make: Any) -> None:
    refused(constraint, make)


@pytest.mark.parametrize(
    ("constraint", "factory", "parent"),
    [
        ("disbursement_key_unique", DisbursementFactory, "commitment"),
        ("fee_payment_key_unique", FeePaymentFactory, "agreement"),
    ],
)
def test_one_idempotency_key_per_parent(
    constraint: str, factory: Any, parent: str
) -> None:
    first = factory.create(idempotency_key="k")
    refused(
        constraint,
        lambda: factory.create(idempotency_key="k", **{parent: getattr(first, parent)}),
    )


def test_every_write_leaves_an_append_only_audit_event() -> None:
    events = apps.get_model("finance", "CommitmentEvent")
    commitment = commitment_create(
        by=None,
        funder=FunderFactory.create(),
        building=BuildingFactory.create(),
        nature=Nature.CASH_OPERATING,
        amount=Decimal("100.00"),
        start=date(2024, 1, 1),
        end=date(2025, 1, 1),
        decision_reference="DEC-1",
        decision_date=date(2023, 12, 1),
    )
    commitment_update(commitment=commitment, by=None, amount=Decimal("200.00"))
    Commitment.objects.filter(pk=commitment.pk).update(purpose="raw SQL too")
    trail = events.objects.filter(pgh_obj_id=commitment.pk).order_by("pgh_id")
    assert [(e.pgh_label, e.amount) for e in trail] == [
        ("insert", Decimal("100.00")),
        ("update", Decimal("200.00")),
        ("update", Decimal("200.00")),
    ]
    with pytest.raises(DatabaseError), transaction.atomic():
        trail.update(amount=Decimal("1.00"))
