"""The State agents' pages: building list, building page, lifecycle, imports."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from pytest_django import DjangoAssertNumQueries

from buildings.geojson import AGENT_PROPERTIES
from buildings.models import Building, BuildingStatus, BuildingStatusChange, Friche
from buildings.services import VACANCY_DATE_REQUIRED, transition_refused
from organizations.models import Membership, Organization, OrganizationKind, Role
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db
S = BuildingStatus
LIST = reverse("buildings:list")
IMPORT = reverse("buildings:import")


def login(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def detail(building: Building) -> str:
    return reverse("buildings:detail", args=[building.pk])


def transition(building: Building) -> str:
    return reverse("buildings:transition", args=[building.pk])


def paris_building(**fields: object) -> Building:
    paris = CommuneFactory.create(
        code="75056",
        name="Paris",
        department=DepartmentFactory.create(
            code="75", name="Paris", region=RegionFactory.create(code="11", name="IDF")
        ),
    )
    return BuildingFactory.create(
        site=SiteFactory.create(commune=paris), designation="Hôtel de Paris", **fields
    )


@pytest.fixture
def editor(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.STATE_SERVICE, departments=["13"])


@pytest.fixture
def viewer(make_member: Callable[..., User]) -> User:
    return make_member(
        OrganizationKind.STATE_SERVICE, departments=["13"], role=Role.VIEWER
    )


@pytest.fixture
def national_editor(make_member: Callable[..., User]) -> User:
    """An editor of the DIE, whose territory is all of France."""
    return make_member(OrganizationKind.STATE_SERVICE, departments=[])


@pytest.fixture
def agent_75(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.STATE_SERVICE, departments=["75"])


# --- Who may open the pages
def test_anonymous_visitors_are_sent_to_the_login_page() -> None:
    building = BuildingFactory.create()
    for url in (LIST, detail(building), IMPORT):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        assert "next=" in response["Location"]


@pytest.mark.parametrize("kind", [OrganizationKind.OPERATOR, OrganizationKind.FUNDER])
def test_operators_and_funders_get_404_on_every_page(
    make_member: Callable[..., User], kind: str
) -> None:
    building = BuildingFactory.create(
        available=True
    )  # public, and still not their page
    client = login(make_member(kind))

    for url in (LIST, detail(building), IMPORT, reverse("buildings:import-report")):
        assert client.get(url).status_code == 404
    assert client.post(transition(building), {"to": S.ASSESSED}).status_code == 404
    building.refresh_from_db()
    assert building.status == S.AVAILABLE


def test_an_agent_gets_404_for_a_building_outside_their_territory(
    agent_75: User,
) -> None:
    building = BuildingFactory.create(vacant=True)  # Marseille, 13
    client = login(agent_75)

    assert client.get(detail(building)).status_code == 404
    assert client.post(transition(building), {"to": S.ASSESSED}).status_code == 404
    building.refresh_from_db()
    assert building.status == S.VACANT


def test_the_navigation_shows_buildings_to_state_agents_only(
    editor: User, make_member: Callable[..., User]
) -> None:
    agent_page = login(editor).get(reverse("persona-space", args=["agent"]))
    operator_page = login(make_member(OrganizationKind.OPERATOR)).get(
        reverse("persona-space", args=["operateur"])
    )

    assert f'href="{LIST}"' in agent_page.content.decode()
    assert f'href="{LIST}"' not in operator_page.content.decode()


# --- Building list
def test_the_list_shows_the_territory_with_its_count(editor: User) -> None:
    BuildingFactory.create(designation="Caserne du Muy", vacant=True)
    BuildingFactory.create(designation="Ancienne DDE", confidential=True)
    paris_building()

    response = login(editor).get(LIST)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Caserne du Muy" in html
    assert "Hôtel de Paris" not in html
    assert response.context["page"].paginator.count == 2
    assert re.search(r'data-testid="building-count">2\b', html)


def test_filters_are_read_from_the_query_string(editor: User) -> None:
    BuildingFactory.create(designation="Caserne du Muy", vacant=True)
    BuildingFactory.create(designation="Caserne Busserade")  # in use
    BuildingFactory.create(designation="Tri postal", vacant=True)

    response = login(editor).get(LIST, {"status": S.VACANT, "q": "caserne"})

    rows = [building.designation for building, _ in response.context["rows"]]
    assert rows == ["Caserne du Muy"]
    html = response.content.decode()
    # The form keeps what was asked.
    assert 'value="caserne"' in html
    assert re.search(r'value="vacant"[^>]*checked', html)


def test_an_invalid_filter_shows_its_error_and_no_rows(editor: User) -> None:
    BuildingFactory.create()

    bad_number = login(editor).get(LIST, {"surface_min": "lots"})
    no_radius = login(editor).get(LIST, {"near": "5.38,43.30"})

    assert bad_number.status_code == 200
    assert bad_number.context["form"].errors["surface_min"]
    assert bad_number.context["rows"] == []
    assert no_radius.context["form"].errors["radius"]
    assert no_radius.context["rows"] == []


def test_ordering_follows_an_allow_list(editor: User) -> None:
    BuildingFactory.create(designation="Small", surface_m2=Decimal("100"))
    BuildingFactory.create(designation="Large", surface_m2=Decimal("9000"))
    BuildingFactory.create(designation="Unknown", surface_m2=None)
    client = login(editor)

    def names(ordering: str) -> list[str]:
        response = client.get(LIST, {"ordering": ordering})
        return [building.designation for building, _ in response.context["rows"]]

    assert names("surface") == ["Small", "Large", "Unknown"]
    assert names("-surface") == ["Large", "Small", "Unknown"]
    # A field outside the allow-list sorts like the default, by designation.
    assert names("guarding_cost_monthly") == ["Large", "Small", "Unknown"]
    assert names("-is_confidential") == names("designation")


def test_export_links_carry_the_current_filters(editor: User) -> None:
    response = login(editor).get(
        LIST, {"status": S.VACANT, "q": "caserne", "page": "1", "ordering": "-surface"}
    )

    exports = dict(response.context["exports"])
    assert set(exports) == {"CSV", "XLSX", "GeoJSON", "GeoPackage"}
    for href in exports.values():
        path, _, query = href.partition("?")
        assert path.startswith("/api/v1/buildings/export.")
        assert query == "status=vacant&q=caserne"


def test_the_export_links_download_the_filtered_selection(editor: User) -> None:
    BuildingFactory.create(designation="Caserne du Muy", vacant=True)
    BuildingFactory.create(designation="Tri postal", vacant=True)
    paris_building(status=S.VACANT)
    client = login(editor)
    exports = dict(client.get(LIST, {"q": "caserne"}).context["exports"])

    response = client.get(exports["CSV"])

    content = response.getvalue().decode()
    assert response.status_code == 200
    assert "Caserne du Muy" in content
    assert "Tri postal" not in content
    assert "Hôtel de Paris" not in content


def test_the_list_is_paginated(editor: User) -> None:
    BuildingFactory.create_batch(55)

    first = login(editor).get(LIST)
    second = login(editor).get(LIST, {"page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 5
    assert "page=2" in first.content.decode()


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """The SQL of every statement run inside the block, as sent."""
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def test_beyond_the_count_cap_the_list_says_more_and_stops_at_the_cap(
    editor: User, settings: Any
) -> None:
    """A national selection is not counted whole nor paged to its end: the list
    counts up to API_COUNT_CAP rows, says there are more, and pages through the
    first API_COUNT_CAP in the chosen order."""
    settings.API_COUNT_CAP = 60
    BuildingFactory.create_batch(61)
    client = login(editor)

    with recorded_statements() as statements:
        first = client.get(LIST)
    last = client.get(LIST, {"page": 2})
    beyond = client.get(LIST, {"page": 3})

    html = first.content.decode()
    assert re.search(r'data-testid="building-count">Plus de 60 bâtiments<', html)
    assert "les 60 premiers" in html
    assert first.context["page"].paginator.num_pages == 2
    assert len(last.context["rows"]) == 10
    assert beyond.context["page"].number == 2  # get_page: past the end, the last
    listed = [row[0].pk for p in (first, last) for row in p.context["rows"]]
    ordered = Building.objects.order_by("designation", "pk").values_list(
        "pk", flat=True
    )
    assert listed == list(ordered[:60])
    [count] = [sql for sql in statements if "COUNT(" in sql]
    assert "LIMIT 61" in count
    assert "ORDER BY" not in count


def test_at_the_cap_the_count_is_exact(editor: User, settings: Any) -> None:
    settings.API_COUNT_CAP = 60
    BuildingFactory.create_batch(60)
    html = login(editor).get(LIST).content.decode()
    assert re.search(r'data-testid="building-count">60 bâtiments<', html)
    assert "building-count-note" not in html


def test_the_list_reads_only_the_columns_it_shows(editor: User) -> None:
    """Not the footprints, parcels and JSON of the rows, nor the boundaries of
    their commune and département (kilobytes each, 50 times a page)."""
    BuildingFactory.create()
    client = login(editor)
    with recorded_statements() as statements:
        assert client.get(LIST).status_code == 200
    [rows] = [sql for sql in statements if "ORDER BY" in sql and "designation" in sql]
    for column in ("footprint", "geometry", "parcels", "feature", "point"):
        assert f'."{column}"' not in rows, column


def test_the_list_costs_the_same_queries_for_5_or_50_rows(
    editor: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = login(editor)
    BuildingFactory.create_batch(5)
    client.get(LIST)  # warm the session
    with CaptureQueriesContext(connection) as five:
        assert client.get(LIST).status_code == 200
    BuildingFactory.create_batch(45)

    with django_assert_num_queries(len(five)):
        response = client.get(LIST)

    assert len(response.context["rows"]) == 50


# --- Building page
def test_the_building_page_shows_grouped_facts_and_the_suitability_breakdown(
    editor: User,
) -> None:
    building = BuildingFactory.create(
        vacant=True, erp=None, energy_kwh_ef=None, guarding_cost_monthly=Decimal("3800")
    )

    response = login(editor).get(detail(building))

    html = response.content.decode()
    assert response.status_code == 200
    titles = [str(group.title) for group in response.context["fact_groups"]]
    assert len(titles) == 6
    assert "Ancienne Direction des routes" in html
    # Three uses, six criteria each, with value, weight and contribution.
    uses = response.context["uses"]
    assert [use.use for use in uses] == ["shelter", "workspace", "mixed"]
    assert all(len(use.criteria) == 6 for use in uses)
    # Unknown here: ERP (safety), energy, accessibility.
    unknown = {str(u.label) for u in response.context["unknown_criteria"]}
    assert len(unknown) == 3
    assert response.context["completeness"] == 60  # 100 − 20 − 10 − 10
    assert 'data-testid="unknown-criteria"' in html


def test_the_building_page_says_when_a_building_is_not_located(editor: User) -> None:
    unlocated = BuildingFactory.create(unlocated=True)
    misplaced = BuildingFactory.create(outside_declared_commune=True)
    client = login(editor)

    assert 'data-testid="not-located"' in client.get(detail(unlocated)).content.decode()
    misplaced_html = client.get(detail(misplaced)).content.decode()
    assert 'data-testid="outside-commune"' in misplaced_html
    assert 'data-testid="not-located"' not in misplaced_html


def test_the_building_page_lists_nearby_sites_with_distances_in_metres(
    editor: User,
) -> None:
    building = BuildingFactory.create(point=Point(5.38, 43.0, srid=4326))
    Friche.objects.create(
        site_id="13-F-1",
        site_nom="Friche Bellevue",
        point=Point(5.38, 43.005, srid=4326),
    )
    BuildingFactory.create(designation="Voisin", point=Point(5.38, 42.995, srid=4326))

    html = login(editor).get(detail(building)).content.decode()

    # 0.005° of latitude at 43° N ≈ 555 m on the spheroid.
    assert re.search(r"Friche Bellevue[^<]*— 55[56]\s*m", html)
    assert re.search(r"Voisin</a>[^<]*— 55[56]\s*m", html)


def test_the_building_page_shows_the_status_history(editor: User) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(editor)
    client.post(transition(building), {"to": S.ASSESSED, "reason": "site visit"})

    html = client.get(detail(building)).content.decode()

    history = html.split('data-testid="status-history"')[1]
    assert editor.username in history
    assert "site visit" in history
    with translation.override("fr"):
        assert str(S.VACANT.label) in history
        assert str(S.ASSESSED.label) in history


def test_the_building_page_has_a_query_budget(
    editor: User, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(editor)
    for reason in ("one", "two"):
        target = S.ASSESSED if reason == "one" else S.VACANT
        client.post(transition(building), {"to": target, "reason": reason})

    # Session, user, scope, write right, building, history, friches, neighbours.
    with django_assert_max_num_queries(10):
        assert client.get(detail(building)).status_code == 200


# --- Lifecycle through the page
def test_an_editor_sees_one_form_per_allowed_transition(editor: User) -> None:
    building = BuildingFactory.create(vacant=True)

    response = login(editor).get(detail(building))

    targets = [status for status, _, _ in response.context["transitions"]]
    assert targets == sorted(
        {S.ASSESSED, S.ILLEGALLY_OCCUPIED, S.UNSAFE, S.DISPOSED, S.REASSIGNED}
        | {S.DEMOLISHED}
    )
    assert response.content.decode().count('name="csrfmiddlewaretoken"') >= len(targets)


def test_an_editor_moves_a_building_through_the_page(editor: User) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(editor)

    response = client.post(
        transition(building), {"to": S.ASSESSED, "reason": "diagnostic done"}
    )

    assert response.status_code == 302
    assert response["Location"] == detail(building)
    building.refresh_from_db()
    assert building.status == S.ASSESSED
    change = BuildingStatusChange.objects.get(building=building)
    assert (change.changed_by, change.reason) == (editor, "diagnostic done")
    followed = client.get(response["Location"])
    assert "fr-alert--success" in followed.content.decode()


def test_a_guard_refusal_shows_as_an_error_alert(editor: User) -> None:
    building = BuildingFactory.create(vacancy_since=None)  # in use, vacancy undated

    response = login(editor).post(transition(building), {"to": S.VACANT})

    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="transition-error"' in html
    assert "fr-alert--error" in html
    error = response.context["error"]
    assert (error.message, error.field) == (VACANCY_DATE_REQUIRED, "vacancy_since")
    assert error.message in html
    assert response.context["error_field"] in html
    building.refresh_from_db()
    assert building.status == S.IN_USE


@pytest.mark.parametrize(
    ("trait", "target"),
    [("vacant", S.AVAILABLE), ("available", S.UNDER_AGREEMENT)],
)
def test_an_invalid_transition_shows_as_an_error_alert(
    editor: User, trait: str, target: str
) -> None:
    building = BuildingFactory.create(**{trait: True})
    before = building.status

    response = login(editor).post(transition(building), {"to": target})

    assert response.status_code == 409
    assert 'data-testid="transition-error"' in response.content.decode()
    building.refresh_from_db()
    assert building.status == before
    assert not BuildingStatusChange.objects.exists()


def test_a_refused_transition_reads_in_the_page_language_with_status_labels(
    editor: User,
) -> None:
    """The message was English with the status codes on the French page."""
    building = BuildingFactory.create(available=True)
    client = login(editor)
    client.cookies["django_language"] = "fr"

    response = client.post(
        transition(building), {"to": S.OCCUPIED}, HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert response.status_code == 409
    alert = response.content.decode().split('data-testid="transition-error"', 1)[1]
    alert = alert.split("</div>", 1)[0]
    with translation.override("fr"):
        labels = (str(S.AVAILABLE.label), str(S.OCCUPIED.label))
    assert f"Un bâtiment ne peut pas passer de « {labels[0]} » à « {labels[1]} »" in (
        html.unescape(alert)
    )


@pytest.mark.parametrize("posted", [{"to": "bogus"}, {}])
def test_a_malformed_transition_says_why(editor: User, posted: dict[str, str]) -> None:
    """A bad hidden status gave a 400 page with no message at all."""
    building = BuildingFactory.create(vacant=True)

    response = login(editor).post(transition(building), posted)

    assert response.status_code == 400
    assert 'data-testid="transition-error"' in response.content.decode()
    building.refresh_from_db()
    assert building.status == S.VACANT


def test_a_move_gone_meanwhile_says_so_even_with_a_field_wrong(editor: User) -> None:
    """Someone reported the vacant building squatted while this editor wrote a
    reason too long for an assessment: the 400 page said nothing (the form with
    the error is no longer drawn); valid input got the 409's message, and so does
    this."""
    building = BuildingFactory.create(vacant=True)
    Building.objects.filter(pk=building.pk).update(status=S.ILLEGALLY_OCCUPIED)

    response = login(editor).post(
        transition(building), {"to": S.ASSESSED, "reason": "x" * 2001}
    )

    assert response.status_code == 400
    building.refresh_from_db()
    expected = transition_refused(building, S.ASSESSED)
    assert expected is not None
    assert response.context["error"].message == expected.message
    alert = response.content.decode().split('data-testid="transition-error"', 1)[1]
    assert html.escape(expected.message) in alert.split("</div>", 1)[0]
    assert building.status == S.ILLEGALLY_OCCUPIED


def test_the_language_switch_of_a_refused_move_returns_to_the_building(
    editor: User,
) -> None:
    """…/statut/ takes POST only: switching the language there showed an empty
    405 page."""
    building = BuildingFactory.create(vacant=True)

    refused = login(editor).post(transition(building), {"to": S.OCCUPIED})

    assert refused.status_code == 409
    assert refused.context["language_next"] == detail(building)
    assert f'name="next" type="hidden" value="{detail(building)}"' in (
        refused.content.decode()
    )


def test_a_viewer_reads_the_page_without_transition_forms_and_cannot_post(
    viewer: User,
) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(viewer)

    page = client.get(detail(building))
    post = client.post(transition(building), {"to": S.ASSESSED})

    assert page.status_code == 200
    assert page.context["transitions"] == []
    assert 'data-testid="transitions"' not in page.content.decode()
    assert post.status_code == 403
    building.refresh_from_db()
    assert building.status == S.VACANT


def test_an_editor_of_another_service_only_reads_this_territory(
    make_member: Callable[..., User],
) -> None:
    """Editor for 75, viewer for 13: may read 13, not move its buildings."""
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["75"])
    service_13 = Organization.objects.create(
        name="DDFiP 13",
        kind=OrganizationKind.STATE_SERVICE,
        territory_departments=["13"],
    )
    Membership.objects.create(user=user, organization=service_13, role=Role.VIEWER)
    building = BuildingFactory.create(vacant=True)

    client = login(user)
    assert client.get(detail(building)).status_code == 200
    assert client.post(transition(building), {"to": S.ASSESSED}).status_code == 403


def test_transitions_need_the_csrf_token(editor: User) -> None:
    building = BuildingFactory.create(vacant=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)

    response = client.post(transition(building), {"to": S.ASSESSED})

    assert response.status_code == 403
    building.refresh_from_db()
    assert building.status == S.VACANT


def test_the_transition_url_refuses_get(editor: User) -> None:
    building = BuildingFactory.create(vacant=True)

    assert login(editor).get(transition(building)).status_code == 405


# --- No outside host
ATTRIBUTE_URL = re.compile(r'(?:src|href|action)="((?:https?:)?//[^"]+)"')


def external_references(html: str) -> set[str]:
    hosts = {urlsplit(url).hostname for url in ATTRIBUTE_URL.findall(html)}
    return hosts - {urlsplit(settings.BASEMAP_URL).hostname}


def test_the_pages_reference_no_outside_host(national_editor: User) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(national_editor)

    for url in (LIST, detail(building), IMPORT):
        response = client.get(url)
        assert response.status_code == 200
        assert external_references(response.content.decode()) == set(), url


# --- Imports
DIE_HEADER = (
    "code_chorus;id;designation_site;designation_batiment_terrain;type;fonction;"
    "adresse;ville;dept;code_postal;code_insee;libelle_nouvelle_region;pays;latitude;"
    "longitude;ministere;libelle_gestionnaire;type_gestionnaire;libelle_proprietaire;"
    "type_proprietaire;surface_m2;consommation_kwh_ef;type_de_chauffage;etat_de_sante;"
    "annee_de_construction;tri_des_dechets;erp;date_de_reference"
)
DIE_ROWS = [
    "MARS/100001/200001;IG00100000001;CITE ADMINISTRATIVE;BATIMENT A;Bureau;Bureaux;"
    "16 RUE BERNARD DU BOIS;Marseille;13;13001;13055;Provence-Alpes-Côte d'Azur;"
    "France;43.3023;5.3838;Intérieur;Préfecture;Etat;"
    "ETAT DOMAINE PUBLIC  PARTENAIRE GENERIQUE;Etat;2400.0;180000;Gaz;Satisfaisant;"
    "1965;Oui;Oui;2021-12-31",
    "MARS/100001/200002;IG00100000002;CITE ADMINISTRATIVE;BATIMENT B;Bureau;Archives;"
    "16 RUE BERNARD DU BOIS;Marseille;13;13001;13055;Provence-Alpes-Côte d'Azur;"
    "France;;;Intérieur;Préfecture;Etat;ETAT DOMAINE PRIVE  PARTENAIRE GENERIQUE;Etat;"
    "0.0;;;Peu satisfaisant;1970;Non;Non;2021-12-31",
]


def die_csv(*rows: str) -> bytes:
    return "\n".join([DIE_HEADER, *rows, ""]).encode()


def upload(
    name: str, content: bytes, *, profile: str = "die", on_error: str = "abort"
) -> dict[str, object]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {
        "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        "profile": profile,
        "on_error": on_error,
        "vintage": "2023-12-31",
    }


@pytest.fixture
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path
    return tmp_path


@pytest.fixture
def marseille() -> None:
    CommuneFactory.create()


def test_the_import_form_refuses_a_file_by_its_extension_or_content(
    national_editor: User, upload_dir: Path
) -> None:
    client = login(national_editor)

    exe = client.post(IMPORT, upload("tool.exe", b"MZ\x90\x00"))
    fake_gpkg = client.post(
        IMPORT, upload("layer.gpkg", b"not sqlite", profile="generic")
    )
    wrong_profile = client.post(IMPORT, upload("layer.geojson", b"{}", profile="die"))

    assert exe.status_code == 400
    assert "file" in exe.context["form"].errors
    assert "file" in fake_gpkg.context["form"].errors
    assert "file" in wrong_profile.context["form"].errors
    assert list(upload_dir.iterdir()) == []


def test_an_other_file_without_its_mapping_is_an_error_on_the_mapping_field(
    national_editor: User, upload_dir: Path
) -> None:
    """It was the importer's refusal, naming the command line's --mapping."""
    response = login(national_editor).post(
        IMPORT, upload("batiments.csv", b"ref;nom\nA;B\n", profile="generic")
    )

    assert response.status_code == 400
    assert "mapping" in response.context["form"].errors
    assert "--mapping" not in response.content.decode()
    assert list(upload_dir.iterdir()) == []


def test_only_national_editors_may_import(viewer: User, editor: User) -> None:
    """import_file writes whatever départements a file holds: a regional editor
    would rewrite other territories."""
    assert login(viewer).get(IMPORT).status_code == 403
    assert login(editor).get(IMPORT).status_code == 403
    assert 'href="/batiments/import/"' not in login(editor).get(LIST).content.decode()


def test_a_refusal_is_a_page_of_the_site_in_its_language(editor: User) -> None:
    """It was Django's bare "403 Forbidden", in English on the French site."""
    html = login(editor).get(IMPORT).content.decode()
    assert "<h1>Accès refusé</h1>" in html
    assert 'data-testid="current-user"' in html
    assert "Forbidden" not in html


def test_a_confirmation_arriving_during_the_import_runs_nothing(
    national_editor: User,
    upload_dir: Path,
    marseille: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A double click: the second confirmation came while the first was importing
    (the session still said "previewed", the file was still there), ran the
    import again and showed PostgreSQL's unique-key error."""
    from buildings import import_views

    client = login(national_editor)
    client.post(IMPORT, upload("inventaire.csv", die_csv(*DIE_ROWS)))
    run_import = import_views._run_import
    during: list[Any] = []

    def slow_import(*args: Any, **kwargs: Any) -> Any:
        if not kwargs["dry_run"] and not during:
            during.append(client.post(IMPORT, {"action": "confirm"}))
        return run_import(*args, **kwargs)

    monkeypatch.setattr(import_views, "_run_import", slow_import)

    confirmed = client.post(IMPORT, {"action": "confirm"})

    assert confirmed.status_code == 200
    assert confirmed.context["imported"]
    (second,) = during
    assert second.status_code == 302
    assert Building.objects.count() == 2


def test_confirm_without_a_preview_imports_nothing(national_editor: User) -> None:
    response = login(national_editor).post(IMPORT, {"action": "confirm"})

    assert response.status_code == 302
    assert response["Location"] == IMPORT
    assert not Building.objects.exists()


def test_an_import_is_previewed_then_confirmed_on_the_same_upload(
    national_editor: User, upload_dir: Path, marseille: None
) -> None:
    client = login(national_editor)

    preview = client.post(IMPORT, upload("inventaire.csv", die_csv(*DIE_ROWS)))

    assert preview.status_code == 200, preview.content.decode()[:2000]
    report = preview.context["report"]
    assert (report.rows_read, report.created, report.rejected) == (2, 2, 0)
    assert preview.context["can_confirm"]
    assert not Building.objects.exists()  # a dry run writes nothing
    csv_report = client.get(reverse("buildings:import-report"))
    assert csv_report.status_code == 200
    assert csv_report["Content-Disposition"].startswith("attachment")
    assert b"level,file,row,column,reason" in csv_report.getvalue()

    confirmed = client.post(IMPORT, {"action": "confirm"})

    assert confirmed.status_code == 200
    assert confirmed.context["imported"]
    assert confirmed.context["report"].created == 2
    assert set(Building.objects.values_list("inventory_id", flat=True)) == {
        "IG00100000001",
        "IG00100000002",
    }
    # The upload is gone once imported; a second confirm has nothing to run.
    again = client.post(IMPORT, {"action": "confirm"})
    assert again.status_code == 302
    assert Building.objects.count() == 2
    # The same file again: every row is unchanged, nothing is offered.
    rerun = client.post(IMPORT, upload("inventaire.csv", die_csv(*DIE_ROWS)))
    assert rerun.context["report"].unchanged == 2
    assert not rerun.context["can_confirm"]
    assert 'data-testid="import-up-to-date"' in rerun.content.decode()


def test_an_import_shows_rejected_rows_and_is_not_offered_under_abort(
    national_editor: User, upload_dir: Path, marseille: None
) -> None:
    broken = DIE_ROWS[1].replace(";1970;", ";year;")
    client = login(national_editor)

    content = die_csv(DIE_ROWS[0], broken)
    response = client.post(IMPORT, upload("inventaire.csv", content))

    assert response.status_code == 200
    errors = response.context["errors_shown"]
    assert errors
    assert errors[0].row == 3  # header is row 1
    assert errors[0].column == "annee_de_construction"
    assert not response.context["can_confirm"]
    assert 'data-testid="import-confirm"' not in response.content.decode()
    assert client.post(IMPORT, {"action": "confirm"}).status_code == 200
    assert not Building.objects.exists()


def test_the_report_download_needs_a_preview_in_this_session(
    national_editor: User,
) -> None:
    assert (
        login(national_editor).get(reverse("buildings:import-report")).status_code
        == 404
    )


def test_the_export_form_downloads_the_filtered_selection_with_the_ticked_columns(
    editor: User,
) -> None:
    BuildingFactory.create(designation="Caserne du Muy", vacant=True)
    BuildingFactory.create(designation="Tri postal", vacant=True)
    client = login(editor)
    page = client.get(LIST, {"q": "caserne", "page": "1", "ordering": "-surface"})
    html = page.content.decode()
    form = html[html.index('data-testid="export-columns"') :]
    form = form[: form.index("</form>")]
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    assert hidden == [("q", "caserne")]
    ticked = re.findall(
        r'<input type="checkbox" name="columns" value="([^"]+)"[^>]*checked', form
    )
    assert ticked == list(AGENT_PROPERTIES)
    actions = {
        label: href
        for href, label in re.findall(r'formaction="([^"]+)">Exporter en (\w+)<', form)
    }
    assert set(actions) == {"CSV", "XLSX", "GeoJSON", "GeoPackage"}

    # What the browser sends for CSV with only two boxes left ticked.
    response = client.get(
        actions["CSV"], [*hidden, ("columns", "designation"), ("columns", "ministry")]
    )

    assert response.status_code == 200
    header, *rows = response.getvalue().decode("utf-8-sig").splitlines()
    assert header == "id;designation;ministry;longitude;latitude"
    assert len(rows) == 1
    assert "Caserne du Muy" in rows[0]
