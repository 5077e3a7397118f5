"""A small, hand-computed case for the finance indicators: one building of the
Bouches-du-Rhône, one agreement in force from 1 March 2024, five funders, and the
year 2024 as window. Every figure the tests expect is worked out in test_indicators.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from buildings.models import Building
from finance.models import (
    BaselineMethod,
    Commitment,
    CostCategory,
    Nature,
    Payer,
)
from occupancy.models import Agreement, AgreementStatus, OccupantKind
from organizations.models import LegalForm, Organization
from tests.finance.api import client_for
from tests.finance.factories import (
    CommitmentFactory,
    CostLineFactory,
    DisbursementFactory,
    FeePaymentFactory,
    SecurityBaselineFactory,
    StateFunderFactory,
    SubLettingFactory,
)
from tests.occupancy.factories import (
    AgreementFactory,
    FunderFactory,
    OccupantFactory,
    SpaceFactory,
    StayFactory,
)


@dataclass(frozen=True)
class Case:
    building: Building
    agreement: Agreement
    ddets: Organization  # State service, programme 177
    prefecture: Organization  # a funder whose legal form is the State
    cdc: Organization
    euromed: Organization
    commitments: dict[str, Commitment]


def d(text: str) -> Decimal:
    return Decimal(text)


@pytest.fixture
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests.
    (The API tests' ``pytestmark`` asks for it.)"""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def editor(agent: User) -> APIClient:
    """An editor of the State service of the case's territory (the Bouches-du-Rhône)."""
    return client_for(agent)


@pytest.fixture(autouse=True)
def _english(settings: Settings) -> None:
    """Pages and messages in English, whatever catalogues are compiled: the
    assertions read the English msgids."""
    settings.LANGUAGE_CODE = "en"


def occupied_site(*, people: int, **agreement_fields: object) -> Agreement:
    """A building of 10 places under an agreement in force from 1 March 2024 to
    1 March 2025, ``people`` persons present from 22 December: 10 nights each in
    2024."""
    space = SpaceFactory.create(capacity=10)
    agreement = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2024, 3, 1), date(2025, 3, 1)),
        spaces=[space],
        **agreement_fields,
    )
    for _ in range(people):
        StayFactory.create(
            agreement=agreement,
            space=space,
            occupant=OccupantFactory.create(
                operator=agreement.operator, kind=OccupantKind.PERSON
            ),
            period=DateRange(date(2024, 12, 22), None),
        )
    return agreement


@pytest.fixture
def case(db: None) -> Case:
    agreement = occupied_site(people=5, market_rent_yearly=d("120000.00"))
    building = agreement.building
    building.designation = "Ancienne Direction des routes"
    building.save(update_fields=["designation"])

    ddets = StateFunderFactory.create(name="DDETS 13")
    prefecture = FunderFactory.create(
        name="Préfecture, programme 177", legal_form=LegalForm.STATE
    )
    cdc = FunderFactory.create(name="Caisse des Dépôts")
    euromed = FunderFactory.create(name="Euroméditerranée")
    commitments = {
        "ddets": CommitmentFactory.create(
            funder=ddets,
            agreement=agreement,
            building=None,
            nature=Nature.CASH_OPERATING,
            amount=d("50000.00"),
            budget_programme="177",
            decision_date=date(2023, 12, 1),
        ),
        "cdc": CommitmentFactory.create(
            funder=cdc,
            building=building,
            nature=Nature.CASH_INVESTMENT,
            amount=d("30000.00"),
            period=DateRange(date(2023, 6, 1), date(2024, 6, 1)),
            decision_date=date(2023, 5, 15),
        ),
        "euromed": CommitmentFactory.create(
            funder=euromed,
            building=building,
            nature=Nature.IN_KIND,
            valuation_method="Temps de chef de projet au coût salarial",
            amount=d("20000.00"),
            decision_date=date(2024, 1, 10),
        ),
        "cdc_loan": CommitmentFactory.create(
            funder=cdc,
            building=building,
            nature=Nature.LOAN,
            amount=d("10000.00"),
            period=DateRange(date(2024, 1, 1), date(2026, 1, 1)),
            decision_date=date(2024, 2, 1),
        ),
        "prefecture": CommitmentFactory.create(
            funder=prefecture,
            agreement=agreement,
            building=None,
            nature=Nature.FEE_WAIVER,
            valuation_method="Valeur locative estimée par la DDFiP",
            amount=d("10000.00"),
            decision_date=date(2024, 1, 15),
        ),
        # Over by 2024: the year filter leaves it out.
        "cdc_2022": CommitmentFactory.create(
            funder=cdc,
            building=building,
            amount=d("99999.00"),
            period=DateRange(date(2022, 1, 1), date(2023, 1, 1)),
            decision_date=date(2021, 12, 1),
        ),
    }
    c = commitments
    for commitment, on, amount in (
        (c["ddets"], date(2024, 2, 1), "20000.00"),
        (c["ddets"], date(2024, 7, 1), "15000.00"),
        (c["cdc"], date(2023, 7, 1), "10000.00"),  # before 2024
        (c["cdc"], date(2024, 3, 1), "12500.50"),
        (c["euromed"], date(2024, 5, 1), "5000.25"),
        (c["cdc_loan"], date(2024, 2, 1), "10000.00"),
        (c["cdc_2022"], date(2022, 6, 1), "1.00"),
    ):
        DisbursementFactory.create(commitment=commitment, date=on, amount=d(amount))

    cat, p = CostCategory, Payer
    for category, payer, amount, start, end in (
        # Spread: 184 of its 365 days fall in 2024.
        (cat.FLUIDS, p.OCCUPANT, "7320.00", (2024, 7, 1), (2025, 7, 1)),
        (cat.SECURITY, p.OWNER, "1000.00", (2024, 3, 1), (2024, 4, 1)),
        (cat.FLUIDS, p.OWNER, "500.00", (2024, 3, 1), (2024, 4, 1)),
        (cat.SOCIAL_STAFF, p.OCCUPANT, "30600.00", (2024, 3, 1), (2025, 1, 1)),
        (cat.WORKS, p.OCCUPANT, "400000.00", (2023, 9, 1), (2024, 3, 1)),
    ):  # fmt: skip
        CostLineFactory.create(
            building=building,
            category=category,
            payer=payer,
            amount=d(amount),
            period=DateRange(date(*start), date(*end)),
        )
    SecurityBaselineFactory.create(
        building=building,
        method=BaselineMethod.HOURLY_RATE,
        hourly_rate=d("22.00"),
        hours_per_month=d("500.0"),
        monthly_amount=d("11000.00"),
    )
    FeePaymentFactory.create(agreement=agreement, date=date(2024, 3, 1))
    FeePaymentFactory.create(agreement=agreement, date=date(2025, 3, 1))
    SubLettingFactory.create(
        agreement=agreement,
        area_m2=d("100.00"),
        rate_per_m2_month=d("10.00"),
        period=DateRange(date(2024, 3, 16), date(2024, 5, 1)),
    )
    return Case(building, agreement, ddets, prefecture, cdc, euromed, commitments)
