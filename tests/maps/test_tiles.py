"""Vector tiles: one ST_AsMVT per tile, scoped like the API, cached by ETag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mapbox_vector_tile
import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from buildings.models import Building, BuildingStatus
from maps.models import BuildingCluster
from maps.tiles import MEDIA_TYPE
from organizations.models import OrganizationKind
from tests.buildings.factories import (
    COLLECTIVITY_POINTS,
    MARSEILLE_POINT,
    collectivity_building,
)
from tests.maps.conftest import Inventory, tile_path

pytestmark = pytest.mark.django_db


def login(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def decode(content: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(content)  # type: ignore[no-any-return]


def features(client: Client, path: str, layer: str) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code in (200, 204), response.content
    if response.status_code == 204:
        return []
    return list(decode(response.content).get(layer, {}).get("features", []))


def by_id(found: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {feature["properties"]["id"]: feature["properties"] for feature in found}


def test_a_z14_tile_holds_the_public_buildings_with_their_public_attributes(
    inventory: Inventory,
) -> None:
    response = Client().get(tile_path(*MARSEILLE_POINT, 14))
    assert response.status_code == 200
    assert response["Content-Type"] == MEDIA_TYPE
    layer = decode(response.content)["buildings"]
    assert layer["extent"] == 4096
    assert by_id(layer["features"]) == {
        inventory.vacant.pk: {
            "id": inventory.vacant.pk,
            "status": "vacant",
            "designation": "Ancienne DDE",
            "city": "Marseille",
            "surface": 4000,
        }
    }
    (feature,) = layer["features"]
    assert feature["id"] == inventory.vacant.pk
    assert feature["geometry"]["type"] == "Point"


def test_an_agent_sees_the_confidential_and_in_use_buildings_of_the_territory(
    inventory: Inventory, agent: User
) -> None:
    found = by_id(features(login(agent), tile_path(*MARSEILLE_POINT, 14), "buildings"))
    assert set(found) == {
        inventory.vacant.pk,
        inventory.confidential.pk,
        inventory.in_use.pk,
    }
    assert found[inventory.confidential.pk]["confidential"] is True
    assert found[inventory.vacant.pk]["confidential"] is False


def test_the_confidential_building_is_absent_from_the_public_tiles_whoever_asks(
    inventory: Inventory, agent: User
) -> None:
    for client, public in ((Client(), False), (Client(), True), (login(agent), True)):
        path = tile_path(*MARSEILLE_POINT, 14, public=public)
        found = by_id(features(client, path, "buildings"))
        assert inventory.confidential.pk not in found
        assert inventory.in_use.pk not in found


def test_an_agent_of_another_territory_gets_nothing_of_marseille(
    inventory: Inventory, make_member: Callable[..., User]
) -> None:
    paris_agent = make_member(OrganizationKind.STATE_SERVICE, departments=["75"])
    client = login(paris_agent)
    assert features(client, tile_path(*MARSEILLE_POINT, 14), "buildings") == []
    assert features(client, tile_path(*MARSEILLE_POINT, 6), "clusters") == []
    paris = by_id(features(client, tile_path(2.3522, 48.8566, 14), "buildings"))
    assert set(paris) == {inventory.paris.pk}


def test_an_empty_tile_is_204_with_caching_headers(db: None) -> None:
    response = Client().get("/tiles/buildings/14/0/0.pbf")
    assert response.status_code == 204
    assert response.content == b""
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["ETag"]


def test_tiles_outside_the_pyramid_are_400(db: None) -> None:
    assert Client().get("/tiles/buildings/3/8/0.pbf").status_code == 400
    assert Client().get("/tiles/buildings/25/0/0.pbf").status_code == 400


def test_public_tiles_are_cacheable_and_agents_tiles_private_with_a_content_etag(
    inventory: Inventory, agent: User
) -> None:
    public = Client().get(tile_path(*MARSEILLE_POINT, 14))
    assert public["Cache-Control"] == "public, max-age=300"
    private = login(agent).get(tile_path(*MARSEILLE_POINT, 14))
    assert private["Cache-Control"] == "private, max-age=60"
    assert public["ETag"] != private["ETag"]
    again = Client().get(tile_path(*MARSEILLE_POINT, 14))
    assert again["ETag"] == public["ETag"]


def test_a_client_holding_the_tile_gets_304(inventory: Inventory) -> None:
    path = tile_path(*MARSEILLE_POINT, 14)
    etag = Client().get(path)["ETag"]
    response = Client().get(path, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response["ETag"] == etag
    changed = Client().get(path, headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


def test_low_zoom_tiles_draw_clusters_from_the_table(
    inventory: Inventory, agent: User
) -> None:
    public = features(Client(), tile_path(*MARSEILLE_POINT, 6), "clusters")
    # Marseille and Aix, 25 km apart: one 64-px cell at z6.
    assert sum(f["properties"]["count"] for f in public) == 2
    assert sum(f["properties"]["vacant"] for f in public) == 2
    agent_clusters = features(login(agent), tile_path(*MARSEILLE_POINT, 6), "clusters")
    assert sum(f["properties"]["count"] for f in agent_clusters) == 4
    assert sum(f["properties"]["vacant"] for f in agent_clusters) == 3


# Web connections plan serially from their options: a tile is its one statement,
# with no transaction and no SET LOCAL around it.
def statements(captured: list[dict[str, str]]) -> list[str]:
    return [q["sql"] for q in captured]


def test_a_low_zoom_tile_reads_the_cluster_table_not_the_buildings(
    inventory: Inventory, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1) as queries:
        Client().get(tile_path(*MARSEILLE_POINT, 6))
    (tile_sql,) = statements(queries.captured_queries)
    assert "maps_buildingcluster" in tile_sql
    assert "buildings_building" not in tile_sql
    assert "ST_AsMVT" in tile_sql


def test_a_point_tile_is_one_statement_on_a_serial_plan(
    inventory: Inventory, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1) as queries:
        Client().get(tile_path(*MARSEILLE_POINT, 14))
    (tile_sql,) = statements(queries.captured_queries)
    assert tile_sql.count("ST_AsMVT(") == 1


def test_the_status_filter_is_answered_by_the_cluster_table(
    inventory: Inventory, agent: User
) -> None:
    client = login(agent)
    path = tile_path(*MARSEILLE_POINT, 6) + "?status=in_use"
    clusters = features(client, path, "clusters")
    assert sum(f["properties"]["count"] for f in clusters) == 1
    assert sum(f["properties"]["vacant"] for f in clusters) == 0


def test_other_filters_aggregate_the_same_cells_on_the_fly(
    inventory: Inventory, agent: User
) -> None:
    client = login(agent)
    unfiltered = features(client, tile_path(*MARSEILLE_POINT, 9), "clusters")
    # A filter every building passes gives the table's clusters exactly.
    same = features(
        client, tile_path(*MARSEILLE_POINT, 9) + "?surface_min=0", "clusters"
    )
    key = lambda f: (f["geometry"]["coordinates"], f["properties"]["count"])  # noqa: E731
    assert sorted(map(key, same)) == sorted(map(key, unfiltered))
    large = features(
        client, tile_path(*MARSEILLE_POINT, 9) + "?surface_min=4000", "clusters"
    )
    assert sum(f["properties"]["count"] for f in large) == 3  # not Aix's 1,234 m²


def test_filters_narrow_the_point_tiles(inventory: Inventory, agent: User) -> None:
    found = by_id(
        features(
            login(agent),
            tile_path(*MARSEILLE_POINT, 14) + "?status=in_use",
            "buildings",
        )
    )
    assert set(found) == {inventory.in_use.pk}


def test_invalid_filters_are_400(agent: User) -> None:
    response = login(agent).get(tile_path(*MARSEILLE_POINT, 14) + "?status=nope")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=1,2", "bbox"),
        ("bbox=5,43,4,42", "bbox"),
        ("bbox=NaN,1,2,3", "bbox"),
        ("near=5.4,43.3", "radius"),
        ("near=abc&radius=10", "near"),
        ("available_from=2026-01-02&available_to=2026-01-01", "available_from"),
    ],
)
@pytest.mark.parametrize("public", [True, False])
def test_filters_checked_while_filtering_are_400_naming_the_parameter(
    inventory: Inventory, query: str, field: str, public: bool
) -> None:
    """bbox, near with radius and the date range check themselves while they
    filter, after the form's own validation: the tiles answered them with 500."""
    for z in (14, 9):  # points, and clusters aggregated on the fly
        response = Client().get(
            tile_path(*MARSEILLE_POINT, z, public=public) + "?" + query
        )
        assert response.status_code == 400, (z, response.content[:300])
        assert field in response.content.decode()


@pytest.mark.parametrize("public", [True, False])
def test_anonymous_callers_cannot_filter_tiles_on_the_ministry(
    inventory: Inventory, public: bool
) -> None:
    """The ministry is not a public property: answering the filter would reveal
    it one guess at a time (the API refuses it too)."""
    path = tile_path(*MARSEILLE_POINT, 14, public=public)
    ministry = inventory.vacant.ministry
    assert ministry
    for z in (14, 9):
        response = Client().get(
            tile_path(*MARSEILLE_POINT, z, public=public), {"ministry": ministry}
        )
        assert response.status_code == 400
        assert "ministry" in response.content.decode()
    assert Client().get(path).status_code == 200


def test_agents_filter_tiles_on_the_ministry(inventory: Inventory, agent: User) -> None:
    ministry = inventory.vacant.ministry
    path = tile_path(*MARSEILLE_POINT, 14)
    found = by_id(features(login(agent), f"{path}?ministry={ministry}", "buildings"))
    assert inventory.vacant.pk in found
    assert all(
        Building.objects.get(pk=pk).ministry.lower() == ministry.lower() for pk in found
    )


# --- The cluster table
def cluster_rows() -> list[tuple[Any, ...]]:
    return sorted(
        BuildingCluster.objects.values_list(
            "zoom", "x", "y", "scope", "status", "count"
        )
    )


def rebuilt_rows() -> list[tuple[Any, ...]]:
    from django.core.management import call_command

    call_command("refresh_clusters", verbosity=0)
    return cluster_rows()


def test_the_trigger_keeps_the_table_equal_to_a_rebuild(inventory: Inventory) -> None:
    maintained = cluster_rows()
    assert len(maintained) > 0
    assert maintained == rebuilt_rows()


def test_the_cluster_table_follows_a_status_change(inventory: Inventory) -> None:
    client = Client()
    path = tile_path(*MARSEILLE_POINT, 6)
    before = features(client, path, "clusters")
    assert sum(f["properties"]["count"] for f in before) == 2
    Building.objects.filter(pk=inventory.vacant.pk).update(status=BuildingStatus.IN_USE)
    after = features(client, path, "clusters")
    assert sum(f["properties"]["count"] for f in after) == 1
    assert cluster_rows() == rebuilt_rows()


def test_the_cluster_table_follows_moves_confidentiality_and_deletion(
    inventory: Inventory,
) -> None:
    from django.contrib.gis.geos import Point

    Building.objects.filter(pk=inventory.available.pk).update(
        point=Point(2.35, 48.85, srid=4326)
    )
    Building.objects.filter(pk=inventory.vacant.pk).update(is_confidential=True)
    Building.objects.filter(pk=inventory.paris.pk).delete()
    public_z0 = BuildingCluster.objects.filter(zoom=0, scope="public")
    assert sum(public_z0.values_list("count", flat=True)) == 1
    assert cluster_rows() == rebuilt_rows()


def test_every_public_status_and_only_those_make_the_public_clusters(
    inventory: Inventory,
) -> None:
    from buildings.models import PUBLIC_STATUSES

    for status in BuildingStatus.values:
        Building.objects.filter(pk=inventory.in_use.pk).update(status=status)
        public = BuildingCluster.objects.filter(
            zoom=0, scope="public", status=status
        ).exists()
        assert public == (status in PUBLIC_STATUSES), status


def test_a_filtered_point_tile_is_still_one_statement(
    inventory: Inventory,
    agent: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = login(agent)
    path = tile_path(*MARSEILLE_POINT, 14) + "?status=vacant"
    client.get(path)
    # session, user, memberships, the tile.
    with django_assert_max_num_queries(4) as queries:
        client.get(path)
    assert sum("ST_AsMVT(" in q["sql"] for q in queries.captured_queries) == 1


def test_tiles_filter_saint_barthelemy_on_its_commune_code(
    inventory: Inventory, make_member: Callable[..., User]
) -> None:
    """977 names no département: the tiles find its buildings by commune code,
    at low zooms by aggregating on the fly (the cluster table is keyed by
    département); it was a 400."""
    gustavia = collectivity_building("97701", vacant=True)
    national = login(make_member(OrganizationKind.STATE_SERVICE))
    here = COLLECTIVITY_POINTS["97701"]
    for client in (Client(), national):
        found = features(client, tile_path(*here, 14) + "?department=977", "buildings")
        assert set(by_id(found)) == {gustavia.pk}
        clusters = features(client, tile_path(*here, 6) + "?department=977", "clusters")
        assert sum(f["properties"]["count"] for f in clusters) == 1
        elsewhere = tile_path(*MARSEILLE_POINT, 6) + "?department=977"
        assert features(client, elsewhere, "clusters") == []
    both = features(
        national, tile_path(*MARSEILLE_POINT, 6) + "?department=13,978", "clusters"
    )
    assert sum(f["properties"]["count"] for f in both) == 4
