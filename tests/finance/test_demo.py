"""The finance demo: the Marseille co-funding, flagged illustrative, loaded once,
on the occupancy demo's agreement when there is one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Sum

from buildings.models import Building
from finance import demo
from finance.indicators import dashboard_get
from finance.models import (
    Commitment,
    CostCategory,
    CostLine,
    Disbursement,
    FeePayment,
    Nature,
    SecurityBaseline,
    SubLetting,
)
from finance.selectors import Filters
from occupancy.models import AgreementStatus, SpaceKind, SpaceUse
from organizations import demo as organizations_demo
from organizations.models import Organization
from organizations.selectors import Persona, Scope
from tests.occupancy.factories import AgreementFactory, BuildingFactory, SpaceFactory

MODELS = (Commitment, Disbursement, CostLine, FeePayment, SecurityBaseline, SubLetting)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def roads(db: None) -> Building:
    organizations_demo.load()
    return BuildingFactory.create(inventory_id=demo.ROADS_DIRECTORATE)


@pytest.mark.django_db
def test_without_the_occupancy_demo_it_funds_the_building(roads: Building) -> None:
    demo.load()
    assert (
        Commitment.objects.filter(building=roads).count() == Commitment.objects.count()
    )
    assert not FeePayment.objects.exists()
    assert not SubLetting.objects.exists()


@pytest.mark.django_db
def test_it_attaches_to_the_agreement_loads_once_and_is_all_illustrative(
    roads: Building,
) -> None:
    agreement = AgreementFactory.create(
        reference=demo.AGREEMENT_REFERENCE,
        # The operator funds works from its own resources: on its own agreement.
        operator=Organization.objects.get(name=demo.OPERATOR),
        building=roads,
        status=AgreementStatus.CLOSED,
        period=DateRange(date(2018, 5, 1), date(2023, 12, 22)),
        market_rent_yearly=Decimal("400000.00"),
    )
    for n in range(3):
        SpaceFactory.create(
            building=roads,
            name=f"Atelier {n}",
            kind=SpaceKind.WORKSHOP,
            use=SpaceUse.WORK,
            surface_m2=Decimal("20.00"),
        )
    demo.load()
    first = counts()
    demo.load()
    assert counts() == first

    assert Commitment.objects.filter(agreement=agreement).count() == first["Commitment"]
    for model in (Commitment, CostLine, FeePayment, SecurityBaseline, SubLetting):
        assert not model.objects.filter(illustrative=False).exists(), model
    works = Commitment.objects.filter(nature=Nature.CASH_INVESTMENT).aggregate(
        s=Sum("amount")
    )["s"]
    assert works == Decimal("400000.00")
    assert CostLine.objects.get(category=CostCategory.WORKS).amount == works
    assert SubLetting.objects.count() == 3
    assert {s.rate_per_m2_month for s in SubLetting.objects.all()} == {Decimal("10.00")}
    assert SecurityBaseline.objects.get().monthly_amount == Decimal("15000.00")
    funders = set(Commitment.objects.values_list("funder__name", flat=True))
    assert {demo.CDC, demo.EUROMED, demo.FSL, demo.DDETS, demo.OPERATOR} <= funders

    everything = Scope(user_id=1, persona=Persona.STATE_AGENT, departments=None)
    dashboard = dashboard_get(
        scope=everything, filters=Filters(), today=date(2024, 6, 1)
    )
    assert dashboard.illustrative
    assert dashboard.leverage.state > 0
    assert dashboard.sites[0].subletting_revenue > 0
    assert dashboard.sites[0].guarding_avoided is not None
