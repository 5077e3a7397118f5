"""Defects the fuzzer found in the buildings API, each as a plain reproduction:
the list's schema required the agents' properties of every caller, a blank
cursor restarted at the first page, a malformed erp filtered nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

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
