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
            [[5.3836, 43.3021], [5.3836, 43.3025], [5.3841, 43.3025],
             [5.3836, 43.3021]]
        ],
    }  # fmt: skip
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


def test_a_site_of_another_territory_is_refused_as_a_missing_one(
    editor: APIClient, paris_building: Building
) -> None:
    """A territorial editor named any site: its building joined a Paris site, whose
    designation the building page then showed, and a 400 or a 200 told which ids
    exist (reliability.md B4)."""
    building = BuildingFactory.create()
    before = snapshot(building)
    foreign = editor.patch(
        detail(building),
        {"site": paris_building.site_id},
        format="json",
        HTTP_IF_MATCH="*",
    )
    missing = editor.patch(
        detail(building), {"site": 999_999}, format="json", HTTP_IF_MATCH="*"
    )
    assert (foreign.status_code, missing.status_code) == (400, 400), foreign.content
    assert set(foreign.json()["errors"]) == {"site"}
    assert foreign.json()["errors"]["site"] == [
        message.replace("999999", str(paris_building.site_id))
        for message in missing.json()["errors"]["site"]
    ]
    assert snapshot(building) == before
    created = editor.post(LIST, new_building(paris_building.site), format="json")
    assert created.status_code == 400
    assert set(created.json()["errors"]) == {"site"}
    assert not Building.objects.filter(inventory_id=INVENTORY_ID).exists()


def test_a_site_is_the_territorys_through_its_commune_or_one_of_its_buildings(
    editor: APIClient,
) -> None:
    building = BuildingFactory.create()
    without_commune = SiteFactory.create(commune=None)
    BuildingFactory.create(site=without_commune, department=building.department)
    response = editor.patch(
        detail(building), {"site": without_commune.pk}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200, response.content
    building.refresh_from_db()
    assert building.site_id == without_commune.pk


def test_a_national_editor_may_name_the_site_of_any_territory(
    national: APIClient, paris_building: Building
) -> None:
    building = BuildingFactory.create()
    response = national.patch(
        detail(building),
        {"site": paris_building.site_id},
        format="json",
        HTTP_IF_MATCH="*",
    )
    assert response.status_code == 200, response.content


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


# --- Location: commune, département, point and footprint agree
AIX = {"type": "Point", "coordinates": [5.4455, 43.5245]}
PARIS = {"type": "Point", "coordinates": [2.3522, 48.8566]}
# Frioul, an island of Marseille 3.4 km beyond the simplified boundary of the
# Bouches-du-Rhône that reference_13 loads (departements.geojson).
FRIOUL = {"type": "Point", "coordinates": [5.305932, 43.273975]}
# A few metres around the former roads directorate (MARSEILLE).
FOOTPRINT_HERE = {
    "type": "Polygon",
    "coordinates": [
        [[5.3837, 43.3022], [5.3839, 43.3022], [5.3839, 43.3024], [5.3837, 43.3024],
         [5.3837, 43.3022]]
    ],
}  # fmt: skip
# The same outline moved about 600 m east.
FOOTPRINT_AWAY = {
    "type": "Polygon",
    "coordinates": [
        [[5.3912, 43.3022], [5.3914, 43.3022], [5.3914, 43.3024], [5.3912, 43.3024],
         [5.3912, 43.3022]]
    ],
}  # fmt: skip
# Words of GDAL, GEOS and ctypes that reached clients in 400s.
INTERNALS = (
    "OGR", "GEOS", "GDAL", "Exception", "pointer", "ctypes", "Unable to convert",
    "Self-intersection", "Too few points",
)  # fmt: skip


def counts() -> tuple[int, int]:
    return Building.objects.count(), BuildingStatusChange.objects.count()


@pytest.fixture
def national(make_member: Callable[..., User]) -> APIClient:
    """An editor of a State service without a territory: every département."""
    return client_for(make_member(OrganizationKind.STATE_SERVICE))


@pytest.fixture
def paris() -> None:
    department = DepartmentFactory.create(
        code="75",
        name="Paris",
        region=RegionFactory.create(code="11", name="Île-de-France"),
    )
    CommuneFactory.create(code="75056", name="Paris", department=department)


def test_a_commune_of_another_departement_is_a_400_on_commune(
    national: APIClient, site: Site, paris: None
) -> None:
    before = counts()
    for body in (
        new_building(site, commune="13055", department="75", point=PARIS),
        new_building(site, commune="75056", department="13"),
    ):
        response = national.post(LIST, body, format="json")
        assert response.status_code == 400, response.content
        assert set(response.json()["errors"]) == {"commune"}, response.json()
    assert counts() == before


def test_changing_the_commune_or_the_departement_alone_is_checked_against_the_other(
    national: APIClient, paris: None
) -> None:
    building = BuildingFactory.create(point=None, footprint=None)
    before = snapshot(building)
    for changes, field in (
        ({"commune": "75056"}, "commune"),
        ({"department": "75"}, "department"),
    ):
        response = national.patch(
            detail(building), changes, format="json", HTTP_IF_MATCH="*"
        )
        assert response.status_code == 400, response.content
        assert set(response.json()["errors"]) == {field}
    assert snapshot(building) == before


def test_without_its_departement_in_the_table_a_commune_is_placed_by_its_code(
    national: APIClient, site: Site
) -> None:
    """A commune loaded without its parent (or made by hand): 2A/2B, 97x."""
    for code, name, department in (
        ("2A004", "Ajaccio", "2A"),
        ("97411", "Saint-Denis", "974"),
    ):
        DepartmentFactory.create(code=department, name=name, region=None)
        CommuneFactory.create(code=code, name=name, department=None)
    DepartmentFactory.create()
    accepted = national.post(
        LIST,
        new_building(site, commune="2A004", department="2A", point=None),
        format="json",
    )
    assert accepted.status_code == 201, accepted.content
    before = counts()
    for commune, department in (("2A004", "13"), ("97411", "2A"), ("97411", "13")):
        response = national.post(
            LIST,
            new_building(
                site,
                inventory_id="DIE-X",
                commune=commune,
                department=department,
                point=None,
            ),
            format="json",
        )
        assert response.status_code == 400, (commune, department, response.content)
        assert set(response.json()["errors"]) == {"commune"}
    assert counts() == before


@pytest.mark.parametrize(
    ("code", "department"),
    [("13055", "13"), ("01001", "01"), ("2A004", "2A"), ("2B033", "2B"),
     ("97105", "971"), ("97611", "976"), ("97701", "977")],
)  # fmt: skip
def test_a_commune_code_names_its_departement(code: str, department: str) -> None:
    from buildings.reference import commune_department

    assert commune_department(code) == department


def test_a_point_outside_the_declared_departement_is_a_400_on_point(
    national: APIClient, site: Site, reference_13: object
) -> None:
    before = counts()
    response = national.post(LIST, new_building(site, point=PARIS), format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"point"}
    assert counts() == before

    building = BuildingFactory.create()
    before_row = snapshot(building)
    response = national.patch(
        detail(building), {"point": PARIS}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"point"}
    assert snapshot(building) == before_row


def test_a_point_beyond_a_simplified_departement_boundary_by_little_is_taken(
    editor: APIClient, site: Site, reference_13: object
) -> None:
    response = editor.post(LIST, new_building(site, point=FRIOUL), format="json")
    assert response.status_code == 201, response.content
    assert not Building.objects.get(inventory_id=INVENTORY_ID).outside_declared_commune


def test_a_point_outside_its_commune_is_flagged_as_imports_flag_it(
    editor: APIClient, site: Site, reference_13: object
) -> None:
    """Not refused: the boundaries may lag a merger, or a building straddle a line."""
    response = editor.post(
        LIST, new_building(site, commune="13001", point=MARSEILLE), format="json"
    )
    assert response.status_code == 201, response.content
    building = Building.objects.get(inventory_id=INVENTORY_ID)
    assert building.outside_declared_commune

    response = editor.patch(
        detail(building), {"commune": "13055"}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200, response.content
    building.refresh_from_db()
    assert not building.outside_declared_commune

    response = editor.patch(
        detail(building), {"point": AIX}, format="json", HTTP_IF_MATCH="*"
    )
    assert response.status_code == 200, response.content
    building.refresh_from_db()
    assert building.outside_declared_commune


def test_a_footprint_away_from_the_point_is_a_400_on_footprint(
    editor: APIClient, site: Site
) -> None:
    before = counts()
    response = editor.post(
        LIST, new_building(site, footprint=FOOTPRINT_AWAY), format="json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"footprint"}
    assert counts() == before

    response = editor.post(
        LIST, new_building(site, footprint=FOOTPRINT_HERE), format="json"
    )
    assert response.status_code == 201, response.content
    building = Building.objects.get(inventory_id=INVENTORY_ID)
    before_row = snapshot(building)
    for changes, field in (
        ({"footprint": FOOTPRINT_AWAY}, "footprint"),
        ({"point": AIX}, "point"),
    ):
        response = editor.patch(
            detail(building), changes, format="json", HTTP_IF_MATCH="*"
        )
        assert response.status_code == 400, response.content
        assert set(response.json()["errors"]) == {field}
    assert snapshot(building) == before_row


def test_a_footprint_beside_its_point_is_taken(editor: APIClient, site: Site) -> None:
    """A point at the gate, 50 m from the outline."""
    gate = {"type": "Point", "coordinates": [5.3845, 43.3023]}
    response = editor.post(
        LIST, new_building(site, point=gate, footprint=FOOTPRINT_HERE), format="json"
    )
    assert response.status_code == 201, response.content


def named(crs: str, coordinates: list[float]) -> dict[str, Any]:
    return {
        "type": "Point",
        "coordinates": coordinates,
        "crs": {"type": "name", "properties": {"name": crs}},
    }


@pytest.mark.parametrize(
    "point",
    [
        named("EPSG:99999", [5.3838, 43.3023]),
        named("EPSG:27700", [5.3838, 43.3023]),
        named("urn:ogc:def:crs:EPSG::99999", [5.3838, 43.3023]),
        named("nonsense", [5.3838, 43.3023]),
        # EPSG's 4326 orders latitude first: taken as given it lies off Somalia.
        named("urn:ogc:def:crs:EPSG::4326", [43.3023, 5.3838]),
        named("urn:ogc:def:crs:EPSG::4326", [5.3838, 43.3023]),
        named("http://www.opengis.net/def/crs/EPSG/0/4326", [43.3023, 5.3838]),
        {
            "type": "Point",
            "coordinates": [5.3838, 43.3023],
            "crs": {"type": "link", "properties": {"href": "http://x/crs"}},
        },
        {"type": "Point", "coordinates": [5.3838, 43.3023], "crs": {"type": "name"}},
        {"type": "Point", "coordinates": [5.3838, 43.3023], "crs": "EPSG:4326"},
    ],
)
def test_a_crs_other_than_those_taken_is_a_400_on_point(
    editor: APIClient, site: Site, point: dict[str, Any]
) -> None:
    before = counts()
    response = editor.post(LIST, new_building(site, point=point), format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"point"}, response.json()
    assert not any(word in response.content.decode() for word in INTERNALS)
    assert counts() == before


@pytest.mark.parametrize(
    "point",
    [
        named("urn:ogc:def:crs:OGC:1.3:CRS84", [5.3838, 43.3023]),
        named("http://www.opengis.net/def/crs/OGC/1.3/CRS84", [5.3838, 43.3023]),
        named("EPSG:4326", [5.3838, 43.3023]),
        json.dumps(named("EPSG:4326", [5.3838, 43.3023])),
        {"type": "Point", "coordinates": [5.3838, 43.3023], "crs": None},
        named("EPSG:3857", [599_321.87, 5_358_098.77]),
        named("urn:ogc:def:crs:EPSG::2154", [893_506.99, 6_247_713.93]),
    ],
)
def test_wgs84_lambert_93_and_web_mercator_land_in_marseille(
    editor: APIClient, site: Site, point: dict[str, Any] | str
) -> None:
    response = editor.post(LIST, new_building(site, point=point), format="json")
    assert response.status_code == 201, response.content
    stored = Building.objects.get(inventory_id=INVENTORY_ID).point
    assert stored is not None
    assert stored.x == pytest.approx(5.3838, abs=1e-4)
    assert stored.y == pytest.approx(43.3023, abs=1e-4)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"point": {"type": "Point", "coordinates": []}}, "point"),
        ({"point": {"type": "Point", "coordinates": ["a", "b"]}}, "point"),
        ({"point": {"type": "Feature", "geometry": MARSEILLE}}, "point"),
        ({"point": {"coordinates": [5, 43]}}, "point"),
        ({"point": "POINT(5.38 43.3"}, "point"),
        ({"point": "SRID=4326;POINT(5.38"}, "point"),
        ({"point": "SRID=abc;POINT(5.38 43.3)"}, "point"),
        ({"point": "0101000020E6100000"}, "point"),
        ({"point": "{not json"}, "point"),
        ({"point": "[5.38, 43.3]"}, "point"),
        ({"point": ["5.38", "43.3"]}, "point"),
        ({"point": 12}, "point"),
        ({"footprint": "POLYGON((5 43, 5.1 43.1, 5 43))"}, "footprint"),
        ({"footprint": "POLYGON((5 43, 5.1 43, 5.1 43.1))"}, "footprint"),
        (
            {"footprint": {"type": "MultiPolygon", "coordinates": [[[[5, 43]]]]}},
            "footprint",
        ),
        (
            {
                "footprint": {
                    "type": "Polygon",
                    "coordinates": [
                        [[5.38, 43.30], [5.381, 43.301], [5.38, 43.301],
                         [5.381, 43.30], [5.38, 43.30]]
                    ],
                }
            },
            "footprint",
        ),
    ],
)  # fmt: skip
def test_malformed_geometries_are_a_plain_400_on_their_field(
    editor: APIClient, site: Site, changes: dict[str, Any], field: str
) -> None:
    before = counts()
    response = editor.post(LIST, new_building(site, **changes), format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {field}, response.json()
    text = response.content.decode()
    assert not any(word in text for word in INTERNALS), text
    assert counts() == before
