"""Defects the fuzzer found in the buildings API, each as a plain reproduction:
the list's schema required the agents' properties of every caller, a blank
cursor restarted at the first page, a malformed erp filtered nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

from tests.buildings.factories import CommuneFactory
from tests.occupancy.factories import BuildingFactory

pytestmark = pytest.mark.django_db
OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"


def test_a_public_building_list_matches_its_schema() -> None:
    BuildingFactory.create()
    body = APIClient().get("/api/v1/buildings/").json()
    schema = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    required = set(schema["components"]["schemas"]["BuildingProperties"]["required"])
    assert required <= set(body["features"][0]["properties"])


def test_a_blank_building_cursor_is_refused() -> None:
    response = APIClient().get("/api/v1/buildings/?cursor=&ordering=vacancy_since")
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize("url", ["/api/v1/buildings/", "/api/v1/buildings/export.csv"])
@pytest.mark.parametrize("erp", ["maybe", "-16722"])
def test_a_malformed_erp_filter_is_refused(url: str, erp: str) -> None:
    BuildingFactory.create()
    response = APIClient().get(url, {"erp": erp})
    assert response.status_code == 400
    assert "erp" in response.json()["errors"]


@pytest.mark.parametrize("url", ["/api/v1/buildings/", "/api/v1/buildings/export.csv"])
def test_a_one_value_building_filter_given_twice_is_refused(url: str) -> None:
    """``?surface_min=oops&surface_min=`` was read as its last, blank value: no
    filter at all."""
    BuildingFactory.create()
    response = APIClient().get(url + "?surface_min=oops&surface_min=")
    assert response.status_code == 400
    assert "surface_min" in response.json()["errors"]


def test_a_blank_building_filter_still_means_no_filter_for_the_pages_forms() -> None:
    BuildingFactory.create()
    response = APIClient().get("/api/v1/buildings/?surface_min=&erp=")
    assert response.status_code == 200
    assert len(response.json()["features"]) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("commune", "-3.2649900803656584e+16"), ("department", "13,Paris")],
)
def test_a_territory_filter_takes_codes_only(name: str, value: str) -> None:
    response = APIClient().get("/api/v1/buildings/", {name: value})
    assert response.status_code == 400
    assert name in response.json()["errors"]


def test_territory_filters_take_real_codes() -> None:
    building = BuildingFactory.create(commune=CommuneFactory.create())
    response = APIClient().get(
        "/api/v1/buildings/",
        {
            "commune": f"{building.commune_id},2A004,97411",
            "department": f"{building.department_id},2A,971",
        },
    )
    assert response.status_code == 200, response.content
    assert len(response.json()["features"]) == 1


def test_a_blank_agent_only_filter_is_no_filter_for_anyone() -> None:
    """``ministry=`` (an empty form field) was refused to anonymous callers as if
    they had filtered on a ministry (found by a review)."""
    BuildingFactory.create()
    assert APIClient().get("/api/v1/buildings/?ministry=").status_code == 200
    refused = APIClient().get("/api/v1/buildings/?ministry=Justice")
    assert refused.status_code == 400
    assert "ministry" in refused.json()["errors"]


def test_a_city_filter_holds_its_arrondissements_as_the_ogc_collection_does() -> None:
    """``?commune=13055`` left out a building stored under Marseille 1er (13201),
    which the OGC communes collection and its items filter count in the city
    (found by a review)."""
    from tests.buildings.factories import BuildingFactory as InventoryBuildingFactory

    city = InventoryBuildingFactory.create(vacant=True, commune=CommuneFactory.create())
    first = InventoryBuildingFactory.create(
        vacant=True, commune=CommuneFactory.create(first_arrondissement=True)
    )
    elsewhere = InventoryBuildingFactory.create(
        vacant=True, commune=CommuneFactory.create(aix=True)
    )

    def ids(query: str) -> set[int]:
        body = APIClient().get(f"/api/v1/buildings/?{query}").json()
        return {feature["id"] for feature in body["features"]}

    assert ids("commune=13055") == {city.pk, first.pk}
    assert ids("commune=13201") == {first.pk}
    assert ids("commune=13001") == {elsewhere.pk}


def _ajaccio_building() -> int:
    from tests.buildings.factories import BuildingFactory as InventoryBuildingFactory
    from tests.buildings.factories import DepartmentFactory

    corse_du_sud = DepartmentFactory.create(code="2A", name="Corse-du-Sud")
    ajaccio = CommuneFactory.create(
        code="2A004", name="Ajaccio", department=corse_du_sud
    )
    building = InventoryBuildingFactory.create(vacant=True, commune=ajaccio)
    assert building.department_id == "2A"
    return building.pk


@pytest.mark.parametrize(
    "params", [{"department": "2a"}, {"commune": "2a004"}, {"commune": "13055,2a004"}]
)
def test_corsican_codes_are_read_in_any_case(params: dict[str, str]) -> None:
    """``?department=2a`` was a 400 and ``?commune=2a004`` too: the codes are
    stored in upper case, and a user types them as they come."""
    pk = _ajaccio_building()
    response = APIClient().get("/api/v1/buildings/", params)
    assert response.status_code == 200, response.content
    assert [feature["id"] for feature in response.json()["features"]] == [pk]


@pytest.mark.parametrize(
    "query", ["department=2a", "commune=2a004", "department=13,2a"]
)
def test_ogc_code_filters_are_read_in_any_case(query: str) -> None:
    """The OGC equality filters answered lower-case Corsican codes with an empty
    collection."""
    pk = _ajaccio_building()
    response = APIClient().get(f"/ogc/collections/buildings/items?{query}&f=json")
    assert response.status_code == 200, response.content
    assert [feature["id"] for feature in response.json()["features"]] == [pk]


def test_ogc_communes_collection_code_filter_is_read_in_any_case() -> None:
    from django.contrib.gis.geos import MultiPolygon, Polygon

    from buildings.models import Commune

    _ajaccio_building()
    box = Polygon.from_bbox((8.6, 41.9, 8.8, 42.0))
    Commune.objects.filter(code="2A004").update(geometry=MultiPolygon(box, srid=4326))
    response = APIClient().get("/ogc/collections/communes/items?code=2a004&f=json")
    assert response.status_code == 200, response.content
    assert [feature["id"] for feature in response.json()["features"]] == ["2A004"]


def test_a_blank_status_is_no_filter_for_the_pages_forms() -> None:
    """``?status=`` was a 400 ("select a valid choice") where every other blank
    field of the buildings' filters is no filter, as the pages' forms send it."""
    building = BuildingFactory.create()
    response = APIClient().get("/api/v1/buildings/?status=&surface_min=")
    assert response.status_code == 200, response.content
    assert [feature["id"] for feature in response.json()["features"]] == [building.pk]
    mixed = APIClient().get(f"/api/v1/buildings/?status=&status={building.status}")
    assert mixed.status_code == 200, mixed.content
    assert [feature["id"] for feature in mixed.json()["features"]] == [building.pk]
    other = APIClient().get("/api/v1/buildings/?status=&status=demolished")
    assert other.status_code == 200, other.content
    assert other.json()["features"] == []
