"""POST, PATCH and …/transition/ on /api/v1/buildings/: State editors only,
within their territory, through the services, with If-Match on every change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.cache import cache
from rest_framework.test import APIClient

from buildings.models import Building, BuildingStatus, BuildingStatusChange, Site
from organizations.models import Membership, Organization, OrganizationKind, Role
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
)
from tests.buildings.test_geojson import assert_rfc7946

pytestmark = pytest.mark.django_db
LIST = "/api/v1/buildings/"
S = BuildingStatus
MARSEILLE = {"type": "Point", "coordinates": [5.3838, 43.3023]}
INVENTORY_ID = "DIE-13-000042"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def detail(building: Building, action: str = "") -> str:
    return f"/api/v1/buildings/{building.pk}/" + (f"{action}/" if action else "")


def etag(client: APIClient, building: Building) -> str:
    response = client.get(detail(building))
    assert response.status_code == 200, response.content
    tag: str = response["ETag"]
    return tag


def snapshot(building: Building) -> dict[str, Any]:
    row: dict[str, Any] = dict(Building.objects.filter(pk=building.pk).values().get())
    row.pop("updated_at")
    return row


def join(
    user: User, kind: str, role: str, departments: list[str] | None = None
) -> None:
    organization = Organization.objects.create(
        name=f"{kind} {role}", kind=kind, territory_departments=departments or []
    )
    Membership.objects.create(user=user, organization=organization, role=role)


@pytest.fixture
def editor(agent: User) -> APIClient:
    """An editor of a State service covering the Bouches-du-Rhône."""
    return client_for(agent)


@pytest.fixture
def site() -> Site:
    return SiteFactory.create()


def new_building(on: Site, /, **fields: Any) -> dict[str, Any]:
    return {
        "site": on.pk,
        "inventory_id": INVENTORY_ID,
        "designation": "Ancienne caserne",
        "department": "13",
        "commune": "13055",
        "point": MARSEILLE,
        **fields,
    }


# --- Create
def test_an_editor_creates_a_building_in_the_territory(
    editor: APIClient, site: Site
) -> None:
    footprint = {
        "type": "Polygon",
        "coordinates": [
            [[5.38, 43.30], [5.38, 43.301], [5.381, 43.301], [5.38, 43.30]]
        ],
    }
    response = editor.post(
        LIST,
        new_building(
            site,
            footprint=footprint,
            parcel_ids=["132010000A0012"],
            rnb_ids=["PG46YY6YWCX8"],
            surface_m2="1200.50",
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert_rfc7946(body)
    building = Building.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/v1/buildings/{building.pk}/")
    assert response["ETag"]
    assert building.status == S.IN_USE
    assert building.point is not None
    assert building.point.coords == (5.3838, 43.3023)
    assert building.footprint is not None
    assert building.footprint.geom_type == "MultiPolygon"
    assert building.suitability_mixed is not None, "the service scored it"
    assert body["properties"]["surface_m2"] == 1200.5


def test_a_point_sent_in_lambert_93_is_stored_in_wgs84(
    editor: APIClient, site: Site
) -> None:
    lambert = Point(5.3838, 43.3023, srid=4326)
    lambert.transform(2154)
    point = {
        "type": "Point",
        "coordinates": [lambert.x, lambert.y],
        "crs": {"type": "name", "properties": {"name": "EPSG:2154"}},
    }
    response = editor.post(LIST, new_building(site, point=point), format="json")
    assert response.status_code == 201, response.content
    stored = Building.objects.get(inventory_id=INVENTORY_ID).point
    assert stored is not None
    assert stored.srid == 4326
    assert stored.x == pytest.approx(5.3838, abs=1e-7)
    assert stored.y == pytest.approx(43.3023, abs=1e-7)


def test_creating_outside_the_territory_is_a_400_on_department(
    editor: APIClient, site: Site
) -> None:
    DepartmentFactory.create(
        code="75",
        name="Paris",
        region=RegionFactory.create(code="11", name="Île-de-France"),
    )
    response = editor.post(LIST, new_building(site, department="75"), format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"department"}
    response = editor.post(LIST, new_building(site, department=None), format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"department"}
    assert not Building.objects.filter(inventory_id=INVENTORY_ID).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"point": {"type": "Point", "coordinates": [43.3, 95.0]}}, "point"),
        ({"point": {"type": "LineString", "coordinates": [[5, 43], [6, 44]]}}, "point"),
        ({"point": {"type": "Point", "coordinates": [5.38, 43.3, 12]}}, "point"),
        ({"point": "not geojson"}, "point"),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [
                        [[5, 43], [5.1, 43.1], [5, 43.1], [5.1, 43], [5, 43]]
                    ],
                }
            },
            "footprint",
        ),
        ({"parcel_ids": ["13201000AB001"]}, "parcel_ids"),
        ({"parcel_ids": ["1320100000012X"]}, "parcel_ids"),
        ({"rnb_ids": ["pg46yy6ywcx8"]}, "rnb_ids"),
        ({"surface_m2": "-3"}, "surface_m2"),
        ({"surface_m2": "NaN"}, "surface_m2"),
        ({"year_built": 3000}, "year_built"),
        ({"designation": "caf\x00é"}, "designation"),
        ({"postal_code": "ABCDE"}, "postal_code"),
        ({"status": "available"}, "status"),
        ({"suitability_mixed": 100}, "suitability_mixed"),
        ({"source_fingerprint": "0" * 64}, "source_fingerprint"),
        ({"erp_category": 6}, "erp_category"),
        ({"guarding_cost_monthly": "-1.00"}, "guarding_cost_monthly"),
        ({"site": 999_999}, "site"),
        ({"inventory_id": ""}, "inventory_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    editor: APIClient, site: Site, changes: dict[str, Any], field: str
) -> None:
    response = editor.post(LIST, new_building(site, **changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Building.objects.filter(inventory_id=INVENTORY_ID).exists()


def test_an_overflowing_coordinate_is_a_400_on_point(
    editor: APIClient, site: Site
) -> None:
    """1e400 is valid JSON that Python reads as infinity."""
    body = json.dumps(new_building(site)).replace("5.3838", "1e400")
    response = editor.post(LIST, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"point"}
    assert not Building.objects.filter(inventory_id=INVENTORY_ID).exists()


@pytest.mark.parametrize(
    "point",
    [
        "SRID=3857;POINT(1e10 1e10)",  # PROJ answered (-168.47, 90): stored
        "SRID=3857;POINT(1e30 1e30)",  # PROJ never answered: a worker, a row lock
        "SRID=2154;POINT(1e30 1e30)",
        "SRID=2154;POINT(6245930 892460)",  # Lambert-93, axes swapped
        "SRID=999999;POINT(5 43)",  # unknown CRS: GDALException, a 500
        "POINT(NaN 43)",  # an empty extent: ValueError, a 500
    ],
)
def test_a_point_beyond_its_crs_is_a_400_before_any_transformation(
    editor: APIClient, point: str
) -> None:
    building = BuildingFactory.create()
    before = snapshot(building)

    response = editor.patch(
        detail(building),
        {"point": point},
        format="json",
        HTTP_IF_MATCH=etag(editor, building),
    )

    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"point"}
    assert snapshot(building) == before


@pytest.mark.parametrize("field", ["vacancy_since", "next_use_date"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_no_horizon_can_be_is_a_400_on_its_field(
    editor: APIClient, field: str, day: str
) -> None:
    """0001-01-01 and 9999-12-31 were stored and read as real horizons."""
    building = BuildingFactory.create()
    before = snapshot(building)

    response = editor.patch(
        detail(building),
        {field: day},
        format="json",
        HTTP_IF_MATCH=etag(editor, building),
    )

    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {field}
    assert snapshot(building) == before


def test_a_territorial_editor_cannot_blank_the_departement(
    editor: APIClient,
) -> None:
    """Blanked, the building left every territorial scope, its editor's too."""
    building = BuildingFactory.create()

    response = editor.patch(
        detail(building),
        {"department": None},
        format="json",
        HTTP_IF_MATCH=etag(editor, building),
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"department"}
    building.refresh_from_db()
    assert building.department_id == "13"


def test_a_duplicate_inventory_id_is_a_400_on_it(editor: APIClient, site: Site) -> None:
    BuildingFactory.create(inventory_id=INVENTORY_ID)
    response = editor.post(LIST, new_building(site), format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"inventory_id"}


@pytest.mark.parametrize(
    "persona",
    [
        None,
        OrganizationKind.OPERATOR,
        OrganizationKind.FUNDER,
        "state viewer",
        "operator admin who views for the State",
    ],
)
def test_only_state_editors_may_create(
    make_member: Callable[..., User], site: Site, persona: str | None
) -> None:
    user = None
    if persona == "state viewer":
        user = make_member(OrganizationKind.STATE_SERVICE, role=Role.VIEWER)
    elif persona == "operator admin who views for the State":
        # Persona state_agent and a writable organization, but not a State one.
        user = make_member(OrganizationKind.OPERATOR, role=Role.ADMIN)
        join(user, OrganizationKind.STATE_SERVICE, Role.VIEWER)
    elif persona is not None:
        user = make_member(persona, role=Role.ADMIN)
    response = client_for(user).post(LIST, new_building(site), format="json")
    assert response.status_code in (401, 403)
    assert not Building.objects.filter(inventory_id=INVENTORY_ID).exists()


# --- Update
def test_an_editor_changes_facts_with_the_etag_read(editor: APIClient) -> None:
    building = BuildingFactory.create()
    tag = etag(editor, building)
    response = editor.patch(
        detail(building),
        {"designation": "Ex-DDE", "erp": True, "erp_type": "W"},
        format="json",
        HTTP_IF_MATCH=tag,
    )
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["designation"] == "Ex-DDE"
    assert response["ETag"] not in ("", tag)
    building.refresh_from_db()
    assert (building.designation, building.erp) == ("Ex-DDE", True)


def test_a_change_without_if_match_is_a_428_and_changes_nothing(
    editor: APIClient,
) -> None:
    building = BuildingFactory.create()
    before = snapshot(building)
    response = editor.patch(detail(building), {"designation": "X"}, format="json")
    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"
    assert snapshot(building) == before


def test_a_change_on_a_stale_version_is_a_412_and_changes_nothing(
    editor: APIClient,
) -> None:
    building = BuildingFactory.create()
    stale = etag(editor, building)
    assert (
        editor.patch(
            detail(building),
            {"designation": "First"},
            format="json",
            HTTP_IF_MATCH=stale,
        ).status_code
        == 200
    )
    before = snapshot(building)
    for header in (stale, f"W/{stale}", '"nonsense"'):
        response = editor.patch(
            detail(building),
            {"designation": "Second"},
            format="json",
            HTTP_IF_MATCH=header,
        )
        assert response.status_code == 412, header
        assert response.json()["code"] == "precondition_failed"
    assert snapshot(building) == before


def test_if_match_accepts_a_list_of_tags_and_the_star(editor: APIClient) -> None:
    building = BuildingFactory.create()
    tag = etag(editor, building)
    response = editor.patch(
        detail(building),
        {"city": "Marseille"},
        format="json",
        HTTP_IF_MATCH=f'"x", {tag}',
    )
    assert response.status_code == 200
    response = editor.patch(
        detail(building), {"city": "Marseille 1er"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200


@pytest.fixture
def paris_building() -> Building:
    department = DepartmentFactory.create(
        code="75",
        name="Paris",
        region=RegionFactory.create(code="11", name="Île-de-France"),
    )
    commune = CommuneFactory.create(code="75056", name="Paris", department=department)
    return BuildingFactory.create(site=SiteFactory.create(commune=commune))


def test_changing_a_building_outside_the_territory_is_a_404(
    editor: APIClient, paris_building: Building
) -> None:
    before = snapshot(paris_building)
    for response in (
        editor.patch(
            detail(paris_building),
            {"designation": "X"},
            format="json",
            HTTP_IF_MATCH="*",
        ),
        editor.post(
            detail(paris_building, "transition"),
            {"to": "vacant"},
            format="json",
            HTTP_IF_MATCH="*",
        ),
    ):
        assert response.status_code == 404
    assert snapshot(paris_building) == before


def test_moving_a_building_out_of_the_territory_is_a_400_on_department(
    editor: APIClient, paris_building: Building
) -> None:
    building = BuildingFactory.create()
    response = editor.patch(
        detail(building), {"department": "75"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"department"}


def test_a_viewer_here_and_editor_elsewhere_may_read_but_not_change(
    make_member: Callable[..., User], paris_building: Building
) -> None:
    """Territories of services where one only reads are not writable."""
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    join(user, OrganizationKind.STATE_SERVICE, Role.VIEWER, departments=["75"])
    client = client_for(user)
    assert client.get(detail(paris_building)).status_code == 200
    before = snapshot(paris_building)
    response = client.patch(
        detail(paris_building), {"designation": "X"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 403
    assert snapshot(paris_building) == before


@pytest.mark.parametrize(
    "persona", [None, OrganizationKind.OPERATOR, OrganizationKind.FUNDER]
)
def test_operators_funders_and_the_public_cannot_change_a_building(
    make_member: Callable[..., User], persona: str | None
) -> None:
    public = BuildingFactory.create(vacant=True)
    confidential = BuildingFactory.create(vacant=True, confidential=True)
    client = client_for(make_member(persona, role=Role.ADMIN) if persona else None)
    for building in (public, confidential):
        before = snapshot(building)
        tag = etag(APIClient(), public) if building is public else "*"
        for response in (
            client.patch(
                detail(building), {"designation": "X"}, format="json", HTTP_IF_MATCH=tag
            ),
            client.post(
                detail(building, "transition"),
                {"to": "assessed"},
                format="json",
                HTTP_IF_MATCH=tag,
            ),
        ):
            assert response.status_code in (401, 403, 404)
        assert snapshot(building) == before


# --- Transitions
def test_a_transition_moves_the_status_and_records_who_and_why(
    agent: User, editor: APIClient
) -> None:
    building = BuildingFactory.create(vacancy_since=date(2024, 1, 1))
    response = editor.post(
        detail(building, "transition"),
        {"to": "vacant", "reason": "Service relocated"},
        format="json",
        HTTP_IF_MATCH=etag(editor, building),
    )
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["status"] == "vacant"
    change = BuildingStatusChange.objects.get(building=building)
    assert (change.from_status, change.to_status, change.reason) == (
        "in_use", "vacant", "Service relocated",
    )  # fmt: skip
    assert change.changed_by == agent


def test_an_illegal_move_is_a_409_and_changes_nothing(editor: APIClient) -> None:
    building = BuildingFactory.create()
    for target in ("available", "occupied"):
        response = editor.post(
            detail(building, "transition"),
            {"to": target},
            format="json",
            HTTP_IF_MATCH=etag(editor, building),
        )
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
    building.refresh_from_db()
    assert building.status == S.IN_USE
    assert not BuildingStatusChange.objects.filter(building=building).exists()


def test_an_unmet_condition_is_a_400_naming_the_field_to_fill(
    editor: APIClient,
) -> None:
    building = BuildingFactory.create(vacancy_since=None)
    response = editor.post(
        detail(building, "transition"),
        {"to": "vacant"},
        format="json",
        HTTP_IF_MATCH=etag(editor, building),
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"vacancy_since"}
    building.refresh_from_db()
    assert building.status == S.IN_USE


@pytest.mark.parametrize("body", [{"to": "nowhere"}, {}, {"to": None}])
def test_an_unknown_target_status_is_a_400_on_to(
    editor: APIClient, body: dict[str, Any]
) -> None:
    building = BuildingFactory.create()
    response = editor.post(
        detail(building, "transition"), body, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"to"}


def test_a_transition_needs_if_match_and_refuses_a_stale_one(
    editor: APIClient,
) -> None:
    building = BuildingFactory.create(vacancy_since=date(2024, 1, 1))
    stale = etag(editor, building)
    editor.patch(detail(building), {"city": "Aix"}, format="json", HTTP_IF_MATCH=stale)
    url = detail(building, "transition")
    assert editor.post(url, {"to": "vacant"}, format="json").status_code == 428
    response = editor.post(url, {"to": "vacant"}, format="json", HTTP_IF_MATCH=stale)
    assert response.status_code == 412
    building.refresh_from_db()
    assert building.status == S.IN_USE
