"""Scoped reads on the inventory: who sees which building, and distances in metres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.gis.geos import Point

from buildings.models import Building, BuildingStatus, Friche
from buildings.selectors import (
    building_get,
    building_list,
    building_status_history,
    nearby_buildings,
    nearby_friches,
)
from buildings.services import building_transition
from organizations.models import OrganizationKind, Role
from organizations.selectors import scope_for
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db
S = BuildingStatus
# Marseille, on the 5.38° E meridian.
LON, LAT = 5.38, 43.0


def make_building(code: str, department: str = "13", **fields: Any) -> Building:
    """Marseille by default; in Paris for département 75."""
    if department == "75":
        paris = CommuneFactory.create(
            code="75056",
            name="Paris",
            department=DepartmentFactory.create(
                code="75",
                name="Paris",
                region=RegionFactory.create(code="11", name="IDF"),
            ),
        )
        fields["site"] = SiteFactory.create(commune=paris)
    fields.setdefault("point", None)
    return BuildingFactory.create(inventory_id=code, designation=code, **fields)


@pytest.fixture
def inventory() -> dict[str, Building]:
    """One building per kind of visibility, in 13 and 75."""
    return {
        "13-vacant": make_building("13-vacant", status=S.VACANT),
        "13-available": make_building("13-available", status=S.AVAILABLE),
        "13-in-use": make_building("13-in-use", status=S.IN_USE),
        "13-occupied": make_building("13-occupied", status=S.OCCUPIED),
        "13-confidential": make_building(
            "13-confidential", status=S.VACANT, is_confidential=True
        ),
        "75-assessed": make_building("75-assessed", "75", status=S.ASSESSED),
        "75-in-use": make_building("75-in-use", "75", status=S.IN_USE),
    }


PUBLIC = {"13-vacant", "13-available", "75-assessed"}
IN_13 = {"13-vacant", "13-available", "13-in-use", "13-occupied", "13-confidential"}
IN_75 = {"75-assessed", "75-in-use"}


def visible(user: User | AnonymousUser) -> set[str]:
    return set(
        building_list(scope=scope_for(user)).values_list("inventory_id", flat=True)
    )


def test_an_agent_sees_the_whole_inventory_of_their_territory_and_no_more(
    make_member: Callable[..., User], inventory: dict[str, Building]
) -> None:
    agent_13 = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    agent_75 = make_member(OrganizationKind.STATE_SERVICE, departments=["75"])

    assert visible(agent_13) == IN_13
    assert visible(agent_75) == IN_75


def test_a_viewer_of_a_state_service_reads_the_same_territory(
    make_member: Callable[..., User], inventory: dict[str, Building]
) -> None:
    viewer = make_member(
        OrganizationKind.STATE_SERVICE, departments=["13"], role=Role.VIEWER
    )

    assert visible(viewer) == IN_13


def test_a_national_service_and_a_superuser_see_everything(
    make_member: Callable[..., User], inventory: dict[str, Building]
) -> None:
    national = make_member(OrganizationKind.STATE_SERVICE, departments=[])
    superuser = User.objects.create_superuser("root", password="x" * 20)

    assert visible(national) == set(inventory)
    assert visible(superuser) == set(inventory)


@pytest.mark.parametrize("kind", [OrganizationKind.OPERATOR, OrganizationKind.FUNDER])
def test_operators_and_funders_see_the_public_stock_only(
    make_member: Callable[..., User], inventory: dict[str, Building], kind: str
) -> None:
    assert visible(make_member(kind)) == PUBLIC


def test_anonymous_visitors_see_the_public_stock_only(
    inventory: dict[str, Building],
) -> None:
    assert visible(AnonymousUser()) == PUBLIC


def test_the_public_stock_is_composed_once_and_handed_out_as_fresh_copies(
    inventory: dict[str, Building],
) -> None:
    """building_list keeps the public stock's queryset per process and hands out
    copies: rows one caller read are not served again after they changed, and a
    caller's filters never show through another call."""
    public = scope_for(AnonymousUser())
    read = building_list(scope=public)
    assert {b.inventory_id for b in read} == PUBLIC  # evaluates this copy
    narrowed = building_list(scope=public).filter(department_id="75")
    assert {b.inventory_id for b in narrowed} == {"75-assessed"}

    building_transition(
        building=inventory["13-vacant"], to=S.UNSAFE, by=None, reason="Étaiement."
    )
    again = building_list(scope=public)
    assert {b.inventory_id for b in again} == PUBLIC - {"13-vacant"}
    assert again.query.where == Building.objects.visible_to(public).query.where


def test_building_get_answers_does_not_exist_outside_the_scope(
    make_member: Callable[..., User], inventory: dict[str, Building]
) -> None:
    scope = scope_for(make_member(OrganizationKind.STATE_SERVICE, departments=["13"]))

    in_use = inventory["13-in-use"]
    assert building_get(scope=scope, pk=in_use.pk) == in_use
    with pytest.raises(Building.DoesNotExist):
        building_get(scope=scope, pk=inventory["75-assessed"].pk)


def test_status_history_is_newest_first_with_who_did_it(
    make_member: Callable[..., User],
) -> None:
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    building = make_building(
        "history", status=S.IN_USE, vacancy_since="2024-01-01", domaniality="public"
    )
    building_transition(building=building, to=S.VACANT, by=agent, reason="left")
    building_transition(building=building, to=S.ASSESSED, by=agent, reason="visited")

    history = list(building_status_history(building=building))

    assert [(c.from_status, c.to_status) for c in history] == [
        (S.VACANT, S.ASSESSED),
        (S.IN_USE, S.VACANT),
    ]
    assert history[0].changed_by == agent


# --- Distances, in metres on the spheroid.
# 0.01° of latitude along a meridian is 1,111.95 m on the mean sphere (R = 6,371
# km) and 1,110.93 m on GRS80 at 43° N (meridian radius of curvature
# M = a(1 − e²)/(1 − e² sin²φ)^1.5 ≈ 6,365,145 m, times 0.01° in radians).
GEODESIC_0_01_DEG_AT_43N = 1110.93
SPHERICAL_0_01_DEG = 1111.95


def north_of(degrees: float) -> Point:
    return Point(LON, LAT + degrees, srid=4326)


def make_friche(site_id: str, degrees: float) -> Friche:
    return Friche.objects.create(site_id=site_id, point=north_of(degrees))


def test_a_friche_0_01_degree_north_is_1_111_metres_away() -> None:
    building = make_building("origin", point=north_of(0))
    make_friche("north", 0.01)

    [friche] = nearby_friches(building=building, radius_m=2000)

    distance = friche.distance_m  # type: ignore[attr-defined]
    assert distance == pytest.approx(GEODESIC_0_01_DEG_AT_43N, rel=0.005)
    assert distance == pytest.approx(SPHERICAL_0_01_DEG, rel=0.005)


def test_nearby_friches_are_nearest_first_and_bounded_by_the_radius() -> None:
    building = make_building("origin", point=north_of(0))
    make_friche("far", 0.02)  # ≈ 2,222 m
    make_friche("near", 0.005)  # ≈ 555 m
    make_friche("middle", 0.01)  # ≈ 1,111 m

    friches = list(nearby_friches(building=building, radius_m=1500))

    assert [f.site_id for f in friches] == ["near", "middle"]
    assert friches[0].distance_m == pytest.approx(  # type: ignore[attr-defined]
        GEODESIC_0_01_DEG_AT_43N / 2, rel=0.005
    )


def test_nearby_buildings_are_nearest_first_within_the_radius_and_the_scope(
    make_member: Callable[..., User],
) -> None:
    origin = make_building("origin", point=north_of(0), status=S.VACANT)
    make_building("far", point=north_of(0.02), status=S.VACANT)
    make_building("near", point=north_of(0.005), status=S.IN_USE)
    make_building("middle", point=north_of(0.01), status=S.VACANT)
    agent = scope_for(make_member(OrganizationKind.STATE_SERVICE, departments=["13"]))

    for_agent = list(nearby_buildings(scope=agent, building=origin, radius_m=1500))
    for_public = list(
        nearby_buildings(scope=scope_for(None), building=origin, radius_m=1500)
    )

    assert [b.inventory_id for b in for_agent] == ["near", "middle"]
    assert for_agent[1].distance_m == pytest.approx(  # type: ignore[attr-defined]
        GEODESIC_0_01_DEG_AT_43N, rel=0.005
    )
    # The building in use is no public information.
    assert [b.inventory_id for b in for_public] == ["middle"]


def test_a_building_without_location_has_no_neighbours(
    make_member: Callable[..., User],
) -> None:
    building = make_building("nowhere")
    make_friche("somewhere", 0)
    agent = scope_for(make_member(OrganizationKind.STATE_SERVICE, departments=["13"]))

    assert list(nearby_friches(building=building)) == []
    assert list(nearby_buildings(scope=agent, building=building)) == []
