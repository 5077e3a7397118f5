"""The dashboard's indicators (domain.md §E 8–13, 17) on the hand-computed case of
conftest.py, for the year 2024. The arithmetic is written next to each figure."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django import DjangoAssertNumQueries

from buildings.models import Building
from finance.indicators import Dashboard, dashboard_get
from finance.models import CostCategory, Nature, Payer, SecurityBaseline
from finance.selectors import Filters
from occupancy.indicators import Figure
from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    OccupantKind,
)
from organizations.models import Organization
from organizations.selectors import Persona, Scope
from tests.finance.conftest import Case, d, occupied_site
from tests.finance.factories import (
    CommitmentFactory,
    CostLineFactory,
    DisbursementFactory,
)
from tests.occupancy.factories import (
    FunderFactory,
    OccupantFactory,
    StayFactory,
)

TODAY = date(2025, 6, 1)
PARIS = ZoneInfo("Europe/Paris")
YEAR = Filters(year=2024)


def agent() -> Scope:
    return Scope(
        user_id=1,
        persona=Persona.STATE_AGENT,
        state_service_ids=frozenset({999_999}),
        departments=frozenset({"13"}),
    )


def funder_of(*organizations: object) -> Scope:
    return Scope(
        user_id=2,
        persona=Persona.FUNDER,
        funder_ids=frozenset(o.pk for o in organizations),  # type: ignore[attr-defined]
    )


def board(scope: Scope, filters: Filters = YEAR) -> Dashboard:
    return dashboard_get(scope=scope, filters=filters, today=TODAY)


def sql_sum(query: str, *params: Any) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        (value,) = cursor.fetchone()
    return value or Decimal(0)


@pytest.mark.django_db
class TestCommittedAndDisbursed:
    def test_totals_for_2024(self, case: Case) -> None:
        dashboard = board(agent())
        # 50,000 + 30,000 + 20,000 + 10,000 (loan) + 10,000 (waiver); 2022's is out.
        assert dashboard.totals.committed == d("120000.00")
        # 20,000 + 15,000 + 12,500.50 + 5,000.25 + 10,000; the 2023 payment is out.
        assert dashboard.totals.disbursed == d("62500.75")

    def test_totals_equal_the_sql_sums_to_the_cent(self, case: Case) -> None:
        dashboard = board(agent(), Filters())
        assert dashboard.totals.committed == sql_sum(
            "SELECT SUM(amount) FROM finance_commitment"
        )
        assert dashboard.totals.disbursed == sql_sum(
            "SELECT SUM(amount) FROM finance_disbursement"
        )
        for rows in (dashboard.by_funder, dashboard.by_nature, dashboard.by_year):
            assert sum(r.committed for r in rows) == dashboard.totals.committed
            assert sum(r.disbursed for r in rows) == dashboard.totals.disbursed

    def test_by_nature(self, case: Case) -> None:
        rows = {r.key: (r.committed, r.disbursed) for r in board(agent()).by_nature}
        assert rows == {
            Nature.CASH_OPERATING: (d("50000.00"), d("35000.00")),
            Nature.CASH_INVESTMENT: (d("30000.00"), d("12500.50")),
            Nature.IN_KIND: (d("20000.00"), d("5000.25")),
            Nature.LOAN: (d("10000.00"), d("10000.00")),
            Nature.FEE_WAIVER: (d("10000.00"), d("0")),
        }

    def test_by_funder(self, case: Case) -> None:
        rows = {r.label: (r.committed, r.disbursed) for r in board(agent()).by_funder}
        assert rows == {
            "DDETS 13": (d("50000.00"), d("35000.00")),
            # grant 30,000 + loan 10,000; paid 12,500.50 + 10,000
            "Caisse des Dépôts": (d("40000.00"), d("22500.50")),
            "Euroméditerranée": (d("20000.00"), d("5000.25")),
            "Préfecture, programme 177": (d("10000.00"), d("0")),
        }

    def test_by_year_counts_decisions_and_payments_in_their_own_year(
        self, case: Case
    ) -> None:
        rows = {r.key: (r.committed, r.disbursed) for r in board(agent()).by_year}
        # Decided in 2023: 50,000 + 30,000; in 2024: 20,000 + 10,000 + 10,000.
        assert rows == {
            "2023": (d("80000.00"), d("0")),
            "2024": (d("40000.00"), d("62500.75")),
        }

    def test_by_site(self, case: Case) -> None:
        (row,) = board(agent()).by_site
        assert (row.label, row.committed, row.disbursed) == (
            "Ancienne Direction des routes",
            d("120000.00"),
            d("62500.75"),
        )
        assert row.rate == d("0.5208")  # 62,500.75 / 120,000


@pytest.mark.django_db
class TestCoFundingAndLeverage:
    def test_shares_of_cash_and_valued_in_kind_leave_loans_out(
        self, case: Case
    ) -> None:
        committed, cash_only = board(agent()).cofunding[:2]
        assert (committed.basis, committed.cash_only) == ("committed", False)
        # 50,000 + 30,000 + 20,000 + 10,000 = 110,000 (the 10,000 loan is not in).
        assert committed.total == d("110000.00")
        assert [(s.funder, s.share) for s in committed.shares] == [
            ("DDETS 13", d("0.4545")),  # 50/110
            ("Caisse des Dépôts", d("0.2727")),  # 30/110
            ("Euroméditerranée", d("0.1818")),  # 20/110
            ("Préfecture, programme 177", d("0.0909")),  # 10/110
        ]
        assert cash_only.total == d("80000.00")
        assert [(s.funder, s.share) for s in cash_only.shares] == [
            ("DDETS 13", d("0.6250")),
            ("Caisse des Dépôts", d("0.3750")),
        ]

    def test_shares_of_what_was_paid(self, case: Case) -> None:
        paid = board(agent()).cofunding[2]
        assert paid.basis == "disbursed"
        # 35,000 + 12,500.50 + 5,000.25; the loan's 10,000 is not a contribution.
        assert paid.total == d("52500.75")
        assert paid.shares[0].share == d("0.6667")  # 35,000 / 52,500.75

    def test_leverage_names_state_money_by_the_funder(self, case: Case) -> None:
        leverage = board(agent()).leverage
        # State: the DDETS (a State service) 50,000 + the prefecture (legal form
        # State) 10,000. Not the State: CDC 30,000 + Euroméditerranée 20,000.
        assert (leverage.state, leverage.non_state) == (d("60000.00"), d("50000.00"))
        assert leverage.non_state_per_state == d("0.8333")  # 50/60
        assert leverage.total_per_state == d("1.8333")  # 110/60
        assert board(agent()).loans_committed == d("10000.00")

    def test_without_state_money_leverage_is_undefined_not_infinite(
        self, case: Case
    ) -> None:
        leverage = board(funder_of(case.cdc)).leverage
        assert leverage.state == 0
        assert leverage.non_state_per_state is None


@pytest.mark.django_db
class TestSiteEconomics:
    def test_the_window_is_the_year(self, case: Case) -> None:
        assert board(agent()).window == (date(2024, 1, 1), date(2025, 1, 1))

    def test_costs_are_spread_over_their_days(self, case: Case) -> None:
        site = board(agent()).sites[0]
        # Fluids 7,320 × 184/365 = 3,690.08 + security 1,000 + owner fluids 500
        # + social staff 30,600 = 35,790.08 (works are not operating costs).
        assert site.operating_costs == d("35790.08")
        # Works 400,000 × 60/182 (1 Jan–29 Feb of 1 Sep–29 Feb) = 131,868.13.
        assert site.works_costs == d("131868.13")

    def test_cost_per_place_per_day_and_per_night_provided(self, case: Case) -> None:
        site = board(agent()).sites[0]
        # 10 places × 306 nights (1 March – 31 December 2024).
        assert site.place_nights == 3060
        assert site.cost_per_place_day == d("11.70")  # 35,790.08 / 3,060
        # 5 people × 10 nights: 5 households, at the threshold, so shown.
        assert site.nights_provided.value == 50
        assert site.cost_per_night.value == d("715.80")  # 35,790.08 / 50

    def test_guarding_cost_avoided_is_an_estimate_from_the_baseline(
        self, case: Case
    ) -> None:
        site = board(agent()).sites[0]
        assert site.guarding_baseline_monthly == d("11000.00")  # 22 €/h × 500 h
        assert site.occupied_months == d("10")  # March to December
        # 11,000 × 10 − 1,000 of security paid by the owner.
        assert site.guarding_avoided == d("109000.00")

    def test_guards_paid_while_the_building_stood_empty_are_not_subtracted(
        self, case: Case
    ) -> None:
        CostLineFactory.create(
            building=case.building,
            category=CostCategory.SECURITY,
            payer=Payer.OWNER,
            amount=d("22000.00"),
            period=DateRange(date(2024, 1, 1), date(2024, 3, 1)),  # before 1 March
        )
        site = board(agent()).sites[0]
        assert site.owner_security_costs == d("1000.00")  # March's only
        assert site.guarding_avoided == d("109000.00")  # 11,000 × 10 − 1,000

    def test_a_safety_closure_is_not_an_occupied_month(self, case: Case) -> None:
        for day, old, new in (
            (date(2024, 6, 1), AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED),
            (date(2024, 9, 1), AgreementStatus.SUSPENDED, AgreementStatus.ACTIVE),
        ):
            change = AgreementStatusChange.objects.create(
                agreement=case.agreement, from_status=old, to_status=new
            )
            AgreementStatusChange.objects.filter(pk=change.pk).update(
                changed_at=datetime(day.year, day.month, day.day, 12, tzinfo=PARIS)
            )
        # 600 € of owner guards during the closure: not an occupied month's.
        CostLineFactory.create(
            building=case.building,
            category=CostCategory.SECURITY,
            payer=Payer.OWNER,
            amount=d("600.00"),
            period=DateRange(date(2024, 7, 1), date(2024, 8, 1)),
        )
        site = board(agent()).sites[0]
        assert site.place_nights == 2140  # 3,060 − 10 places × 92 nights closed
        assert site.occupied_months == d("7")  # March–May, September–December
        assert site.owner_security_costs == d("1000.00")
        assert site.guarding_avoided == d("76000.00")  # 11,000 × 7 − 1,000
        # 120,000 × 7/12 − 12,000 of fees.
        assert site.state_in_kind == d("58000.00")

    def test_owner_net_balance(self, case: Case) -> None:
        site = board(agent()).sites[0]
        assert site.fees_received == d("12000.00")  # the 2025 payment is out
        assert site.owner_other_costs == d("500.00")
        assert site.owner_net_balance == d("120500.00")  # 109,000 + 12,000 − 500

    def test_the_states_contribution_in_kind(self, case: Case) -> None:
        site = board(agent()).sites[0]
        # Market rent 120,000 × 10/12 years − 12,000 of fees = 88,000.
        assert site.state_in_kind == d("88000.00")

    def test_sub_letting_revenue(self, case: Case) -> None:
        site = board(agent()).sites[0]
        # 100 m² × 10 €/m²/month × (16/31 + 1) months = 1,516.13.
        assert site.subletting_revenue == d("1516.13")

    def test_the_total_row_adds_the_sites(self, case: Case) -> None:
        dashboard = board(agent())
        assert dashboard.site_total is not None
        assert dashboard.site_total.operating_costs == d("35790.08")
        assert dashboard.site_total.guarding_avoided == d("109000.00")

    def test_an_unknown_baseline_is_not_a_zero_baseline(self, case: Case) -> None:
        SecurityBaseline.objects.filter(building=case.building).delete()
        site = board(agent()).sites[0]
        assert site.guarding_avoided is None
        assert site.owner_net_balance is None

    def test_without_a_year_the_window_ends_today(self, case: Case) -> None:
        dashboard = dashboard_get(
            scope=agent(), filters=Filters(), today=date(2024, 6, 30)
        )
        # From the earliest commitment (1 January 2022) to today, included.
        assert dashboard.window == (date(2022, 1, 1), date(2024, 7, 1))


@pytest.mark.django_db
class TestImpact:
    def test_people_and_nights_of_the_funded_sites(self, case: Case) -> None:
        impact = board(funder_of(case.cdc)).impact
        assert impact is not None
        assert impact.persons_housed.value == 5
        assert impact.nights_provided.value == 50
        assert impact.occupancy_rate.value == d("0.0163")  # 50 / 3,060

    def test_fewer_than_five_people_are_withheld_for_a_funder(self, case: Case) -> None:
        case.agreement.stays.order_by("pk").first().delete()  # type: ignore[union-attr]
        dashboard = board(funder_of(case.cdc))
        assert dashboard.impact is not None
        assert dashboard.impact.persons_housed.suppressed
        assert dashboard.impact.nights_provided.suppressed
        assert dashboard.sites[0].cost_per_night.suppressed
        # Capacity is not about people: still shown.
        assert dashboard.sites[0].cost_per_place_day == d("11.70")

    def test_one_household_is_not_published_as_a_count_of_people(
        self, case: Case
    ) -> None:
        case.agreement.stays.all().delete()
        StayFactory.create(
            agreement=case.agreement,
            space=case.building.spaces.get(),
            occupant=OccupantFactory.create(
                operator=case.agreement.operator,
                kind=OccupantKind.HOUSEHOLD,
                household_size=6,
            ),
            period=DateRange(date(2024, 12, 1), None),
        )
        impact = board(funder_of(case.cdc)).impact
        assert impact is not None
        assert impact.households_housed.suppressed
        assert impact.persons_housed.suppressed


def funded_site(funder: Organization, people: int) -> Building:
    """An occupied site (conftest.occupied_site) that ``funder`` funds."""
    building = occupied_site(people=people).building
    CommitmentFactory.create(funder=funder, building=building)
    return building


@pytest.mark.django_db
class TestTotalsOfPublishedSites:
    """Outside an operator's own sites, the totals of people add up the sites
    whose figures are published, so no total less a filtered view gives a
    withheld site away (domain.md §F.5)."""

    def test_a_withheld_site_cannot_be_recovered_with_the_site_filter(
        self, case: Case
    ) -> None:
        funded_site(case.cdc, people=3)
        scope = funder_of(case.cdc)
        both = board(scope)
        alone = board(scope, Filters(year=2024, building_id=case.building.pk))
        assert alone.impact is not None
        assert alone.impact.persons_housed == Figure(5)  # the case's site
        # The site of 3 is in no sum (its row counts nothing, 0 is withheld and
        # needs no other cell withheld with it): both boards show the same 5.
        assert both.impact is not None
        assert both.impact.persons_housed == Figure(5)
        assert both.impact.nights_provided == alone.impact.nights_provided
        assert both.impact.sites_left_out == 1

    def test_the_totals_are_the_sums_of_the_published_sites(self, case: Case) -> None:
        funded_site(case.cdc, people=3)
        larger = funded_site(case.cdc, people=6)
        dashboard = board(funder_of(case.cdc))
        # 3 is withheld and counted nowhere: the case's 5 and the 6 are published.
        published = [s for s in dashboard.sites if not s.nights_provided.suppressed]
        assert {s.building_id for s in published} == {case.building.pk, larger.pk}
        impact = dashboard.impact
        assert impact is not None
        assert impact.persons_housed == Figure(11)
        assert impact.households_housed == Figure(11)
        assert impact.nights_provided == Figure(110)
        assert impact.place_nights == 2 * 3060  # the published sites'
        assert impact.occupancy_rate == Figure(d("0.0180"))  # 110 / 6,120
        assert impact.sites_left_out == 1
        assert impact.note == (
            "Sites under 5 people, and those withheld with them, are left out of "
            "these totals: 1 site."
        )
        assert dashboard.site_total is not None
        assert dashboard.site_total.nights_provided == Figure(110)
        # The costs of the published sites (the case's 35,790.08) per their nights.
        assert dashboard.site_total.cost_per_night == Figure(d("325.36"))

    def test_an_operator_on_its_own_sites_gets_exact_totals(self, case: Case) -> None:
        funded_site(case.cdc, people=3)
        operator = Scope(
            user_id=4,
            persona=Persona.OPERATOR,
            operator_ids=frozenset(
                Agreement.objects.values_list("operator_id", flat=True)
            ),
            funder_ids=frozenset({case.cdc.pk}),
        )
        impact = board(operator).impact
        assert impact is not None
        assert impact.persons_housed == Figure(8)
        assert impact.sites_left_out == 0
        assert impact.note == ""


@pytest.mark.django_db
class TestScope:
    def test_a_funder_sees_only_its_own_commitments(self, case: Case) -> None:
        dashboard = board(funder_of(case.cdc))
        assert [r.label for r in dashboard.by_funder] == ["Caisse des Dépôts"]
        assert dashboard.totals.committed == d("40000.00")

    def test_a_funder_without_commitments_sees_nothing(self, case: Case) -> None:
        dashboard = board(funder_of(FunderFactory.create()))
        assert dashboard.totals.committed == 0
        assert dashboard.sites == ()
        assert dashboard.impact is None

    def test_an_agent_of_another_territory_sees_nothing(self, case: Case) -> None:
        other = Scope(
            user_id=3, persona=Persona.STATE_AGENT, departments=frozenset({"33"})
        )
        assert board(other).totals.committed == 0


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_the_dashboard_makes_the_same_queries_for_3_or_30_commitments(
    case: Case, count: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(count):
        commitment = CommitmentFactory.create(funder=case.cdc, building=case.building)
        DisbursementFactory.create(commitment=commitment)
    # Two grouped sums, the buildings, the site economics, then the occupancy
    # indicators by site (the agreements and three aggregates); the totals add
    # up the published sites (an operator on its own sites would query 4 more).
    with django_assert_num_queries(8):
        board(funder_of(case.cdc))
