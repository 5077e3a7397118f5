"""What the occupancy API keeps and says about residents, and the shape of its
answers: the file number is hashed and forgotten, the pseudonym never leaves,
read-only and privileged fields are refused, viewers only read, documents are
PDFs, indicators are exact for an operator and withheld for the State, lists
cost a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from occupancy.api import views
from occupancy.models import Occupant, ResidentAccess, Stay
from occupancy.residents import pseudonym_for
from organizations.models import Membership, Role
from tests.occupancy.factories import (
    AgreementFactory,
    OccupantFactory,
    ResidenceContractFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    UserFactory,
)
from tests.occupancy.test_api_support import (
    PDF,
    PSEUDONYM_KEY,
    World,
    build_world,
    counts,
    days,
    if_match,
    rows_containing,
)

pytestmark = pytest.mark.django_db
FILE_NUMBER = "DOSSIER-7f3a9c-CANARY"


@pytest.fixture(autouse=True)
def _setup(settings: Settings, media_root: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


def register(client: APIClient, **fields: Any) -> Any:
    body = {
        "local_identifier": FILE_NUMBER,
        "kind": "person",
        "category": "sheltered",
        **fields,
    }
    return client.post("/api/v1/occupants/", body, format="json")


# --- The file number and the pseudonym ------------------------------------------------
def test_the_file_number_is_never_stored_anywhere(world: World) -> None:
    response = register(world.client("operator_a"))
    assert response.status_code == 201, response.content
    assert rows_containing(FILE_NUMBER) == []
    pseudonym = pseudonym_for(
        operator_id=world.operator_a.pk, local_identifier=FILE_NUMBER
    )
    assert "occupancy_occupant" in rows_containing(pseudonym)


def test_the_scan_finds_a_stored_string(world: World) -> None:
    """The check above would see the number if it were stored."""
    Occupant.objects.filter(pk=world.occupant.pk).update(pseudonym=FILE_NUMBER)
    assert "occupancy_occupant" in rows_containing(FILE_NUMBER)


def test_no_answer_to_the_operator_carries_the_pseudonym(world: World) -> None:
    client = world.client("operator_a")
    created = register(client)
    pseudonym = pseudonym_for(
        operator_id=world.operator_a.pk, local_identifier=FILE_NUMBER
    )
    occupant_id = created.json()["id"]
    answers = [
        created,
        register(client),
        client.get("/api/v1/occupants/"),
        client.get(f"/api/v1/occupants/{occupant_id}/"),
        client.post(
            "/api/v1/occupants/lookup/",
            {"local_identifier": FILE_NUMBER},
            format="json",
        ),
        client.get("/api/v1/stays/"),
    ]
    for answer in answers:
        text = answer.content.decode()
        assert FILE_NUMBER not in text
        # Neither whole nor cut: 8 hex characters already single a resident out.
        assert pseudonym[:8] not in text
    assert "pseudonym" not in created.json()


def test_registering_the_same_file_number_twice_returns_the_first_row(
    world: World,
) -> None:
    client = world.client("operator_a")
    first = register(client, age_band="25_34")
    second = register(client, age_band="65_plus")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()


def test_two_operators_file_numbers_never_meet(world: World) -> None:
    """The same number at two operators is two residents, and a lookup finds only
    one's own."""
    a = register(world.client("operator_a"))
    b = register(world.client("operator_b"))
    assert a.json()["id"] != b.json()["id"]
    found = world.client("operator_b").post(
        "/api/v1/occupants/lookup/",
        {"local_identifier": FILE_NUMBER},
        format="json",
    )
    assert found.json()["id"] == b.json()["id"]


def test_an_unknown_file_number_is_404(world: World) -> None:
    response = world.client("operator_a").post(
        "/api/v1/occupants/lookup/",
        {"local_identifier": "nobody"},
        format="json",
    )
    assert response.status_code == 404


# --- Mass assignment ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("operator", "operator_b"),
        ("pseudonym", "f" * 64),
        ("local_identifier", "other"),
        ("kind", "household"),
        ("hosted_organization", "operator_b"),
        ("anonymised_at", "2026-01-01T00:00:00Z"),
        ("id", 1),
    ],
)
def test_an_occupant_update_refuses_privileged_fields(
    world: World, field: str, value: Any
) -> None:
    if value == "operator_b":
        value = world.operator_b.pk
    before = dict(Occupant.objects.filter(pk=world.occupant.pk).values().get())
    response = world.client("operator_a").patch(
        f"/api/v1/occupants/{world.occupant.pk}/",
        {field: value},
        format="json",
        **if_match(world.occupant),
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}
    assert Occupant.objects.filter(pk=world.occupant.pk).values().get() == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/stays/", "status"),
        ("/api/v1/stays/", "exit_destination"),
        ("/api/v1/residence-contracts/", "status"),
        ("/api/v1/agreements/", "status"),
    ],
)
def test_a_create_refuses_a_status_instead_of_ignoring_it(
    world: World, url: str, field: str
) -> None:
    principal = "agent_13" if "agreements" in url else "operator_a"
    before = counts()
    response = world.client(principal).post(url, {field: "x"}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert counts() == before


def test_an_agreement_update_points_to_the_transition_for_the_status(
    world: World,
) -> None:
    response = world.client("agent_13").patch(
        f"/api/v1/agreements/{world.draft.pk}/",
        {"status": "approved"},
        format="json",
        **if_match(world.draft),
    )
    assert response.status_code == 400
    assert "transition" in response.json()["errors"]["status"][0]


# --- Roles ----------------------------------------------------------------------------
def test_an_operator_viewer_reads_residents_but_changes_nothing(world: World) -> None:
    viewer = UserFactory.create()
    Membership.objects.create(
        user=viewer, organization=world.operator_a, role=Role.VIEWER
    )
    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get(f"/api/v1/occupants/{world.occupant.pk}/").status_code == 200
    patched = client.patch(
        f"/api/v1/occupants/{world.occupant.pk}/",
        {"age_band": "50_64"},
        format="json",
        **if_match(world.occupant),
    )
    assert patched.status_code == 403
    assert register(client).status_code == 403


def resident_urls(world: World) -> list[str]:
    return [
        "/api/v1/occupants/",
        f"/api/v1/occupants/{world.occupant.pk}/",
        "/api/v1/stays/",
        f"/api/v1/stays/{world.stay.pk}/",
        "/api/v1/residence-contracts/",
        f"/api/v1/residence-contracts/{world.contract.pk}/",
    ]


def test_options_on_residents_follows_the_read_permissions(world: World) -> None:
    """DRF names OPTIONS "metadata", which no read list held: a viewer read the
    occupants (200) and was refused OPTIONS on them (403). Those a read refuses
    are still refused."""
    viewer = UserFactory.create()
    Membership.objects.create(
        user=viewer, organization=world.operator_a, role=Role.VIEWER
    )
    client = APIClient()
    client.force_authenticate(viewer)
    for url in resident_urls(world):
        assert client.get(url).status_code == 200, url
        response = client.options(url)
        assert response.status_code == 200, url
        assert "OPTIONS" in {m.strip() for m in response["Allow"].split(",")}, url
        assert response.content == b"", url
    for principal in ("agent_13", "funder"):
        for url in resident_urls(world):
            assert world.client(principal).options(url).status_code == 403, url
    assert APIClient().options("/api/v1/occupants/").status_code == 401


def test_options_on_residents_logs_no_read(world: World) -> None:
    """OPTIONS reads no resident row: on an occupant's URL it was logged as a
    read of that occupant, even of another operator's (api:occupant.metadata)."""
    logged = set(ResidentAccess.objects.values_list("pk", flat=True))
    client = world.client("operator_a")
    for url in [*resident_urls(world), f"/api/v1/occupants/{world.occupant_b.pk}/"]:
        assert client.options(url).status_code == 200, url
    assert not ResidentAccess.objects.exclude(pk__in=logged).exists()
    assert client.get(f"/api/v1/occupants/{world.occupant.pk}/").status_code == 200
    assert ResidentAccess.objects.exclude(pk__in=logged).count() == 1


def test_a_state_viewer_reads_agreements_but_drafts_none(world: World) -> None:
    viewer = UserFactory.create()
    Membership.objects.create(
        user=viewer, organization=world.services["13"], role=Role.VIEWER
    )
    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get(f"/api/v1/agreements/{world.active.pk}/").status_code == 200
    response = client.patch(
        f"/api/v1/agreements/{world.draft.pk}/",
        {"max_headcount": 3},
        format="json",
        **if_match(world.draft),
    )
    assert response.status_code == 403
    assert client.post("/api/v1/agreements/", {}, format="json").status_code == 403


# --- Documents ------------------------------------------------------------------------
def test_a_document_that_is_not_a_pdf_is_refused_on_file(world: World) -> None:
    response = world.client("operator_a").post(
        f"/api/v1/agreements/{world.active.pk}/documents/",
        {
            "kind": "annual_report",
            "title": "Rapport",
            "file": SimpleUploadedFile("rapport.pdf", b"<html>hello</html>"),
        },
        format="multipart",
        **if_match(world.active),
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"file"}


def test_a_document_downloads_as_an_attachment_with_a_neutral_name(
    world: World,
) -> None:
    response = world.client("operator_a").get(
        f"/api/v1/agreements/{world.active.pk}/documents/{world.document.pk}/"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="document-{world.document.pk}.pdf"'
    )
    assert response.getvalue() == PDF


def test_another_agreements_document_is_404(world: World) -> None:
    response = world.client("operator_b").get(
        f"/api/v1/agreements/{world.active_b.pk}/documents/{world.document.pk}/"
    )
    assert response.status_code == 404


# --- Indicators -----------------------------------------------------------------------
def period(**extra: str) -> dict[str, str]:
    return {
        "period_start": days(-30).isoformat(),
        "period_end": days(1).isoformat(),
        **extra,
    }


def test_a_state_agent_gets_the_territorys_figures_with_small_cells_withheld(
    world: World,
) -> None:
    response = world.client("agent_13").get(
        "/api/v1/indicators/", period(), HTTP_ACCEPT_LANGUAGE="en"
    )
    report = response.json()
    assert report["exact"] is False
    (row,) = report["rows"]
    assert row["households_housed"] == {"value": None, "suppressed": True}
    assert row["nights_provided"] == {"value": None, "suppressed": True}
    assert row["place_nights_available"] > 0
    # An agreement under 5 households is not counted in the people, and the
    # report says so (an agreement with neither places nor stays in the period
    # is no cell, and not counted as left out).
    assert report["agreements_left_out"] == 1
    assert "1 agreement with fewer than 5 households" in report["note"]


def test_an_operator_gets_its_own_exact_figures(world: World) -> None:
    report = world.client("operator_a").get("/api/v1/indicators/", period()).json()
    assert report["exact"] is True
    assert report["rows"][0]["households_housed"] == {"value": 1, "suppressed": False}


def test_a_funder_gets_an_empty_report_until_finance_says_what_it_funds(
    world: World,
) -> None:
    report = world.client("funder").get("/api/v1/indicators/", period()).json()
    assert report["rows"] == []
    assert report["exact"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (
            {"period_start": days(0).isoformat(), "period_end": days(0).isoformat()},
            "period_end",
        ),
        (
            {"period_start": "2000-01-01", "period_end": "2030-01-01"},
            "period_end",
        ),
        (period(group_by="person"), "group_by"),
        (period(occupant="1"), "occupant"),
        ({"period_start": days(0).isoformat()}, "period_end"),
    ],
)
def test_an_indicator_query_out_of_bounds_is_a_400_on_its_parameter(
    world: World, query: dict[str, str], field: str
) -> None:
    response = world.client("operator_a").get("/api/v1/indicators/", query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_user_of_no_organization_reads_no_indicator(world: World) -> None:
    client = APIClient()
    client.force_authenticate(UserFactory.create())
    response = client.get("/api/v1/indicators/", period())
    assert response.status_code == 403


# --- Lists ----------------------------------------------------------------------------
LISTS = [
    ("agent_13", "/api/v1/agreements/"),
    ("agent_13", "/api/v1/spaces/"),
    ("agent_13", "/api/v1/safety-inspections/"),
    ("operator_a", "/api/v1/occupants/"),
    ("operator_a", "/api/v1/stays/"),
    ("operator_a", "/api/v1/residence-contracts/"),
]


def queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def grow(world: World, n: int = 4) -> None:
    """``n`` more rows of every kind, all in the principals' scope."""
    for number in range(n):
        space = SpaceFactory.create(building=world.building_13)
        AgreementFactory.create(
            building=world.building_13,
            grantor=world.services["13"],
            operator=world.operator_a,
            spaces=[space],
        )
        SafetyInspectionFactory.create(building=world.building_13, date=days(-number))
        occupant = OccupantFactory.create(operator=world.operator_a)
        Stay.objects.create(
            occupant=occupant,
            space=world.room_2,
            agreement=world.active,
            period=world.stay.period,
            structure_type="insertion",
        )
        ResidenceContractFactory.create(agreement=world.active, occupant=occupant)


@pytest.mark.parametrize(("principal", "url"), LISTS)
def test_a_list_costs_the_same_queries_for_one_row_or_many(
    world: World, principal: str, url: str
) -> None:
    client = world.client(principal)
    client.get(url)  # the caller's scope is computed once, then cached on the user
    few = queries(client, url)
    grow(world)
    assert queries(client, url) == few
    assert few <= 6, f"{url}: {few} queries"


def test_no_resident_endpoint_searches_or_orders_by_a_hidden_field() -> None:
    """Search reaches no resident field (reliability.md B6): resident lists have
    no search at all, and no list orders by ``__all__``."""
    resident_views = (
        views.OccupantViewSet,
        views.StayViewSet,
        views.ResidenceContractViewSet,
    )
    for view in resident_views:
        assert not getattr(view, "search_fields", None), view
    every_view: tuple[type[Any], ...] = (
        *resident_views,
        views.AgreementViewSet,
        views.SpaceViewSet,
        views.SafetyInspectionViewSet,
    )
    for view in every_view:
        assert getattr(view, "ordering_fields", None) not in (None, "__all__"), view
        for name in view.ordering_fields:
            assert "pseudonym" not in name
        meta = view.filterset_class._meta
        assert meta.fields != "__all__"
    assert views.AgreementViewSet.search_fields == (
        "reference",
        "building__designation",
    )
