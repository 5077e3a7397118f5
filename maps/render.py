"""MapSpec → HTML components, through folium. The only module that imports folium.

folium's figure is split into the three "components" of its Flask guide — header
(asset links and the map's own CSS), html (the map's div) and script (the JS that
builds it) — so that our Django templates place them (STYLE.md R8). Templates add
the request's CSP nonce to every inline <script> and <style> (maps_tags).

Assets are ours: every default JS/CSS URL of folium and of the plugins used is
replaced, per instance, by a static file served from node_modules
(config/staticfiles.py VENDOR_FILES); jQuery, Bootstrap, Font Awesome and the
awesome-markers, which folium loads by default, are dropped — nothing here uses
them. The map's header drops folium's full-page CSS (``html, body {height: 100%}``)
and its viewport meta, which would fight the page's own.

GeoJSON text goes into the script as it left PostGIS, with ``<`` escaped so that
no value can close the script element. Layers are built by static/maps/maps.js,
which writes popups with textContent (a building's designation is data, never
markup) and keeps every style in CSS classes or canvas (the CSP refuses inline
style attributes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
import folium.plugins
import orjson
from branca.element import Figure, MacroElement
from django.templatetags.static import static
from django.utils.html import escape, strip_tags
from django.utils.translation import gettext as _
from folium.elements import JSCSSMixin
from folium.map import Layer as FoliumLayer
from folium.template import Template

from maps.layers import (
    CHOROPLETH_COLOURS,
    NO_VALUE_COLOUR,
    Layer,
    LayerKind,
    LegendEntry,
    MapSpec,
)

LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
MARKERCLUSTER_JS = "vendor/leaflet.markercluster/leaflet.markercluster.js"
MARKERCLUSTER_CSS = (
    "vendor/leaflet.markercluster/MarkerCluster.css",
    "vendor/leaflet.markercluster/MarkerCluster.Default.css",
)
VECTORGRID_JS = "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"
HEAT_JS = "vendor/leaflet.heat/leaflet-heat.js"
MAPS_JS = "maps/maps.js"
MAPS_CSS = "maps/maps.css"
MAX_ZOOM = 19


@dataclass(frozen=True)
class RenderedMap:
    header: str  # <link>, <script src> and <style> elements, without nonces
    html: str  # the map's element
    script: str  # JavaScript, to go inside a <script nonce=…>
    spec: MapSpec

    @property
    def legend(self) -> list[tuple[Layer, tuple[LegendEntry, ...]]]:
        return [(layer, layer.legend) for layer in self.spec.layers if layer.legend]


class _Map(folium.Map):
    """folium.Map with local Leaflet and a header that styles the map element only."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>#{{ this.get_name() }} {position: relative; width: 100%;
                height: 100%;}</style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
            <div class="folium-map maps-map" id={{ this.get_name()|tojson }}></div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {
                    center: {{ this.location|tojson }},
                    crs: L.CRS.{{ this.crs }},
                    ...{{ this.options|tojavascript }}
                }
            );
            {%- if this.control_scale %}
            L.control.scale({imperial: false}).addTo({{ this.get_name() }});
            {%- endif %}
            IntercalaireMaps.register({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_js = [
            ("leaflet", static(LEAFLET_JS)),
            ("intercalaire_maps", static(MAPS_JS)),
        ]
        self.default_css = [
            ("leaflet_css", static(LEAFLET_CSS)),
            ("intercalaire_maps_css", static(MAPS_CSS)),
        ]


class _Data(MacroElement):
    """One FeatureCollection, declared once for the layers that share it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.text }};
        {% endmacro %}
        """
    )

    def __init__(self, geojson: str) -> None:
        super().__init__()
        self._name = "Data"
        # JSON has "<" only inside strings, where \\u003c means the same.
        self.text = (
            geojson.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
        )


class _GeoJsonLayer(JSCSSMixin, FoliumLayer):
    """An inline GeoJSON layer built by maps.js (points, areas or choropleth)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = IntercalaireMaps.{{ this.factory }}(
                {{ this.data.get_name() }}, {{ this.options|tojson }}
            );
            IntercalaireMaps.registerLayer({{ this.options.key|tojson }},
                {{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: Layer, data: _Data) -> None:
        super().__init__(name=layer.name, overlay=True, control=True, show=layer.show)
        self._name = "GeoJsonLayer"
        self.data = data
        self.factory = {
            LayerKind.POINTS: "pointLayer",
            LayerKind.AREAS: "areaLayer",
            LayerKind.CHOROPLETH: "choroplethLayer",
        }[layer.kind]
        self.options = _options(layer)
        self.default_js = (
            [("markercluster", static(MARKERCLUSTER_JS))] if layer.cluster else []
        )
        self.default_css = (
            [
                (f"markercluster_{i}", static(css))
                for i, css in enumerate(MARKERCLUSTER_CSS)
            ]
            if layer.cluster
            else []
        )


class _RegisterControl(MacroElement):
    """Hands the layer control to maps.js, which swaps the building layer in it
    when the side filters change."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            IntercalaireMaps.registerControl({{ this.control.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, control: folium.LayerControl) -> None:
        super().__init__()
        self._name = "RegisterControl"
        self.control = control


class _BindTiles(MacroElement):
    """Popups and registration of a VectorGridProtobuf layer."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            IntercalaireMaps.bindTiles({{ this._parent.get_name() }},
                {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "BindTiles"
        self.options = options


def _options(layer: Layer) -> dict[str, Any]:
    """What maps.js needs of a layer, as JSON."""
    return {
        "key": layer.key,
        "name": layer.name,
        "colour": layer.style.colour,
        "fillColour": layer.style.fill_colour,
        "weight": layer.style.weight,
        "fillOpacity": layer.style.fill_opacity,
        "radius": layer.style.radius,
        "colourBy": layer.colour_by,
        "colours": dict(layer.colours),
        "labels": dict(layer.labels),
        "value": layer.value,
        "breaks": list(layer.breaks),
        "classColours": list(CHOROPLETH_COLOURS),
        "noValueColour": NO_VALUE_COLOUR,
        "popupTitle": layer.popup_title,
        "popupFields": [
            {"name": f.name, "label": f.label, "unit": f.unit}
            for f in layer.popup_fields
        ],
        "link": layer.link,
        "cluster": layer.cluster,
        "minZoom": layer.min_zoom,
        "attribution": escape(layer.attribution),
        "text": {
            "yes": _("yes"),
            "no": _("no"),
            "open": _("Open the building's page"),
            "buildings": _("buildings"),
            "vacant": _("of which vacant"),
            "zoomIn": _("Zoom in"),
        },
    }


def _tile_layer(layer: Layer) -> FoliumLayer:
    assert layer.tile_url is not None  # noqa: S101 - LayerKind.TILES has one
    options = _options(layer)
    options_json = json.dumps(options).replace("<", "\\u003c")
    grid = folium.plugins.VectorGridProtobuf(
        layer.tile_url,
        name=layer.name,
        # A JS expression: maps.js turns our options into VectorGrid's (canvas
        # renderer, per-layer style functions for points and clusters).
        options=f"IntercalaireMaps.tileOptions({options_json})",
        overlay=True,
        control=True,
        show=layer.show,
    )
    grid.default_js = [("vectorGrid", static(VECTORGRID_JS))]
    grid.add_child(_BindTiles(options))
    return grid


def _heat_layer(layer: Layer) -> FoliumLayer:
    weights = [weight for _, _, weight in layer.heat] or [1]
    heat = folium.plugins.HeatMap(
        [[lat, lon, weight] for lat, lon, weight in layer.heat],
        name=layer.name,
        radius=int(layer.style.radius),
        blur=15,
        min_opacity=0.3,
        overlay=True,
        control=True,
        show=layer.show,
        max=float(max(weights)),
    )
    heat.default_js = [("leaflet-heat.js", static(HEAT_JS))]
    return heat


def layer_update(layer: Layer, data_ref: str | None = None) -> dict[str, Any]:
    """A layer as maps.js draws it after the page (``replaceLayer``): the options
    the page would have built it with, its legend, and its data — inline
    GeoJSON (passed through as PostGIS wrote it, or named by ``data_ref`` in
    the response's ``data``), heat cells, or a tile URL."""
    update: dict[str, Any] = {
        "kind": str(layer.kind),
        "show": layer.show,
        "options": _options(layer),
        "legend": [
            {"label": entry.label, "colour": entry.colour} for entry in layer.legend
        ],
    }
    if layer.kind is LayerKind.TILES:
        update["url"] = layer.tile_url
    elif layer.kind is LayerKind.HEATMAP:
        weights = [weight for _, _, weight in layer.heat] or [1]
        update["heat"] = [list(cell) for cell in layer.heat]
        update["max"] = float(max(weights))
    elif data_ref is not None:
        update["dataRef"] = data_ref
    else:
        assert layer.geojson is not None  # noqa: S101 - inline kinds have one
        update["data"] = orjson.Fragment(layer.geojson)
    return update


def overlay_updates(layers: Sequence[Layer], notes: Sequence[str]) -> dict[str, Any]:
    """Layers drawn after the page, each FeatureCollection sent once however many
    layers share it (a département outline and its two choropleths)."""
    data: dict[str, orjson.Fragment] = {}
    refs: dict[str, str] = {}
    updates = []
    for layer in layers:
        ref = None
        if layer.geojson is not None:
            ref = refs.get(layer.geojson)
            if ref is None:
                ref = refs[layer.geojson] = f"d{len(refs)}"
                data[ref] = orjson.Fragment(layer.geojson)
        updates.append(layer_update(layer, ref))
    return {"layers": updates, "data": data, "notes": list(notes)}


def render_map(spec: MapSpec) -> RenderedMap:
    """The three components of ``spec``'s map."""
    figure_map = _Map(
        location=list(spec.center),
        zoom_start=spec.zoom,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        max_zoom=MAX_ZOOM,
    )
    # On the map itself, not only on a basemap: without a basemap Leaflet has no
    # maximum zoom, and markercluster refuses to start.
    figure_map.options["max_zoom"] = MAX_ZOOM
    if spec.replaceable:
        # The building layer may turn from inline points into tiles (or back) in
        # place: both renderers' assets load with the page, once (same names).
        figure_map.default_js += [
            ("markercluster", static(MARKERCLUSTER_JS)),
            ("vectorGrid", static(VECTORGRID_JS)),
            ("leaflet-heat.js", static(HEAT_JS)),
        ]
        figure_map.default_css += [
            (f"markercluster_{i}", static(css))
            for i, css in enumerate(MARKERCLUSTER_CSS)
        ]
    if spec.basemap is not None:
        folium.TileLayer(
            tiles=spec.basemap.url,
            # As text: a link in the map's script would name another host there
            # (the page's sources paragraph carries the attribution too).
            attr=strip_tags(spec.basemap.attribution),
            name=_("Basemap"),
            max_zoom=MAX_ZOOM,
            overlay=False,
            control=False,
        ).add_to(figure_map)
    datasets: dict[str, _Data] = {}
    for layer in spec.layers:
        if layer.kind is LayerKind.TILES:
            _tile_layer(layer).add_to(figure_map)
        elif layer.kind is LayerKind.HEATMAP:
            _heat_layer(layer).add_to(figure_map)
        else:
            assert layer.geojson is not None  # noqa: S101 - inline kinds have one
            data = datasets.get(layer.geojson)
            if data is None:
                data = datasets[layer.geojson] = _Data(layer.geojson)
                figure_map.add_child(data)
            _GeoJsonLayer(layer, data).add_to(figure_map)
    if spec.bounds is not None:
        figure_map.fit_bounds([list(corner) for corner in spec.bounds])
    if len(spec.layers) > 1 or spec.replaceable:
        control = folium.LayerControl(collapsed=False)
        control.add_to(figure_map)
        figure_map.add_child(_RegisterControl(control))
    figure = figure_map.get_root()
    assert isinstance(figure, Figure)  # noqa: S101 - folium.Map makes its own
    # branca's <meta http-equiv="content-type">: the page has its own charset.
    figure.header._children.pop("meta_http", None)
    figure.render()
    return RenderedMap(
        header=figure.header.render(),
        html=figure.html.render(),
        script=figure.script.render(),
        spec=spec,
    )
