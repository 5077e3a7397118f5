"""Cost lines, guarding baselines, fee payments and sub-lettings (the State's
books: State agents of the territory only) and the indicators endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from finance.models import CostLine, SecurityBaseline, SubLetting
from organizations.models import OrganizationKind
from tests.finance.api import BASE, client_for, etag, funder_client, post_payment
from tests.finance.conftest import Case
from tests.finance.factories import CommitmentFactory, StateFunderFactory
from tests.occupancy.factories import BuildingFactory, FunderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_empty_cache")]


MAX_AMOUNT = "999999999999.99"  # DecimalField(14, 2)
BOOKS = ["cost-lines", "security-baselines", "fee-payments", "sublettings"]


@pytest.mark.parametrize("resource", BOOKS)
def test_funders_and_operators_see_none_of_the_states_books(
    case: Case, make_member: Callable[..., User], resource: str
) -> None:
    for client in (
        funder_client(make_member, case.cdc),
        client_for(
            make_member(OrganizationKind.OPERATOR, organization=case.agreement.operator)
        ),
    ):
        response = client.get(f"{BASE}{resource}/")
        assert response.status_code == 200
        assert response.json()["results"] == []


@pytest.mark.parametrize("resource", BOOKS)
def test_agents_read_their_territorys_books(
    case: Case, editor: APIClient, resource: str
) -> None:
    rows = editor.get(f"{BASE}{resource}/").json()["results"]
    assert rows
    first = editor.get(f"{BASE}{resource}/{rows[0]['id']}/")
    assert first.status_code == 200
    assert first["ETag"]


@pytest.mark.parametrize("resource", [*BOOKS, "commitments", "disbursements"])
def test_anonymous_callers_read_nothing(case: Case, resource: str) -> None:
    assert client_for(None).get(f"{BASE}{resource}/").status_code in (401, 403)


def test_a_cost_line_is_recorded_and_changed_with_its_etag(
    case: Case, editor: APIClient
) -> None:
    response = editor.post(
        f"{BASE}cost-lines/",
        {
            "building": case.building.pk,
            "category": "food",
            "payer": "partner",
            "amount": "1200.00",
            "start": "2024-10-01",
            "end": "2024-11-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    url = f"{BASE}cost-lines/{response.json()['id']}/"
    assert editor.patch(url, {"amount": "1300.00"}, format="json").status_code == 428
    changed = editor.patch(
        url, {"amount": "1300.00"}, format="json", HTTP_IF_MATCH=etag(editor, url)
    )
    assert changed.status_code == 200
    assert CostLine.objects.get(pk=response.json()["id"]).amount == Decimal("1300.00")


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"category": "bribes"}, "category"), ({"amount": "-1.00"}, "amount")],
)
def test_a_bad_cost_line_is_a_400_naming_the_field(
    case: Case, editor: APIClient, fields: dict[str, Any], field: str
) -> None:
    body = {
        "building": case.building.pk,
        "category": "food",
        "payer": "partner",
        "amount": "1.00",
        "start": "2024-10-01",
        "end": "2024-11-01",
        **fields,
    }
    response = editor.post(f"{BASE}cost-lines/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("rate", "hours", "monthly"),
    [
        ("22.50", "730.0", "16425.00"),
        # 2,212.005: half up, as PostgreSQL's round() in the check constraint.
        ("22.01", "100.5", "2212.01"),
    ],
)
def test_the_hourly_baseline_is_rate_times_hours(
    case: Case, editor: APIClient, rate: str, hours: str, monthly: str
) -> None:
    url = f"{BASE}security-baselines/{case.building.security_baseline.pk}/"
    response = editor.patch(
        url,
        {"hourly_rate": rate, "hours_per_month": hours},
        format="json",
        HTTP_IF_MATCH=etag(editor, url),
    )
    assert response.status_code == 200, response.content
    assert response.json()["monthly_amount"] == monthly
    assert SecurityBaseline.objects.get(building=case.building).monthly_amount == (
        Decimal(monthly)
    )


def test_a_sub_letting_outside_its_agreement_is_a_400(
    case: Case, editor: APIClient
) -> None:
    response = editor.post(
        f"{BASE}sublettings/",
        {
            "agreement": case.agreement.pk,
            "sub_occupant": "Atelier de sérigraphie",
            "area_m2": "25.00",
            "rate_per_m2_month": "10.00",
            "start": "2024-06-01",
            "end": "2025-06-01",  # the agreement ends on 1 March 2025
        },
        format="json",
    )
    assert response.status_code == 400
    assert "end" in response.json()["errors"]
    assert SubLetting.objects.count() == 1


def test_a_fee_payment_is_recorded(case: Case, editor: APIClient) -> None:
    response = post_payment(
        editor,
        f"{BASE}fee-payments/",
        {"agreement": case.agreement.pk, "date": "2024-09-01", "amount": "500.00"},
        "fee-2024-09",
    )
    assert response.status_code == 201, response.content


class TestIndicators:
    URL = BASE + "indicators/"

    def test_a_funder_gets_the_figures_of_its_commitments(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        body = funder_client(make_member, case.cdc).get(self.URL, {"year": 2024}).json()
        assert body["totals"]["committed"] == "40000.00"
        assert [row["label"] for row in body["by_funder"]] == ["Caisse des Dépôts"]
        # Counts are integers, ratios four decimals, amounts two.
        impact = body["impact"]
        assert impact["persons_housed"] == {"value": 5, "suppressed": False}
        assert impact["nights_provided"] == {"value": 50, "suppressed": False}
        assert impact["occupancy_rate"] == {"value": "0.0163", "suppressed": False}
        assert body["sites"][0]["cost_per_night"]["value"] == "715.80"
        assert body["window_start"] == "2024-01-01"
        assert body["methodology"]

    def test_small_cells_are_null_and_flagged(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        case.agreement.stays.order_by("pk").first().delete()  # type: ignore[union-attr]
        body = funder_client(make_member, case.cdc).get(self.URL, {"year": 2024}).json()
        assert body["impact"]["persons_housed"] == {"value": None, "suppressed": True}
        assert body["impact"]["sites_left_out"] == 1
        assert "left out of these totals: 1 site" in body["impact"]["note"]
        assert body["sites"][0]["cost_per_night"]["suppressed"] is True

    def test_sums_beyond_one_amounts_digits_are_served(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        for _ in range(2):  # each at the 14-digit maximum of an amount
            CommitmentFactory.create(
                funder=case.cdc, building=case.building, amount=Decimal(MAX_AMOUNT)
            )
        response = funder_client(make_member, case.cdc).get(self.URL)
        assert response.status_code == 200
        # 2 × 999,999,999,999.99 + the case's 30,000 + 10,000 + 99,999.
        assert response.json()["totals"]["committed"] == "2000000139998.98"

    def test_a_huge_leverage_is_served(self, editor: APIClient) -> None:
        building = BuildingFactory.create(department_id="13")
        CommitmentFactory.create(
            funder=StateFunderFactory.create(),
            building=building,
            amount=Decimal("0.01"),
        )
        CommitmentFactory.create(
            funder=FunderFactory.create(), building=building, amount=Decimal(MAX_AMOUNT)
        )
        response = editor.get(self.URL)
        assert response.status_code == 200
        leverage = response.json()["leverage"]
        assert leverage["non_state_per_state"] == "99999999999999.0000"

    @pytest.mark.parametrize("year", [1899, 2200, 9999])
    def test_a_year_beyond_the_platforms_range_is_a_400(
        self, case: Case, editor: APIClient, year: int
    ) -> None:
        response = editor.get(self.URL, {"year": year})
        assert response.status_code == 400
        assert "year" in response.json()["errors"]

    def test_bad_filters_are_a_400(self, case: Case, editor: APIClient) -> None:
        assert editor.get(self.URL, {"nature": "gift"}).status_code == 400

    def test_anonymous_callers_are_refused(self, case: Case) -> None:
        assert client_for(None).get(self.URL).status_code in (401, 403)


def tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("resource", "fields", "field"),
    [
        # A payment made: within its agreement and not after today, as a
        # disbursement within its commitment.
        ("fee-payments", {"date": "2024-02-29"}, "date"),  # the day before it starts
        ("fee-payments", {"date": "2025-03-01"}, "date"),  # the day after it ends
        ("fee-payments", {"date": tomorrow()}, "date"),
        # Periods end after they start ([start, end), end exclusive).
        ("cost-lines", {"end": "2024-10-01"}, "end"),
        ("cost-lines", {"end": "2024-09-30"}, "end"),
        ("sublettings", {"end": "2024-04-01"}, "end"),
        ("sublettings", {"start": "2024-02-01"}, "start"),  # before the agreement
    ],
)
def test_the_books_dates_follow_the_disbursements_rules(
    case: Case, editor: APIClient, resource: str, fields: dict[str, str], field: str
) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "fee-payments": {
            "agreement": case.agreement.pk,
            "date": "2024-09-01",
            "amount": "500.00",
        },
        "cost-lines": {
            "building": case.building.pk,
            "category": "food",
            "payer": "partner",
            "amount": "1.00",
            "start": "2024-10-01",
            "end": "2024-11-01",
        },
        "sublettings": {
            "agreement": case.agreement.pk,
            "sub_occupant": "Atelier de sérigraphie",
            "area_m2": "25.00",
            "rate_per_m2_month": "10.00",
            "start": "2024-04-01",
            "end": "2024-10-01",
        },
    }
    url = f"{BASE}{resource}/"
    before = len(editor.get(url).json()["results"])
    # The key is the fee payments' (the other books ignore the header).
    response = post_payment(editor, url, {**bodies[resource], **fields}, "k")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert len(editor.get(url).json()["results"]) == before


def test_a_cost_lines_change_keeps_its_end_after_its_start(
    case: Case, editor: APIClient
) -> None:
    line = CostLine.objects.filter(building=case.building).first()
    assert line is not None
    url = f"{BASE}cost-lines/{line.pk}/"
    response = editor.patch(
        url,
        {"end": line.period.lower.isoformat()},
        format="json",
        HTTP_IF_MATCH=etag(editor, url),
    )
    assert response.status_code == 400, response.content
    assert "end" in response.json()["errors"]
    line.refresh_from_db()
    assert line.period.upper > line.period.lower
