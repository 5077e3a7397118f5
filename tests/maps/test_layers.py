"""MapSpecs built from known rows: cheap, exact assertions (STYLE.md R8)."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.http import QueryDict
from django.test import override_settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from buildings.models import Building, Department, Friche
from maps import layers
from maps.layers import Basemap, LayerKind, MapSpec, quantile_breaks
from maps.selectors import building_selection, vacancy_heat
from organizations.selectors import PUBLIC_SCOPE, Scope, scope_for
from tests.buildings.factories import MARSEILLE_POINT
from tests.maps.conftest import Inventory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def features(geojson: str | None) -> dict[int, dict[str, Any]]:
    assert geojson is not None
    collection = json.loads(geojson)
    assert collection["type"] == "FeatureCollection"
    return {f["id"]: f for f in collection["features"]}


def inventory_spec(scope: Scope, query: str = "") -> layers.InventoryMap:
    selection = building_selection(scope=scope, params=QueryDict(query))
    return layers.inventory_map(scope=scope, selection=selection)


def square(x: float, y: float, size: float) -> MultiPolygon:
    ring = ((x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y))
    return MultiPolygon(Polygon(ring), srid=4326)


@override_settings(BASEMAP_URL="https://b.example/{z}/{x}/{y}.png")
def test_the_public_map_is_two_tile_layers_over_the_basemap(db: None) -> None:
    spec = layers.public_map()
    assert spec.basemap == Basemap(
        "https://b.example/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.ign.fr/">IGN</a> Plan IGN v2',
    )
    assert [(layer.key, layer.kind, layer.tile_url) for layer in spec.layers] == [
        ("friches", LayerKind.TILES, "/tiles/friches/{z}/{x}/{y}.pbf"),
        ("buildings", LayerKind.TILES, "/tiles/public/buildings/{z}/{x}/{y}.pbf"),
    ]
    buildings = spec.layer("buildings")
    assert dict(buildings.colours) == {
        "vacant": "#ce0500",
        "assessed": "#fc5d00",
        "available": "#18753c",
    }
    assert buildings.link is None  # no building page for the public
    assert [f.name for f in buildings.popup_fields] == ["status", "city", "surface"]
    assert spec.attributions == (
        "Buildings: DGFiP – Direction de l'immobilier de l'État (DIE)",
        "Cartofriches sites: Cerema",
        "Administrative boundaries: IGN – Admin Express, INSEE",
    )
    assert (spec.center, spec.zoom, spec.bounds) == ((46.6, 2.4), 6, None)


@override_settings(BASEMAP_URL="")
def test_an_empty_basemap_setting_means_no_basemap(db: None) -> None:
    assert layers.public_map().basemap is None


def test_the_agents_buildings_are_inline_with_their_popup_facts(
    inventory: Inventory, agent: User
) -> None:
    spec = inventory_spec(scope_for(agent))
    assert spec.matched == 4
    buildings = spec.spec.layer("buildings")
    assert (buildings.kind, buildings.cluster, buildings.feature_count) == (
        LayerKind.POINTS,
        True,
        4,
    )
    assert buildings.link == "/batiments/{id}/"
    found = features(buildings.geojson)
    assert found[inventory.vacant.pk] == {
        "type": "Feature",
        "id": inventory.vacant.pk,
        "geometry": {"type": "Point", "coordinates": list(MARSEILLE_POINT)},
        "properties": {
            "designation": "Ancienne DDE",
            "status": "vacant",
            "city": "Marseille",
            "surface": 4000,
            "confidential": False,
        },
    }
    assert found[inventory.confidential.pk]["properties"]["confidential"] is True
    assert inventory.paris.pk not in found  # another territory


def test_above_the_inline_limit_the_buildings_come_as_tiles_with_the_filters(
    inventory: Inventory, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layers, "INLINE_LIMIT", 1)
    spec = inventory_spec(scope_for(agent), "status=vacant&status=available")
    buildings = spec.spec.layer("buildings")
    assert buildings.kind is LayerKind.TILES
    assert buildings.geojson is None
    assert buildings.tile_url == (
        "/tiles/buildings/{z}/{x}/{y}.pbf?status=vacant&status=available"
    )
    assert spec.matched == 3


def test_choropleths_count_the_vacant_stock_by_departement(
    inventory: Inventory, agent: User
) -> None:
    Department.objects.filter(code="13").update(geometry=square(4.2, 43.1, 2.0))
    spec = inventory_spec(scope_for(agent)).spec
    outline = spec.layer("departments")
    count = spec.layer("departments-vacant-count")
    surface = spec.layer("departments-vacant-surface")
    # One FeatureCollection text, shared (render.py declares it once).
    assert outline.geojson is count.geojson is surface.geojson
    (department,) = features(outline.geojson).values()
    assert department["id"] == "13"
    assert department["properties"] == {
        "code": "13",
        "name": "Bouches-du-Rhône",
        # Vacant, available and the confidential vacant one: agents count it.
        "vacant_count": 3,
        "vacant_surface": 9234,
    }
    assert department["geometry"]["type"] == "MultiPolygon"
    assert (count.kind, count.value, count.breaks) == (
        LayerKind.CHOROPLETH,
        "vacant_count",
        (3.0,),
    )
    assert surface.breaks == (9234.4,)
    # The agent's territory frames the map.
    assert spec.bounds == ((43.1, 4.2), (45.1, 6.2))


def test_the_heatmap_reads_the_vacant_cells_of_the_territory(
    inventory: Inventory, agent: User
) -> None:
    heat = inventory_spec(scope_for(agent)).spec.layer("vacancy-heat")
    assert heat.kind is LayerKind.HEATMAP
    assert sum(weight for _, _, weight in heat.heat) == 3
    public = vacancy_heat(scope=PUBLIC_SCOPE)
    assert sum(weight for _, _, weight in public) == 3  # Paris, Marseille, Aix


def test_friches_are_inline_when_few_and_tiles_when_many(
    inventory: Inventory, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    Friche.objects.create(
        site_id="13055_1", site_nom="Ancienne usine", dep="13", point=Point(5.4, 43.3)
    )
    Friche.objects.create(
        site_id="75056_1", site_nom="Gare", dep="75", point=Point(2.35, 48.85)
    )
    friches = inventory_spec(scope_for(agent)).spec.layer("friches")
    assert friches.kind is LayerKind.POINTS
    assert [f["properties"]["name"] for f in features(friches.geojson).values()] == [
        "Ancienne usine"
    ]
    monkeypatch.setattr(layers, "INLINE_LIMIT", 0)
    friches = inventory_spec(scope_for(agent)).spec.layer("friches")
    assert (friches.kind, friches.tile_url, friches.min_zoom) == (
        LayerKind.TILES,
        "/tiles/friches/{z}/{x}/{y}.pbf",
        8,
    )


def test_quantile_breaks_ignore_zero_and_never_repeat() -> None:
    assert quantile_breaks([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == (
        2.0,
        4.0,
        6.0,
        8.0,
        10.0,
    )
    assert quantile_breaks([0, 5, 5, 5]) == (5.0,)
    assert quantile_breaks([0, 0]) == ()


def test_the_building_map_shows_its_vacant_neighbours_with_distances(
    inventory: Inventory, agent: User
) -> None:
    Friche.objects.create(
        site_id="13055_2",
        site_nom="Friche Belle de Mai",
        site_statut="friche sans projet",
        point=Point(MARSEILLE_POINT[0], MARSEILLE_POINT[1] + 0.002, srid=4326),
    )
    building = inventory.vacant
    building.footprint = square(5.3837, 43.3022, 0.0002)
    spec = layers.building_map_spec(building=building, scope=scope_for(agent))
    assert isinstance(spec, MapSpec)
    assert spec.center == (MARSEILLE_POINT[1], MARSEILLE_POINT[0])
    assert [layer.key for layer in spec.layers] == [
        "footprint",
        "nearby-buildings",
        "nearby-friches",
        "building",
    ]
    nearby = features(spec.layer("nearby-buildings").geojson)
    # The confidential vacant building 81 m east; not the one in use, not Aix.
    assert nearby == {
        inventory.confidential.pk: {
            "type": "Feature",
            "id": inventory.confidential.pk,
            "geometry": {
                "type": "Point",
                "coordinates": [MARSEILLE_POINT[0] + 0.001, MARSEILLE_POINT[1]],
            },
            "properties": {
                "designation": "Bien contrôlé par le ministère des Armées",
                "status": "vacant",
                "distance": 81,
            },
        }
    }
    (friche,) = features(spec.layer("nearby-friches").geojson).values()
    assert friche["properties"] == {
        "name": "Friche Belle de Mai",
        "status": "friche sans projet",
        "distance": 222,
    }
    footprint = json.loads(spec.layer("footprint").geojson or "")
    ring = footprint["features"][0]["geometry"]["coordinates"][0][0]
    # Counter-clockwise exterior ring (RFC 7946): positive signed area.
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring))
    assert area > 0


def test_a_building_without_a_point_has_no_map(
    inventory: Inventory, agent: User
) -> None:
    Building.objects.filter(pk=inventory.vacant.pk).update(point=None)
    inventory.vacant.refresh_from_db()
    assert (
        layers.building_map_spec(building=inventory.vacant, scope=scope_for(agent))
        is None
    )


def test_site_figures_layers_carry_aggregates_only(inventory: Inventory) -> None:
    layer = layers.site_figures_layer(
        key="funded",
        name="Funded sites",
        buildings=Building.objects.all(),
        figures={inventory.vacant.pk: {"committed": Decimal("150000.00")}},
        popup_fields=[layers.PopupField("committed", "Committed", "€")],
    )
    assert features(layer.geojson) == {
        inventory.vacant.pk: {
            "type": "Feature",
            "id": inventory.vacant.pk,
            "geometry": {"type": "Point", "coordinates": list(MARSEILLE_POINT)},
            "properties": {
                "designation": "Ancienne DDE",
                "city": "Marseille",
                "committed": 150000.0,
            },
        }
    }


def test_the_occupancy_map_places_sites_with_a_withheld_rate(agent: User) -> None:
    from tests.occupancy.factories import AgreementFactory, SpaceFactory

    agreement = AgreementFactory.create(active=True)
    space = SpaceFactory.create(building=agreement.building)
    from occupancy.models import AgreementSpace

    AgreementSpace.objects.create(
        agreement=agreement, space=space, period=agreement.period, is_live=True
    )
    today = timezone.localdate()
    spec = layers.occupancy_map(
        scope=scope_for(agent),
        start=today.replace(day=1) if today.day > 1 else today,
        end=today + __import__("datetime").timedelta(days=1),
    )
    (site,) = features(spec.layer("occupancy").geojson).values()
    assert site["id"] == agreement.building_id
    # A site, never a person: places and a rate, withheld under 5 people.
    assert set(site["properties"]) == {
        "designation",
        "city",
        "places",
        "occupancy_rate",
        "occupancy_class",
    }
    assert site["properties"]["occupancy_rate"] is None
    assert site["properties"]["occupancy_class"] == "withheld"


def test_more_sites_than_the_map_draws_inline_are_a_note_not_a_500(
    agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """site_figures_layer refuses more than INLINE_LIMIT sites: a national agent's
    occupancy map raised ValueError (found by a review)."""
    from datetime import timedelta

    from occupancy.models import AgreementSpace
    from tests.occupancy.factories import AgreementFactory, SpaceFactory

    for _ in range(2):
        agreement = AgreementFactory.create(active=True)
        space = SpaceFactory.create(building=agreement.building)
        AgreementSpace.objects.create(
            agreement=agreement, space=space, period=agreement.period, is_live=True
        )
    monkeypatch.setattr(layers, "INLINE_LIMIT", 1)
    today = timezone.localdate()
    spec = layers.occupancy_map(
        scope=scope_for(agent), start=today, end=today + timedelta(days=1)
    )
    assert spec.layers == ()
    assert spec.notes == (
        gettext(
            "The map is not drawn: it shows %(limit)s sites at most, and "
            "there are %(count)s under agreement in your territory."
        )
        % {"limit": 1, "count": 2},
    )
