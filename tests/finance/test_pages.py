"""The finance dashboard page and its downloads: who may open them, what they
show, and a query budget that does not grow with the number of rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db.backends.postgresql.psycopg_any import DateRange
from django.test import Client
from openpyxl import load_workbook
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from maps import layers
from organizations.models import OrganizationKind, Role
from tests.finance.conftest import Case
from tests.finance.factories import CommitmentFactory, DisbursementFactory
from tests.occupancy.factories import BuildingFactory, FunderFactory

URL = "/financement/"


def member(make_member: Callable[..., User], organization: object) -> Client:
    user = make_member(
        OrganizationKind.FUNDER, role=Role.VIEWER, organization=organization
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def cdc_client(case: Case, make_member: Callable[..., User]) -> Client:
    return member(make_member, case.cdc)


@pytest.fixture
def agent_client(make_member: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_member(OrganizationKind.STATE_SERVICE, departments=["13"]))
    return client


@pytest.mark.django_db
class TestAccess:
    def test_anonymous_visitors_are_sent_to_the_login_page(
        self, client: Client
    ) -> None:
        response = client.get(URL)
        assert response.status_code == 302
        assert "/compte/connexion/" in response["Location"]

    def test_operators_get_a_404(self, make_member: Callable[..., User]) -> None:
        client = Client()
        client.force_login(make_member(OrganizationKind.OPERATOR))
        assert client.get(URL).status_code == 404
        assert client.get(URL + "export.csv").status_code == 404

    def test_the_funder_space_links_to_the_dashboard(self, cdc_client: Client) -> None:
        page = cdc_client.get("/espace/financeur/").content.decode()
        assert 'data-testid="finance-dashboard-link"' in page
        assert 'href="/financement/"' in page


@pytest.mark.django_db
class TestTheFundersPage:
    def test_shows_its_commitments_only(self, case: Case, cdc_client: Client) -> None:
        page = cdc_client.get(URL, {"year": 2024}).content.decode()
        assert "Caisse des Dépôts" in page
        for other in ("DDETS 13", "Euroméditerranée", "Préfecture, programme 177"):
            assert other not in page
        commitments = [f'data-commitment="{c.pk}"' for c in case.commitments.values()]
        shown = [marker for marker in commitments if marker in page]
        assert len(shown) == 2  # the grant and the loan of 2024

    def test_another_funders_site_is_not_a_valid_filter(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        stranger = member(make_member, FunderFactory.create())
        response = stranger.get(URL, {"site": case.building.pk})
        assert response.status_code == 400
        page = response.content.decode()
        assert case.building.designation not in page
        assert "Select a valid choice." in page

    def test_an_invalid_filter_shows_its_error_and_no_figures(
        self, case: Case, cdc_client: Client
    ) -> None:
        response = cdc_client.get(URL, {"year": 2024, "site": 999_999})
        assert response.status_code == 400
        page = response.content.decode()
        assert "Some filters are not valid: correct them to see the figures." in page
        site = page.split('name="site"', 1)[1].split("</div>", 1)[0]
        assert "Select a valid choice." in site
        for figures in ("key-figures", "site-table", "impact", "commitment-table"):
            assert f'data-testid="{figures}"' not in page
        assert 'data-testid="exports"' not in page

    def test_years_beyond_the_platforms_range_are_neither_offered_nor_a_500(
        self, case: Case, cdc_client: Client
    ) -> None:
        CommitmentFactory.create(
            funder=case.cdc,
            building=case.building,
            period=DateRange(date(2024, 1, 1), date(9999, 12, 31)),
        )
        response = cdc_client.get(URL, {"year": 9999})
        assert response.status_code == 400
        page = response.content.decode()
        assert 'value="2199"' in page
        assert 'value="2200"' not in page
        year = page.split('name="year"', 1)[1].split("</select>", 1)[1]
        assert "Select a valid choice." in year.split("</div>", 1)[0]

    def test_charts_come_with_their_tables(
        self, case: Case, cdc_client: Client
    ) -> None:
        page = cdc_client.get(URL, {"year": 2024}).content.decode()
        for chart in ("by-funder", "by-nature", "by-year", "by-site"):
            assert f'data-testid="chart-{chart}"' in page
        assert page.count("<svg") >= 4
        assert page.count("<table") >= 5
        assert 'data-testid="site-map"' in page

    def test_no_resident_level_figure_and_small_cells_withheld(
        self, case: Case, cdc_client: Client
    ) -> None:
        case.agreement.stays.order_by("pk").first().delete()  # type: ignore[union-attr]
        page = cdc_client.get(URL, {"year": 2024}).content.decode()
        assert "withheld" in page
        note = page.split('data-testid="impact-note">', 1)[1].split("</span>")[0]
        assert note == (
            "Sites under 5 people, and those withheld with them, are left out of "
            "these totals: 1 site."
        )
        for occupant in case.agreement.stays.values_list(
            "occupant__pseudonym", flat=True
        ):
            assert occupant not in page

    def test_the_threshold_in_force_is_the_one_the_page_states(
        self, case: Case, cdc_client: Client, settings: Settings
    ) -> None:
        """The tooltip of a withheld figure, the methodology and the funder's
        space said "5 people" whatever OCCUPANCY_RULES set (found by a review)."""
        settings.OCCUPANCY_RULES = {"small_cell_threshold": 7}
        page = cdc_client.get(URL, {"year": 2024}).content.decode()
        assert 'title="Fewer than 7 people: withheld to protect privacy."' in page
        methodology = page.split('data-testid="methodology">', 1)[1]
        assert "counts under 7 people are withheld" in methodology
        assert "under 5 people" not in page
        space = cdc_client.get("/espace/financeur/").content.decode()
        assert "counts under 7 people are withheld" in space

    def test_illustrative_amounts_are_announced(
        self, case: Case, cdc_client: Client
    ) -> None:
        page = cdc_client.get(URL).content.decode()
        assert 'data-testid="illustrative-warning"' not in page
        case.commitments["cdc"].__class__.objects.filter(
            pk=case.commitments["cdc"].pk
        ).update(illustrative=True)
        page = cdc_client.get(URL).content.decode()
        assert 'data-testid="illustrative-warning"' in page


@pytest.mark.django_db
def test_an_agent_sees_every_funder_of_the_territory(
    case: Case, agent_client: Client
) -> None:
    page = agent_client.get(URL, {"year": 2024}).content.decode()
    for funder in ("DDETS 13", "Euroméditerranée", "Caisse des Dépôts"):
        assert funder in page
    assert 'name="funder"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_the_page_makes_the_same_queries_for_3_or_30_commitments(
    case: Case,
    cdc_client: Client,
    count: int,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    for _ in range(count):
        commitment = CommitmentFactory.create(funder=case.cdc, building=case.building)
        DisbursementFactory.create(commitment=commitment)
    cdc_client.get(URL)  # warm the session and the scope
    with django_assert_num_queries(PAGE_QUERIES):
        assert cdc_client.get(URL).status_code == 200


@pytest.mark.django_db
def test_more_funded_sites_than_the_map_draws_inline_are_listed_not_a_500(
    case: Case, cdc_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layers, "INLINE_LIMIT", 2)
    for _ in range(2):
        CommitmentFactory.create(funder=case.cdc, building=BuildingFactory.create())
    response = cdc_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="funded-map"' not in page
    note = page.split('data-testid="funded-map-note">', 1)[1].split("</p>")[0]
    assert note == (
        "The map is not drawn: it shows 2 sites at most, and there are 3. "
        "The table below lists every site."
    )
    assert page.count("<tr data-site=") == 3


# Session (1), user with their memberships (1), filter choices (3), dashboard (8),
# the page of commitments: count and rows (2), the funded sites' map layer (1).
PAGE_QUERIES = 16


# --- Downloads
def rows_of_csv(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))


@pytest.mark.django_db
class TestDownloads:
    def test_csv_lists_the_funders_commitments_with_decimal_commas(
        self, case: Case, cdc_client: Client
    ) -> None:
        response = cdc_client.get(URL + "export.csv", {"year": 2024})
        assert response["Content-Type"].startswith("text/csv")
        rows = rows_of_csv(b"".join(response.streaming_content))  # type: ignore[attr-defined]
        header, *body = rows
        assert header[:3] == ["id", "funder", "site"]
        assert {row[1] for row in body} == {"Caisse des Dépôts"}
        amounts = {row[header.index("amount")] for row in body}
        assert amounts == {"30000,00", "10000,00"}

    def test_csv_neutralises_formulas(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        funder = FunderFactory.create(name='=HYPERLINK("http://x")')
        for prefix in ("+", "-", "@"):
            CommitmentFactory.create(
                funder=funder,
                building=case.building,
                purpose=f"{prefix}cmd|' /C calc'!A0",
            )
        client = member(make_member, funder)
        rows = rows_of_csv(
            b"".join(client.get(URL + "export.csv").streaming_content)  # type: ignore[attr-defined]
        )
        cells = [cell for row in rows[1:] for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert '\'=HYPERLINK("http://x")' in cells

    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    @pytest.mark.parametrize(
        ("query", "field"),
        [({"year": 2024, "site": 999_999}, "site"), ({"year": 9999}, "year")],
    )
    def test_an_invalid_filter_exports_nothing_and_names_the_field(
        self,
        case: Case,
        cdc_client: Client,
        fmt: str,
        query: dict[str, int],
        field: str,
    ) -> None:
        response = cdc_client.get(URL + f"export.{fmt}", query)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert list(response.json()["errors"]) == [field]

    def test_xlsx_has_typed_cells_and_no_formula(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        CommitmentFactory.create(
            funder=case.cdc,
            building=case.building,
            purpose="=1+1",
            amount=Decimal("5.50"),
        )
        client = member(make_member, case.cdc)
        response = client.get(URL + "export.xlsx")
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames == ["engagements", "versements", "indicateurs"]
        sheet = workbook["engagements"]
        header = [cell.value for cell in sheet[1]]
        rows = [list(row) for row in sheet.iter_rows(min_row=2)]
        assert rows
        for row in rows:
            amount = row[header.index("amount")]
            assert amount.data_type == "n"
            assert isinstance(amount.value, int | float)
            assert row[header.index("decision_date")].is_date
        every_cell = [c for ws in workbook for row in ws.iter_rows() for c in row]
        assert not [c for c in every_cell if c.data_type == "f"]
        assert "'=1+1" in [c.value for c in every_cell]
        funders = {row[header.index("funder")].value for row in rows}
        assert funders == {"Caisse des Dépôts"}
        paid = workbook["versements"]
        assert {row[2].value for row in paid.iter_rows(min_row=2)} == {
            "Caisse des Dépôts"
        }

    def test_xlsx_writes_withheld_figures_as_words(
        self, case: Case, cdc_client: Client
    ) -> None:
        case.agreement.stays.order_by("pk").first().delete()  # type: ignore[union-attr]
        response = cdc_client.get(URL + "export.xlsx", {"year": 2024})
        sheet = load_workbook(io.BytesIO(response.content))["indicateurs"]
        values = {row[0].value: row[2].value for row in sheet.iter_rows(min_row=2)}
        assert values["People housed"] == "withheld"
        assert values["Nights provided"] == "withheld"
        assert "left out of these totals: 1 site" in values["Note"]
        assert values["Committed"] == 40000  # 30,000 grant + 10,000 loan

    def test_dates_are_dates_in_the_xlsx(self, case: Case, cdc_client: Client) -> None:
        response = cdc_client.get(URL + "export.xlsx", {"year": 2024})
        sheet = load_workbook(io.BytesIO(response.content))["versements"]
        dates = [row[3].value for row in sheet.iter_rows(min_row=2)]
        assert dates
        assert all(value.date() >= date(2024, 1, 1) for value in dates)


@pytest.mark.django_db
def test_the_funder_sees_its_funded_sites_on_a_map_with_local_assets_only(
    case: Case, cdc_client: Client
) -> None:
    commitment = CommitmentFactory.create(funder=case.cdc, building=case.building)
    DisbursementFactory.create(commitment=commitment)

    page = cdc_client.get(URL).content.decode()

    assert 'data-testid="funded-map"' in page
    assert "funded-sites" in page
    assert case.building.designation in page
    for url in re.findall(r'(?:src|href)="(https?://[^"]+)"', page):
        raise AssertionError(f"an outside asset on the dashboard: {url}")
