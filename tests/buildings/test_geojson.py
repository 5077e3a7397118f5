"""The PostGIS GeoJSON builder writes RFC 7946: lon/lat, 6 decimals, no crs,
counter-clockwise exterior rings, null for a missing geometry, typed properties.

``assert_rfc7946`` is the validator the API and export tests use too.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from buildings.geojson import (
    AGENT_PROPERTIES,
    PUBLIC_PROPERTIES,
    STORED_PROPERTIES,
    FeaturePage,
    GeometryKind,
    SortKey,
    feature_page,
    feature_stream,
)
from buildings.models import Building, BuildingFeature, BuildingStatus
from tests.buildings.factories import BuildingFactory, SiteFactory, wgs84

pytestmark = pytest.mark.django_db
GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
    "MultiPolygon", "GeometryCollection",
}  # fmt: skip


# --- The validator
def signed_area(ring: list[list[float]]) -> float:
    """Shoelace formula: positive for a counter-clockwise ring in lon/lat."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)) / 2


def assert_position(position: list[float]) -> None:
    assert len(position) == 2, position
    longitude, latitude = position
    assert -180 <= longitude <= 180, position
    assert -90 <= latitude <= 90, position
    # At most 6 decimals (0.1 m): RFC 7946 §11.2 advises against more.
    assert all(round(value, 6) == value for value in position), position


def assert_polygon(rings: list[list[list[float]]]) -> None:
    assert rings, "a polygon has an exterior ring"
    for index, ring in enumerate(rings):
        assert len(ring) >= 4, ring
        assert ring[0] == ring[-1], "rings are closed"
        for position in ring:
            assert_position(position)
        area = signed_area(ring)
        # §3.1.6: exterior rings counter-clockwise, holes clockwise.
        assert (area > 0) if index == 0 else (area < 0), (index, area)


def assert_geometry(geometry: dict[str, Any]) -> None:
    assert geometry["type"] in GEOMETRY_TYPES, geometry
    assert "crs" not in geometry
    coordinates = geometry["coordinates"]
    if geometry["type"] == "Point":
        assert_position(coordinates)
    elif geometry["type"] == "Polygon":
        assert_polygon(coordinates)
    elif geometry["type"] == "MultiPolygon":
        for polygon in coordinates:
            assert_polygon(polygon)
    else:
        pytest.fail(f"unexpected geometry in the inventory: {geometry['type']}")


def assert_feature(feature: dict[str, Any]) -> None:
    assert feature["type"] == "Feature"
    assert set(feature) <= {"type", "id", "geometry", "properties", "bbox"}
    assert "geometry" in feature, "geometry is required, null when unknown"
    assert isinstance(feature["properties"], dict)
    assert isinstance(feature.get("id", 0), str | int)
    if feature["geometry"] is not None:
        assert_geometry(feature["geometry"])


def assert_rfc7946(document: dict[str, Any]) -> None:
    """A Feature or FeatureCollection as RFC 7946 describes it."""
    assert "crs" not in document, "RFC 7946 §4 removed the crs member"
    if document["type"] == "FeatureCollection":
        assert isinstance(document["features"], list)
        for feature in document["features"]:
            assert_feature(feature)
    else:
        assert_feature(document)


# --- The builder
def clockwise_footprint(longitude: float, latitude: float) -> MultiPolygon:
    """A 40 m × 20 m rectangle drawn clockwise, with a clockwise hole (both wrong
    for RFC 7946), as some imported files draw them."""
    d = 0.0002
    exterior = (
        (longitude, latitude),
        (longitude, latitude + d),
        (longitude + 2 * d, latitude + d),
        (longitude + 2 * d, latitude),
        (longitude, latitude),
    )
    hole = (
        (longitude + d / 2, latitude + d / 4),
        (longitude + d, latitude + d / 4),
        (longitude + d, latitude + d / 2),
        (longitude + d / 2, latitude + d / 2),
        (longitude + d / 2, latitude + d / 4),
    )
    polygon = Polygon(exterior, hole, srid=4326)
    assert not polygon.exterior_ring.is_counterclockwise
    assert polygon[1].is_counterclockwise
    return MultiPolygon(polygon, srid=4326)


def table_page(
    *,
    geometry: GeometryKind = GeometryKind.POINT,
    properties: tuple[str, ...] = PUBLIC_PROPERTIES,
    sort: tuple[SortKey, ...] = (SortKey("id"),),
    limit: int = 100,
    count_cap: int = 1000,
) -> FeaturePage:
    """The first page of every building."""
    queryset = Building.objects.all()
    return feature_page(
        queryset,
        matched_of=queryset,
        properties=properties,
        geometry=geometry,
        sort=sort,
        limit=limit,
        count_cap=count_cap,
    )


def page_of(
    geometry: GeometryKind = GeometryKind.POINT,
    properties: tuple[str, ...] = PUBLIC_PROPERTIES,
    limit: int = 100,
) -> dict[str, Any]:
    page = table_page(geometry=geometry, properties=properties, limit=limit)
    document: dict[str, Any] = orjson.loads(
        b'{"type":"FeatureCollection","features":[' + page.features + b"]}"
    )
    return document


def test_points_come_out_as_longitude_then_latitude_with_six_decimals() -> None:
    building = BuildingFactory.create(point=wgs84(5.38381234567, 43.30231234567))
    collection = page_of()
    assert_rfc7946(collection)
    (feature,) = collection["features"]
    assert feature["id"] == building.pk
    assert feature["geometry"] == {
        "type": "Point",
        "coordinates": [5.383812, 43.302312],
    }


def test_footprints_are_turned_counter_clockwise_with_clockwise_holes() -> None:
    BuildingFactory.create(footprint=clockwise_footprint(5.38, 43.30))
    collection = page_of(GeometryKind.FOOTPRINT)
    assert_rfc7946(collection)
    (polygon,) = collection["features"][0]["geometry"]["coordinates"]
    assert signed_area(polygon[0]) > 0
    assert signed_area(polygon[1]) < 0


def test_a_missing_geometry_is_null_not_an_empty_object() -> None:
    """PostGIS 3.3's ST_AsGeoJSON(record) would write {"type": null} here."""
    BuildingFactory.create(footprint=None)
    BuildingFactory.create(unlocated=True)
    footprints = page_of(GeometryKind.FOOTPRINT)["features"]
    points = page_of(GeometryKind.POINT)["features"]
    assert [feature["geometry"] for feature in footprints] == [None, None]
    assert points[1]["geometry"] is None
    assert_rfc7946(page_of(GeometryKind.FOOTPRINT))


def test_properties_are_the_requested_ones_typed_as_json() -> None:
    site = SiteFactory.create()
    BuildingFactory.create(
        site=site,
        vacant=True,
        surface_m2=Decimal("1234.50"),
        erp=True,
        parcel_ids=["13201000AB0012"],
    )
    (public,) = page_of()["features"]
    assert set(public["properties"]) == set(PUBLIC_PROPERTIES)
    properties = public["properties"]
    assert properties["surface_m2"] == 1234.5
    assert properties["erp"] is True
    assert properties["vacancy_since"] == date(2016, 1, 1).isoformat()
    assert properties["commune"] == "13055"
    assert properties["department"] == "13"
    assert properties["status"] == BuildingStatus.VACANT
    assert "id" not in properties, "id is the Feature's, at the top level"
    (agent,) = page_of(properties=AGENT_PROPERTIES)["features"]
    assert set(agent["properties"]) == set(AGENT_PROPERTIES)
    assert agent["properties"]["parcel_ids"] == ["13201000AB0012"]
    assert agent["properties"]["site"] == site.pk
    assert agent["properties"]["guarding_cost_monthly"] == 3800


def test_text_with_quotes_and_control_characters_stays_valid_json() -> None:
    BuildingFactory.create(designation='Le "Bâtiment"\\ A\n\tà ; côté')
    (feature,) = page_of()["features"]
    assert feature["properties"]["designation"] == 'Le "Bâtiment"\\ A\n\tà ; côté'


def test_a_page_says_whether_more_rows_follow_and_where_it_ends() -> None:
    buildings = BuildingFactory.create_batch(5)
    page = table_page(limit=3)
    assert (page.returned, page.more) == (3, True)
    assert page.matched == 5
    assert page.head == (buildings[0].pk,)
    assert page.tail == (buildings[2].pk,)
    assert [f["id"] for f in orjson.loads(b"[" + page.features + b"]")] == [
        b.pk for b in buildings[:3]
    ]


def test_the_page_is_utf8_bytes_and_text_keys_stay_strings() -> None:
    """The page's text travels as bytes (no decode and re-encode); sort keys of a
    text type still come back as str, and other cursors still read text as str."""
    BuildingFactory.create(designation="Caserne Côté Nord")
    BuildingFactory.create(designation="Abbaye")
    page = table_page(sort=(SortKey("designation"), SortKey("id", nulls_last=None)))
    assert isinstance(page.features, bytes)
    assert "Côté".encode() in page.features
    assert page.head is not None
    assert page.tail is not None
    assert (page.head[0], page.tail[0]) == ("Abbaye", "Caserne Côté Nord")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'Côté'::text")
        assert cursor.fetchone()[0] == "Côté"


def test_the_count_stops_one_past_its_cap() -> None:
    BuildingFactory.create_batch(6)
    page = table_page(limit=2, count_cap=4)
    assert page.matched == 5


def test_an_empty_selection_gives_an_empty_page() -> None:
    page = feature_page(
        Building.objects.none(),
        matched_of=Building.objects.none(),
        properties=PUBLIC_PROPERTIES,
        geometry=GeometryKind.POINT,
        sort=[SortKey("id")],
        limit=10,
        count_cap=100,
    )
    assert (page.features, page.returned, page.matched, page.head) == (b"", 0, 0, None)
    assert not page.more


def test_the_stream_yields_every_feature_in_order() -> None:
    buildings = BuildingFactory.create_batch(7)
    streamed = [
        orjson.loads(text)
        for text in feature_stream(
            Building.objects.all(),
            properties=PUBLIC_PROPERTIES,
            geometry=GeometryKind.POINT,
            sort=[SortKey("id", descending=True)],
            chunk_size=3,
        )
    ]
    assert [feature["id"] for feature in streamed] == [
        b.pk for b in reversed(buildings)
    ]
    for feature in streamed:
        assert_feature(feature)


# --- The stored renditions (BuildingFeature, kept by triggers)
def rendered_on_the_fly(properties: tuple[str, ...], geometry: GeometryKind) -> str:
    return ",".join(
        feature_stream(
            Building.objects.all(),
            properties=properties,
            geometry=geometry,
            sort=[SortKey("id")],
        )
    )


def stored_page(properties: tuple[str, ...], geometry: GeometryKind) -> str:
    return table_page(
        properties=properties, geometry=geometry, limit=1000
    ).features.decode()


def assert_stored_equal_columns() -> None:
    assert BuildingFeature.objects.count() == Building.objects.count()
    for properties in STORED_PROPERTIES:
        for geometry in GeometryKind:
            assert stored_page(properties, geometry) == rendered_on_the_fly(
                properties, geometry
            ), (properties is AGENT_PROPERTIES, geometry)


def varied_buildings() -> list[Building]:
    return [
        BuildingFactory.create(
            vacant=True,
            surface_m2=Decimal("1234.50"),
            erp=True,
            parcel_ids=["13201000AB0012"],
            footprint=clockwise_footprint(5.38, 43.30),
            designation='Le "Bâtiment"\\ A\n\tà ; côté',
        ),
        BuildingFactory.create(footprint=None, year_built=None, surface_m2=None),
        BuildingFactory.create(unlocated=True),
        BuildingFactory.create(confidential=True),
    ]


def test_the_stored_texts_are_the_columns_rendered_on_the_fly() -> None:
    """Same bytes from both paths, for every property set and geometry: a
    property added to PUBLIC_PROPERTIES or AGENT_PROPERTIES without a migration
    of the triggers fails here."""
    varied_buildings()
    assert_stored_equal_columns()


def test_every_writer_keeps_the_stored_texts_current() -> None:
    first, second, *_ = varied_buildings()
    first.designation = "Renamed by save()"
    first.save()
    Building.objects.filter(pk=second.pk).update(status=BuildingStatus.AVAILABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE buildings_building SET surface_m2 = 99.5, point = NULL "
            "WHERE id = %s",
            [second.pk],
        )
    Building.objects.bulk_create(
        [BuildingFactory.build(site=first.site) for _ in range(3)]
    )
    assert_stored_equal_columns()
    Building.objects.filter(pk=first.pk).delete()
    assert not BuildingFeature.objects.filter(building_id=first.pk).exists()
    assert_stored_equal_columns()
    properties = orjson.loads(
        BuildingFeature.objects.get(building_id=second.pk).properties_head + "}"
    )
    assert properties["surface_m2"] == 99.5
    assert properties["status"] == BuildingStatus.AVAILABLE


def _stored_rows(columns: str) -> dict[int, tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT building_id, {columns} FROM buildings_buildingfeature")
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_migration_0009_rewrites_the_stored_texts_both_ways() -> None:
    """Backwards, the head and tail become the two objects of migration 0005
    again; forwards, the texts are the columns rendered on the fly."""
    varied_buildings()
    current = _stored_rows("properties_head, agent_tail")
    executor = MigrationExecutor(connection)
    executor.migrate([("buildings", "0008_field_labels")])
    old = _stored_rows("public_properties, agent_properties")
    assert old.keys() == current.keys()
    for building_id, (head, tail) in current.items():
        public, agent = (orjson.loads(text) for text in old[building_id])
        assert public == orjson.loads(head + "}")
        assert {**public, **agent} == orjson.loads(head + tail)
        assert not public.keys() & agent.keys()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert _stored_rows("properties_head, agent_tail") == current
    assert_stored_equal_columns()


@pytest.mark.parametrize(
    ("key", "reversed_sql"),
    [
        (SortKey("id", nulls_last=None), 'w."id" DESC'),
        (SortKey("surface_m2"), 'w."surface_m2" DESC NULLS FIRST'),
        (
            SortKey("designation", descending=True, nulls_last=False),
            'w."designation" ASC NULLS LAST',
        ),
    ],
)
def test_a_reversed_sort_key_mirrors_the_order_nulls_included(
    key: SortKey, reversed_sql: str
) -> None:
    """Backward pages are output in the mirror of the page's order."""
    assert key.reversed().sql("w") == reversed_sql
    assert key.reversed().reversed() == key
