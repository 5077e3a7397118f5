# factory_boy declarations are untyped.
# mypy: allow-untyped-calls
"""Factories for the finance tests, on the organizations, buildings and agreements
of tests/occupancy/factories.py (the Marseille case).

The default commitment is the Caisse des Dépôts' operating grant of 100,000 € for
2024 on a building of the Bouches-du-Rhône; traits or arguments change the one
field a test is about. Call ``XFactory.create(...)``: it is the spelling mypy types.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange
from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from finance.models import (
    BaselineMethod,
    Commitment,
    CostCategory,
    CostLine,
    Disbursement,
    FeePayment,
    Nature,
    Payer,
    SecurityBaseline,
    SubLetting,
)
from organizations.models import LegalForm, Organization, OrganizationKind
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    FunderFactory,
)

YEAR_2024 = DateRange(date(2024, 1, 1), date(2025, 1, 1))


class StateFunderFactory(DjangoModelFactory[Organization]):
    """A State service paying from a programme budget (the DDETS, programme 177)."""

    class Meta:
        model = Organization

    name = Sequence(lambda n: f"DDETS des Bouches-du-Rhône {n}")
    kind = OrganizationKind.STATE_SERVICE
    legal_form = LegalForm.STATE
    territory_departments = ["13"]


class CommitmentFactory(DjangoModelFactory[Commitment]):
    class Meta:
        model = Commitment

    funder = SubFactory(FunderFactory)
    building = SubFactory(BuildingFactory)
    agreement = None
    nature = Nature.CASH_OPERATING
    amount = Decimal("100000.00")
    period = YEAR_2024
    decision_reference = Sequence(lambda n: f"DEC-2023-{n:04d}")
    decision_date = date(2023, 12, 15)


class DisbursementFactory(DjangoModelFactory[Disbursement]):
    class Meta:
        model = Disbursement

    commitment = SubFactory(CommitmentFactory)
    date = LazyAttribute(lambda o: o.commitment.period.lower)
    amount = Decimal("1000.00")
    evidence_reference = Sequence(lambda n: f"OP-{n:06d}")
    idempotency_key = Sequence(lambda n: f"key-{n}")


class CostLineFactory(DjangoModelFactory[CostLine]):
    class Meta:
        model = CostLine

    building = SubFactory(BuildingFactory)
    period = YEAR_2024
    category = CostCategory.FLUIDS
    payer = Payer.OCCUPANT
    amount = Decimal("1000.00")


class FeePaymentFactory(DjangoModelFactory[FeePayment]):
    class Meta:
        model = FeePayment

    agreement = SubFactory(AgreementFactory)
    date = date(2024, 3, 1)
    amount = Decimal("12000.00")
    idempotency_key = Sequence(lambda n: f"fee-key-{n}")


class SecurityBaselineFactory(DjangoModelFactory[SecurityBaseline]):
    class Meta:
        model = SecurityBaseline

    building = SubFactory(BuildingFactory)
    method = BaselineMethod.FLAT
    monthly_amount = Decimal("15000.00")


class SubLettingFactory(DjangoModelFactory[SubLetting]):
    class Meta:
        model = SubLetting

    agreement = SubFactory(AgreementFactory)
    sub_occupant = Sequence(lambda n: f"Atelier {n}")
    area_m2 = Decimal("100.00")
    rate_per_m2_month = Decimal("10.00")
    period = LazyAttribute(lambda o: o.agreement.period)
