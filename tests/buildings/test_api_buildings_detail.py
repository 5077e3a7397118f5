"""GET /api/v1/buildings/{id}/: one building as a GeoJSON Feature with what lies
around it, 404 outside the caller's scope, and an ETag."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from buildings.geojson import AGENT_PROPERTIES, PUBLIC_PROPERTIES
from buildings.models import Building, BuildingStatus, Friche
from buildings.selectors import (
    NEARBY_BUILDING_FIELDS,
    NEARBY_FRICHE_FIELDS,
    nearby_buildings,
    nearby_friches,
)
from buildings.services import building_transition
from config.etag import etag_of
from organizations.models import OrganizationKind
from organizations.selectors import scope_for
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
    wgs84,
)
from tests.buildings.test_api_buildings_list import degrees_north
from tests.buildings.test_geojson import (
    assert_rfc7946,
    clockwise_footprint,
    signed_area,
)

pytestmark = pytest.mark.django_db
LON, LAT = 5.38, 43.30
DETAIL_KEYS = {"footprint", "nearby_friches", "nearby_buildings"}
AGENT_KEYS = {"suitability_details", "allowed_transitions", "status_history"}


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()


def url(building: Building, **params: Any) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"/api/v1/buildings/{building.pk}/" + (f"?{query}" if query else "")


def feature(client: APIClient, building: Building, **params: Any) -> dict[str, Any]:
    response = client.get(url(building, **params))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    body: dict[str, Any] = response.json()
    assert_rfc7946(body)
    return body


def north(metres: float, **fields: Any) -> Building:
    """A public building ``metres`` due north of (LON, LAT)."""
    return BuildingFactory.create(
        vacant=True, point=wgs84(LON, LAT + degrees_north(LAT, metres)), **fields
    )


def friche_north(metres: float, site_id: str) -> Friche:
    return Friche.objects.create(
        site_id=site_id,
        site_nom=f"Friche {site_id}",
        point=wgs84(LON, LAT + degrees_north(LAT, metres)),
    )


@pytest.fixture
def agent_client(agent: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


def test_the_public_reads_a_public_building_with_its_public_properties() -> None:
    building = north(0, footprint=clockwise_footprint(LON, LAT))
    body = feature(APIClient(), building)
    assert body["id"] == building.pk
    assert body["geometry"] == {"type": "Point", "coordinates": [LON, LAT]}
    assert set(body["properties"]) == set(PUBLIC_PROPERTIES) | DETAIL_KEYS
    (polygon,) = body["properties"]["footprint"]["coordinates"]
    assert signed_area(polygon[0]) > 0, "the stored footprint is clockwise"
    assert signed_area(polygon[1]) < 0
    assert body["properties"]["surface_m2"] == 4000


def test_agents_read_the_internal_properties_the_history_and_the_next_moves(
    agent: User, agent_client: APIClient
) -> None:
    building = north(0)
    building_transition(building=building, to=BuildingStatus.ASSESSED, by=agent)
    body = feature(agent_client, building)
    assert set(body["properties"]) == set(AGENT_PROPERTIES) | DETAIL_KEYS | AGENT_KEYS
    assert "owner_type" not in body["properties"]
    (change,) = body["properties"]["status_history"]
    assert (change["from_status"], change["to_status"]) == ("vacant", "assessed")
    assert change["changed_by"] == agent.username
    assert body["properties"]["allowed_transitions"] == [
        "available", "demolished", "disposed", "reassigned", "unsafe", "vacant",
    ]  # fmt: skip


def test_nearby_lists_hold_what_lies_within_the_radius_with_geodesic_distances() -> (
    None
):
    building = north(0)
    near, far = north(400), north(1200)
    friche_north(-700, "near")
    friche_north(-1300, "far")
    body = feature(APIClient(), building)["properties"]
    assert [(b["id"], b["distance_m"]) for b in body["nearby_buildings"]] == [
        (near.pk, pytest.approx(400, abs=0.1))
    ]
    assert [(f["site_id"], f["distance_m"]) for f in body["nearby_friches"]] == [
        ("near", pytest.approx(700, abs=0.1))
    ]
    wide = feature(APIClient(), building, radius=1500)["properties"]
    assert [b["id"] for b in wide["nearby_buildings"]] == [near.pk, far.pk]
    assert [f["site_id"] for f in wide["nearby_friches"]] == ["near", "far"]


def test_the_nearby_lists_read_only_the_columns_they_show() -> None:
    """Up to 50 neighbours: their footprints, parcels and JSON stay in the database,
    and showing them reads nothing more (no deferred column loaded one by one)."""
    building = north(0)
    for metres in (100, 200, 300):
        north(metres)
        friche_north(-metres, f"site-{metres}")
    scope = scope_for(None)
    neighbours = list(nearby_buildings(scope=scope, building=building))
    friches = list(nearby_friches(building=building))
    assert len(neighbours) == len(friches) == 3
    for rows, model, shown in (
        (neighbours, Building, NEARBY_BUILDING_FIELDS),
        (friches, Friche, NEARBY_FRICHE_FIELDS),
    ):
        columns = {field.attname for field in model._meta.concrete_fields}
        assert {frozenset(columns - row.get_deferred_fields()) for row in rows} == {
            frozenset(shown)
        }
    with CaptureQueriesContext(connection) as three:
        feature(APIClient(), building)
    Building.objects.exclude(pk=building.pk).delete()
    Friche.objects.all().delete()
    with CaptureQueriesContext(connection) as none:
        body = feature(APIClient(), building)["properties"]
    assert body["nearby_buildings"] == body["nearby_friches"] == []
    assert len(three) == len(none)


def test_nearby_buildings_never_show_the_public_a_confidential_neighbour() -> None:
    building = north(0)
    north(100, confidential=True)
    north(150, status=BuildingStatus.IN_USE)
    assert feature(APIClient(), building)["properties"]["nearby_buildings"] == []


@pytest.mark.parametrize("radius", ["0", "-5", "20001", "abc", "nan", "inf"])
def test_a_radius_out_of_bounds_is_a_400_on_radius(radius: str) -> None:
    response = APIClient().get(url(north(0), radius=radius))
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"radius"}


def test_a_radius_given_twice_is_a_400_on_radius() -> None:
    """The last value was read: ``radius=100&radius=20000`` listed 20 km."""
    building = north(0)
    response = APIClient().get(
        f"/api/v1/buildings/{building.pk}/?radius=100&radius=200"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"radius"}


@pytest.fixture
def paris_building() -> Building:
    department = DepartmentFactory.create(
        code="75",
        name="Paris",
        region=RegionFactory.create(code="11", name="Île-de-France"),
    )
    commune = CommuneFactory.create(code="75056", name="Paris", department=department)
    return BuildingFactory.create(vacant=True, site=SiteFactory.create(commune=commune))


@pytest.mark.parametrize("persona", [None, "operator", "funder"])
@pytest.mark.parametrize(
    "hidden", [{"confidential": True}, {"status": BuildingStatus.IN_USE}]
)
def test_buildings_outside_the_public_stock_are_a_404_for_the_public(
    make_member: Callable[..., User], persona: str | None, hidden: dict[str, Any]
) -> None:
    building = BuildingFactory.create(vacant=True, **hidden)
    client = APIClient()
    if persona is not None:
        client.force_authenticate(make_member(persona))
    response = client.get(url(building))
    assert response.status_code == 404
    assert "Armées".encode() not in response.content


def test_an_agent_gets_a_404_outside_the_territory_and_a_national_agent_does_not(
    agent_client: APIClient,
    make_member: Callable[..., User],
    paris_building: Building,
) -> None:
    paris_building.status = BuildingStatus.IN_USE
    paris_building.save()
    assert agent_client.get(url(paris_building)).status_code == 404
    national = APIClient()
    national.force_authenticate(make_member(OrganizationKind.STATE_SERVICE))
    assert feature(national, paris_building)["id"] == paris_building.pk


def test_unknown_ids_and_non_numbers_are_a_404() -> None:
    assert APIClient().get("/api/v1/buildings/999999/").status_code == 404
    assert APIClient().get("/api/v1/buildings/abc/").status_code == 404


def test_the_etag_names_the_version_and_changes_with_it(agent: User) -> None:
    building = north(0)
    first = APIClient().get(url(building))["ETag"]
    assert first == etag_of(building)
    building_transition(building=building, to=BuildingStatus.ASSESSED, by=agent)
    building.refresh_from_db()
    assert APIClient().get(url(building))["ETag"] not in ("", first)
