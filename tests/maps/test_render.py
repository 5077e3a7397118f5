"""render.py: folium components with local assets, escaped data, nonces."""

from __future__ import annotations

import re
from dataclasses import replace

import orjson
import pytest
from django.template import Context, Template
from django.test import RequestFactory

from maps.layers import (
    Basemap,
    Layer,
    LayerKind,
    LegendEntry,
    MapSpec,
    Style,
    collection,
)
from maps.render import layer_update, render_map

HOSTILE = "</script><script>alert(1)</script>"


def spec() -> MapSpec:
    point = (
        '{"type":"Feature","id":1,"geometry":{"type":"Point","coordinates":[5.4,43.3]},'
        f'"properties":{{"designation":"{HOSTILE}"}}}}'
    )
    return MapSpec(
        center=(43.3, 5.4),
        zoom=12,
        layers=(
            Layer(
                key="sites",
                name="Sites & co",
                kind=LayerKind.POINTS,
                style=Style(colour="#000091"),
                geojson=collection(point),
                feature_count=1,
                cluster=True,
                legend=(LegendEntry("Site", "#000091"),),
            ),
            Layer(
                key="tiles",
                name="Tiles",
                kind=LayerKind.TILES,
                style=Style(colour="#000091"),
                tile_url="/tiles/buildings/{z}/{x}/{y}.pbf?status=vacant",
            ),
            Layer(
                key="heat",
                name="Heat",
                kind=LayerKind.HEATMAP,
                style=Style(colour="#ce0500", radius=20),
                heat=((43.3, 5.4, 3),),
            ),
        ),
        basemap=Basemap("https://tiles.example.org/{z}/{x}/{y}.png", "Test"),
    )


def test_the_components_reference_local_assets_only() -> None:
    rendered = render_map(spec())
    sources = re.findall(r'(?:src|href)="([^"]+)"', rendered.header)
    assert sources == [
        "/static/vendor/leaflet/leaflet.js",
        "/static/maps/maps.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/maps/maps.css",
        "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
        "/static/vendor/leaflet.markercluster/MarkerCluster.css",
        "/static/vendor/leaflet.markercluster/MarkerCluster.Default.css",
        "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
        "/static/vendor/leaflet.heat/leaflet-heat.js",
    ]
    hosts = set(re.findall(r"https?://[^/\"'\\ ]+", rendered.header + rendered.script))
    assert hosts == {"https://tiles.example.org"}
    # folium's full-page CSS and viewport meta stay out of our pages.
    assert "html, body" not in rendered.header
    assert "viewport" not in rendered.header


def test_data_cannot_close_the_script_element() -> None:
    rendered = render_map(spec())
    assert "</script" not in rendered.script.lower()
    assert "\\u003c/script\\u003e" in rendered.script


def test_the_template_tags_put_the_nonce_on_every_inline_element() -> None:
    request = RequestFactory().get("/")
    request.csp_nonce = "abc123"  # type: ignore[attr-defined]
    html = Template('{% include "maps/_map.html" with map=map %}').render(
        Context({"map": render_map(spec()), "request": request})
    )
    inline = [
        tag
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", html)
        if "src=" not in tag
    ]
    assert len(inline) >= 2
    assert all('nonce="abc123"' in tag for tag in inline), inline
    assert 'data-layer="sites"' in html  # the legend


@pytest.mark.parametrize("kind", ["pointLayer", "vectorGrid.protobuf", "heatLayer"])
def test_each_layer_kind_is_built(kind: str) -> None:
    assert kind in render_map(spec()).script


def test_a_replaceable_map_loads_both_renderers_and_registers_its_control() -> None:
    rendered = render_map(replace(spec(), replaceable=True))
    assert rendered.header.count("leaflet.markercluster.js") == 1
    assert rendered.header.count("Leaflet.VectorGrid.bundled.min.js") == 1
    assert "IntercalaireMaps.registerControl(" in rendered.script


def test_a_layer_update_passes_the_geojson_through() -> None:
    points, tiles = spec().layers[:2]
    update = orjson.loads(orjson.dumps(layer_update(points)))
    assert update["kind"] == "points"
    assert update["data"]["features"][0]["properties"]["designation"] == HOSTILE
    assert update["options"]["key"] == "sites"
    assert (
        layer_update(tiles)["url"] == "/tiles/buildings/{z}/{x}/{y}.pbf?status=vacant"
    )
