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
