"""What a map shows, as plain frozen dataclasses built from selectors (STYLE.md R8).

No folium here: ``render.py`` draws a ``MapSpec``; tests assert on it exactly.
A layer carries either GeoJSON text (written by PostGIS, passed through) or a
vector-tile URL. The building layer is inline up to ``INLINE_LIMIT`` features and
vector tiles beyond: folium pages embedding tens of thousands of features weigh
megabytes and take seconds to minutes to draw (performance.md §3.7), whereas a
tile layer is a few hundred bytes of page whatever the inventory's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Round
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

from buildings.geojson import GeometryKind, SortKey, feature_page
from buildings.geometry import DistanceMetres, DWithinMetres
from buildings.models import PUBLIC_STATUSES, Building, BuildingStatus, Friche
from buildings.selectors import NEARBY_DEFAULT_M, building_list
from maps import selectors
from maps.selectors import AreaRow, Selection
from maps.tiles import FRICHE_MIN_ZOOM
from occupancy.indicators import IndicatorRow
from occupancy.rules import rules
from organizations.selectors import Scope

# Never more features than this inline in a page; beyond, vector tiles.
INLINE_LIMIT = 2000
# The side list counts matches exactly up to here, then says "more than".
COUNT_CAP = 10_000
# Commune layers are inline polygons: shown when the territory (or the
# département filter) holds at most this many communes.
COMMUNE_LIMIT = 1500
FRANCE_CENTER = (46.6, 2.4)
FRANCE_ZOOM = 6
BUILDING_ZOOM = 16

STATUS_COLOURS: dict[str, str] = {
    BuildingStatus.IN_USE: "#929292",
    BuildingStatus.VACANT: "#ce0500",
    BuildingStatus.ASSESSED: "#fc5d00",
    BuildingStatus.AVAILABLE: "#18753c",
    BuildingStatus.UNDER_AGREEMENT: "#0063cb",
    BuildingStatus.OCCUPIED: "#000091",
    BuildingStatus.RELEASING: "#8585f6",
    BuildingStatus.SUSPENDED: "#a558a0",
    BuildingStatus.UNSAFE: "#3a3a3a",
    BuildingStatus.ILLEGALLY_OCCUPIED: "#6e445a",
    BuildingStatus.DISPOSED: "#cecece",
    BuildingStatus.REASSIGNED: "#b7a73f",
    BuildingStatus.DEMOLISHED: "#666666",
}
# Sequential classes of the choropleths (ColorBrewer "Reds"), and areas with none.
CHOROPLETH_COLOURS = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
NO_VALUE_COLOUR = "#f6f6f6"
FRICHE_COLOUR = "#7d4e5b"
OUTLINE_COLOUR = "#000091"
SITE_COLOUR = "#000091"


def sources() -> dict[str, str]:
    """Data sources by key, named as their licences ask (Licence Ouverte 2.0)."""
    return {
        "die": _("Buildings: DGFiP – Direction de l'immobilier de l'État (DIE)"),
        "cartofriches": _("Cartofriches sites: Cerema"),
        "boundaries": _("Administrative boundaries: IGN – Admin Express, INSEE"),
    }


class LayerKind(StrEnum):
    POINTS = "points"  # inline GeoJSON points
    AREAS = "areas"  # inline GeoJSON polygons, outlined
    CHOROPLETH = "choropleth"  # inline GeoJSON polygons filled by a value
    HEATMAP = "heatmap"  # weighted points
    TILES = "tiles"  # Mapbox vector tiles


@dataclass(frozen=True)
class PopupField:
    name: str  # feature property
    label: str
    unit: str = ""


@dataclass(frozen=True)
class Style:
    colour: str
    fill_colour: str | None = None
    weight: float = 1.0
    fill_opacity: float = 0.0
    radius: float = 6.0


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str


@dataclass(frozen=True)
class Layer:
    key: str  # stable: tests, the page's legend and the browser address it
    name: str  # shown in the layer control
    kind: LayerKind
    style: Style
    geojson: str | None = None  # FeatureCollection text (layers may share one)
    feature_count: int = 0
    tile_url: str | None = None  # with {z}/{x}/{y}
    heat: tuple[tuple[float, float, int], ...] = ()
    # Point colours by a property's value, and that value's label.
    colour_by: str | None = None
    colours: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    # Choropleth: the property and the upper bounds of its classes.
    value: str | None = None
    breaks: tuple[float, ...] = ()
    popup_title: str | None = None
    popup_fields: tuple[PopupField, ...] = ()
    link: str | None = None  # URL template with {id}
    cluster: bool = False
    show: bool = True
    min_zoom: int | None = None
    legend: tuple[LegendEntry, ...] = ()
    attribution: str = ""


@dataclass(frozen=True)
class Basemap:
    url: str
    attribution: str


@dataclass(frozen=True)
class MapSpec:
    center: tuple[float, float]  # lat, lon
    zoom: int
    layers: tuple[Layer, ...]
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
    basemap: Basemap | None = None
    attributions: tuple[str, ...] = ()
    # Text beside the map for what a map cannot say (a layer left out, a cap).
    notes: tuple[str, ...] = field(default=())
    # The side filters redraw the building layer in place (maps/filters.js).
    replaceable: bool = False

    def layer(self, key: str) -> Layer:
        return next(layer for layer in self.layers if layer.key == key)


def basemap() -> Basemap | None:
    """The configured basemap; none when BASEMAP_URL is empty (tests, offline)."""
    if not settings.BASEMAP_URL:
        return None
    return Basemap(settings.BASEMAP_URL, settings.BASEMAP_ATTRIBUTION)


def collection(features: str) -> str:
    return '{"type":"FeatureCollection","features":[' + features + "]}"


def tile_url(name: str, params: Mapping[str, object] | QueryDict | None = None) -> str:
    """The URL template of a tile route, with a query string if any."""
    first = reverse(name, kwargs={"z": 0, "x": 0, "y": 0})
    url = first.removesuffix("0/0/0.pbf") + "{z}/{x}/{y}.pbf"
    if params:
        query = (
            params.urlencode() if isinstance(params, QueryDict) else urlencode(params)
        )
        if query:
            url += "?" + query
    return url


def building_link() -> str:
    return reverse("buildings:detail", kwargs={"pk": 0}).replace("/0/", "/{id}/")


# --- Buildings
def _status_entries(
    statuses: Sequence[str],
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    colours = tuple((str(s), STATUS_COLOURS[s]) for s in statuses)
    labels = tuple((str(s), str(BuildingStatus(s).label)) for s in statuses)
    return colours, labels


def _status_legend(statuses: Sequence[str]) -> tuple[LegendEntry, ...]:
    return tuple(
        LegendEntry(str(BuildingStatus(s).label), STATUS_COLOURS[s]) for s in statuses
    )


def _building_popup(*, agent: bool) -> tuple[PopupField, ...]:
    fields: tuple[PopupField, ...] = (
        PopupField("status", _("Status")),
        PopupField("city", _("City")),
        PopupField("surface", _("Surface"), "m²"),
    )
    if agent:
        fields += (PopupField("confidential", _("Confidential")),)
    return fields


def building_layer(
    *, scope: Scope, selection: Selection, tiles_route: str
) -> tuple[Layer, int]:
    """The caller's buildings coloured by status, and how many match (capped at
    COUNT_CAP + 1). Inline and clustered in the browser up to INLINE_LIMIT,
    vector tiles (clusters from the cluster table at low zoom) beyond."""
    agent = scope.is_state_agent
    statuses = list(BuildingStatus.values) if agent else list(PUBLIC_STATUSES)
    colours, labels = _status_entries(statuses)
    common = {
        "key": "buildings",
        "name": _("Buildings"),
        "style": Style(colour="#ffffff", weight=1.0, fill_opacity=0.9, radius=7.0),
        "colour_by": "status",
        "colours": colours,
        "labels": labels,
        "popup_title": "designation",
        "popup_fields": _building_popup(agent=agent),
        "link": building_link() if agent else None,
        "legend": _status_legend(statuses),
        "attribution": sources()["die"],
    }
    located = selection.queryset.filter(point__isnull=False)
    page = feature_page(
        located.annotate(
            surface=Round("surface_m2"), confidential=F("is_confidential")
        ),
        matched_of=located,
        properties=["designation", "status", "city", "surface"]
        + (["confidential"] if agent else []),
        geometry=GeometryKind.POINT,
        sort=[SortKey("id", nulls_last=None)],
        limit=INLINE_LIMIT,
        count_cap=COUNT_CAP,
    )
    if page.matched <= INLINE_LIMIT:
        layer = Layer(
            kind=LayerKind.POINTS,
            geojson=collection(page.features.decode()),
            feature_count=page.returned,
            cluster=True,
            **common,  # type: ignore[arg-type]
        )
    else:
        params = selection.filterset.form.data
        layer = Layer(
            kind=LayerKind.TILES,
            tile_url=tile_url(tiles_route, _filter_query(params)),
            feature_count=page.matched,
            **common,  # type: ignore[arg-type]
        )
    return layer, page.matched


def _filter_query(params: object) -> dict[str, str] | QueryDict | None:
    if isinstance(params, QueryDict):
        query = params.copy()
        query.pop("page", None)
        return query
    return None


# --- Areas
def quantile_breaks(
    values: Sequence[float | Decimal], classes: int = 5
) -> tuple[float, ...]:
    """Upper bounds of up to ``classes`` classes holding as many non-zero values
    each (zero has its own colour)."""
    ordered = sorted(float(v) for v in values if v)
    if not ordered:
        return ()
    bounds: list[float] = []
    for index in range(1, classes + 1):
        bound = ordered[min(len(ordered) - 1, -(-index * len(ordered) // classes) - 1)]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return tuple(bounds)


def _breaks_legend(breaks: Sequence[float], unit: str) -> tuple[LegendEntry, ...]:
    entries = [LegendEntry(_("none"), NO_VALUE_COLOUR)]
    low = 0.0
    for index, high in enumerate(breaks):
        label = (
            f"{_format(low)} – {_format(high)}{unit}"
            if low
            else f"≤ {_format(high)}{unit}"
        )
        entries.append(LegendEntry(label, CHOROPLETH_COLOURS[index]))
        low = high
    return tuple(entries)


def _format(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def area_layers(
    *,
    key: str,
    name: str,
    rows: Sequence[AreaRow],
    outline_show: bool,
    choropleths: bool,
) -> list[Layer]:
    """An outline layer and, with ``choropleths``, the vacant count and vacant
    surface, all three sharing one FeatureCollection text."""
    if not rows:
        return []
    geojson = collection(",".join(row.feature for row in rows))
    popup = (
        PopupField("code", _("INSEE code")),
        PopupField("vacant_count", _("Vacant buildings")),
        PopupField("vacant_surface", _("Vacant surface"), "m²"),
    )
    layers = [
        Layer(
            key=key,
            name=name,
            kind=LayerKind.AREAS,
            style=Style(colour=OUTLINE_COLOUR, weight=1.0),
            geojson=geojson,
            feature_count=len(rows),
            popup_title="name",
            popup_fields=popup,
            show=outline_show,
            attribution=sources()["boundaries"],
        )
    ]
    if not choropleths:
        return layers
    for value, label, unit, numbers in (
        ("vacant_count", _("vacant buildings"), "", [r.vacant_count for r in rows]),
        (
            "vacant_surface",
            _("vacant surface (m²)"),
            " m²",
            [r.vacant_surface for r in rows],
        ),
    ):
        breaks = quantile_breaks(numbers)
        layers.append(
            Layer(
                key=f"{key}-{value.replace('_', '-')}",
                name=f"{name}: {label}",
                kind=LayerKind.CHOROPLETH,
                style=Style(colour="#666666", weight=0.5, fill_opacity=0.7),
                geojson=geojson,
                feature_count=len(rows),
                value=value,
                breaks=breaks,
                popup_title="name",
                popup_fields=popup,
                show=False,
                legend=_breaks_legend(breaks, unit),
                attribution=sources()["boundaries"],
            )
        )
    return layers


# --- Cartofriches
def friche_layer(
    *, scope: Scope, departments: Sequence[str] = (), show: bool = False
) -> Layer:
    common = {
        "key": "friches",
        "name": _("Cartofriches sites"),
        "style": Style(
            colour=FRICHE_COLOUR,
            fill_colour=FRICHE_COLOUR,
            fill_opacity=0.6,
            radius=5.0,
        ),
        "popup_title": "name",
        "popup_fields": (
            PopupField("status", _("Status")),
            PopupField("kind", _("Kind of site")),
        ),
        "show": show,
        "legend": (LegendEntry(_("Cartofriches site"), FRICHE_COLOUR),),
        "attribution": sources()["cartofriches"],
    }
    friches = selectors.friche_list(scope=scope, departments=departments)
    points = selectors.point_features(
        friches,
        properties={"name": "site_nom", "status": "site_statut", "kind": "site_type"},
        limit=INLINE_LIMIT,
    )
    if points.count <= INLINE_LIMIT:
        return Layer(
            kind=LayerKind.POINTS,
            geojson=collection(points.features),
            feature_count=points.count,
            **common,  # type: ignore[arg-type]
        )
    return Layer(
        kind=LayerKind.TILES,
        tile_url=tile_url("maps:friche-tile"),
        feature_count=points.count,
        min_zoom=FRICHE_MIN_ZOOM,
        **common,  # type: ignore[arg-type]
    )


# --- Maps
@dataclass(frozen=True)
class InventoryMap:
    spec: MapSpec
    matched: int  # capped at COUNT_CAP + 1


@dataclass(frozen=True)
class Overlays:
    layers: tuple[Layer, ...]
    notes: tuple[str, ...]


def inventory_overlays(*, scope: Scope, selection: Selection) -> Overlays:
    """The reference layers, choropleths and heatmap of the vacant stock of the
    selection, within the agent's territory."""
    departments = selection.departments
    notes: list[str] = []
    layers: list[Layer] = []
    layers += area_layers(
        key="departments",
        name=_("Départements"),
        rows=selectors.department_areas(scope=scope, buildings=selection.queryset),
        outline_show=True,
        choropleths=True,
    )
    communes = selectors.commune_count(scope=scope, departments=departments)
    if 0 < communes <= COMMUNE_LIMIT:
        layers += area_layers(
            key="communes",
            name=_("Communes"),
            rows=selectors.commune_areas(
                scope=scope, buildings=selection.queryset, departments=departments
            ),
            outline_show=False,
            choropleths=True,
        )
    elif communes:
        notes.append(
            _("Communes appear once the map is filtered on a few départements.")
        )
    layers += area_layers(
        key="arrondissements",
        name=_("Municipal arrondissements"),
        rows=selectors.arrondissement_areas(
            scope=scope, buildings=selection.queryset, departments=departments
        ),
        outline_show=False,
        choropleths=False,
    )
    heat = selectors.vacancy_heat(
        scope=scope, departments=departments, statuses=selection.statuses
    )
    layers.append(
        Layer(
            key="vacancy-heat",
            name=_("Vacancy heatmap"),
            kind=LayerKind.HEATMAP,
            style=Style(colour="#ce0500", radius=25.0),
            heat=tuple(heat),
            feature_count=len(heat),
            show=False,
            attribution=sources()["die"],
        )
    )
    return Overlays(tuple(layers), tuple(notes))


def inventory_map(
    *, scope: Scope, selection: Selection, overlays: bool = True
) -> InventoryMap:
    """The agents' map: the buildings of the selection and Cartofriches, with
    the overlays (``inventory_overlays``) — or without them, for a page that
    fetches them once drawn (``overlays=False``): their polygons and heat cells
    weighed 330 KB of a national page's 365 KB, and their queries most of its
    time (bench/maps.py)."""
    buildings, matched = building_layer(
        scope=scope, selection=selection, tiles_route="maps:building-tile"
    )
    departments = selection.departments
    extra = (
        inventory_overlays(scope=scope, selection=selection)
        if overlays
        else Overlays((), ())
    )
    notes = list(extra.notes)
    layers = list(extra.layers)
    friches = friche_layer(scope=scope, departments=departments)
    if friches.tile_url is not None:
        notes.append(
            _("Cartofriches sites appear from zoom level %(zoom)d.")
            % {"zoom": FRICHE_MIN_ZOOM}
        )
    layers += [friches, buildings]
    bounds = selectors.territory_bounds(scope=scope, departments=departments)
    spec = MapSpec(
        center=FRANCE_CENTER,
        zoom=FRANCE_ZOOM,
        layers=tuple(layers),
        bounds=bounds,
        basemap=basemap(),
        attributions=tuple(sources().values()),
        notes=tuple(notes),
        replaceable=True,
    )
    return InventoryMap(spec, matched)


def public_map() -> MapSpec:
    """The open-data map: the public stock through the public tiles, whatever its
    size (the page is the same few kilobytes for 10 or 200,000 buildings)."""
    statuses = list(PUBLIC_STATUSES)
    colours, labels = _status_entries(statuses)
    buildings = Layer(
        key="buildings",
        name=_("Vacant State buildings"),
        kind=LayerKind.TILES,
        style=Style(colour="#ffffff", weight=1.0, fill_opacity=0.9, radius=7.0),
        tile_url=tile_url("maps:public-building-tile"),
        colour_by="status",
        colours=colours,
        labels=labels,
        popup_title="designation",
        popup_fields=_building_popup(agent=False),
        legend=_status_legend(statuses),
        attribution=sources()["die"],
    )
    friches = Layer(
        key="friches",
        name=_("Cartofriches sites"),
        kind=LayerKind.TILES,
        style=Style(
            colour=FRICHE_COLOUR,
            fill_colour=FRICHE_COLOUR,
            fill_opacity=0.6,
            radius=5.0,
        ),
        tile_url=tile_url("maps:friche-tile"),
        popup_title="name",
        popup_fields=(
            PopupField("status", _("Status")),
            PopupField("kind", _("Kind of site")),
        ),
        show=False,
        min_zoom=FRICHE_MIN_ZOOM,
        legend=(LegendEntry(_("Cartofriches site"), FRICHE_COLOUR),),
        attribution=sources()["cartofriches"],
    )
    return MapSpec(
        center=FRANCE_CENTER,
        zoom=FRANCE_ZOOM,
        layers=(friches, buildings),
        basemap=basemap(),
        attributions=tuple(sources().values()),
        notes=(
            _("Cartofriches sites appear from zoom level %(zoom)d.")
            % {"zoom": FRICHE_MIN_ZOOM},
        ),
    )


def building_map_spec(
    *, building: Building, scope: Scope, radius_m: float = NEARBY_DEFAULT_M
) -> MapSpec | None:
    """A building, its footprint, and the vacant buildings and Cartofriches sites
    within ``radius_m`` metres with their distances; None when it is not located.

    Parcels are listed on the page, not drawn: the schema keeps their ids (IDU),
    not their geometry.
    """
    if building.point is None:
        return None
    layers: list[Layer] = []
    if building.footprint is not None:
        layers.append(
            Layer(
                key="footprint",
                name=_("Footprint"),
                kind=LayerKind.AREAS,
                style=Style(colour=OUTLINE_COLOUR, weight=2.0, fill_opacity=0.2),
                geojson=_footprint_collection(building),
                feature_count=1,
                attribution=sources()["die"],
            )
        )
    nearby = (
        building_list(scope=scope)
        .filter(status__in=PUBLIC_STATUSES)
        .exclude(pk=building.pk)
        .filter(DWithinMetres("point", building.point, radius_m))
        .annotate(distance_m=Round(DistanceMetres("point", building.point)))
    )
    points = selectors.point_features(
        nearby,
        properties={
            "designation": "designation",
            "status": "status",
            "distance": "distance_m",
        },
        limit=INLINE_LIMIT,
    )
    statuses = list(PUBLIC_STATUSES)
    colours, labels = _status_entries(statuses)
    layers.append(
        Layer(
            key="nearby-buildings",
            name=_("Vacant buildings within %(radius)d m") % {"radius": radius_m},
            kind=LayerKind.POINTS,
            style=Style(colour="#ffffff", weight=1.0, fill_opacity=0.9, radius=7.0),
            geojson=collection(points.features),
            feature_count=points.count,
            colour_by="status",
            colours=colours,
            labels=labels,
            popup_title="designation",
            popup_fields=(
                PopupField("status", _("Status")),
                PopupField("distance", _("Distance"), "m"),
            ),
            link=building_link() if scope.is_state_agent else None,
            legend=_status_legend(statuses),
            attribution=sources()["die"],
        )
    )
    friches = Friche.objects.filter(
        DWithinMetres("point", building.point, radius_m)
    ).annotate(distance_m=Round(DistanceMetres("point", building.point)))
    friche_points = selectors.point_features(
        friches,
        properties={
            "name": "site_nom",
            "status": "site_statut",
            "distance": "distance_m",
        },
        limit=INLINE_LIMIT,
    )
    layers.append(
        Layer(
            key="nearby-friches",
            name=_("Cartofriches sites within %(radius)d m") % {"radius": radius_m},
            kind=LayerKind.POINTS,
            style=Style(
                colour=FRICHE_COLOUR,
                fill_colour=FRICHE_COLOUR,
                fill_opacity=0.6,
                radius=5.0,
            ),
            geojson=collection(friche_points.features),
            feature_count=friche_points.count,
            popup_title="name",
            popup_fields=(
                PopupField("status", _("Status")),
                PopupField("distance", _("Distance"), "m"),
            ),
            legend=(LegendEntry(_("Cartofriches site"), FRICHE_COLOUR),),
            attribution=sources()["cartofriches"],
        )
    )
    own = Layer(
        key="building",
        name=str(building),
        kind=LayerKind.POINTS,
        style=Style(
            colour="#ffffff",
            fill_colour=OUTLINE_COLOUR,
            weight=2.0,
            fill_opacity=1.0,
            radius=9.0,
        ),
        geojson=collection(
            orjson.dumps(
                {
                    "type": "Feature",
                    "id": building.pk,
                    "geometry": {
                        "type": "Point",
                        "coordinates": [
                            round(building.point.x, 6),
                            round(building.point.y, 6),
                        ],
                    },
                    "properties": {
                        "designation": building.designation,
                        "status": building.status,
                    },
                }
            ).decode()
        ),
        feature_count=1,
        popup_title="designation",
        legend=(LegendEntry(_("This building"), OUTLINE_COLOUR),),
        attribution=sources()["die"],
    )
    layers.append(own)
    return MapSpec(
        center=(building.point.y, building.point.x),
        zoom=BUILDING_ZOOM,
        layers=tuple(layers),
        basemap=basemap(),
        attributions=(sources()["die"], sources()["cartofriches"]),
    )


def _footprint_collection(building: Building) -> str:
    """The footprint as RFC 7946 wants it: exterior rings counter-clockwise."""
    assert building.footprint is not None  # noqa: S101 - checked by the caller
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_AsGeoJSON(ST_ForcePolygonCCW(%s::geometry), 6)",
            [building.footprint.ewkt],
        )
        (geometry,) = cursor.fetchone()
    return collection(
        '{"type":"Feature","id":'
        + str(building.pk)
        + ',"geometry":'
        + geometry
        + ',"properties":{}}'
    )


# --- Sites with figures (occupancy here; funded sites for finance)
def site_figures_layer(
    *,
    key: str,
    name: str,
    buildings: QuerySet[Building],
    figures: Mapping[int, Mapping[str, object]],
    popup_fields: Sequence[PopupField],
    colour_by: str | None = None,
    colours: Sequence[tuple[str, str]] = (),
    labels: Sequence[tuple[str, str]] = (),
    legend: Sequence[LegendEntry] = (),
    link: str | None = None,
    colour: str = SITE_COLOUR,
) -> Layer:
    """Buildings as points with per-site figures: aggregates only, one point per
    building, never a person. Reusable by any app with per-building figures
    (the funders' "funded sites": ``figures = {building_id: {"committed": …}}``).

    ``buildings`` must already be scoped to the caller; only those with a point
    and with figures are drawn, at most INLINE_LIMIT of them (sites under an
    agreement or funded are hundreds, not thousands).
    """
    rows = list(
        buildings.filter(pk__in=list(figures), point__isnull=False)
        .order_by("pk")
        .values_list("pk", "designation", "city", "point")[: INLINE_LIMIT + 1]
    )
    if len(rows) > INLINE_LIMIT:
        raise ValueError(f"{key}: more than {INLINE_LIMIT} sites to draw inline")
    features = [
        {
            "type": "Feature",
            "id": pk,
            "geometry": {
                "type": "Point",
                "coordinates": [round(point.x, 6), round(point.y, 6)],
            },
            "properties": {
                "designation": designation,
                "city": city,
                **{name: _json_value(value) for name, value in figures[pk].items()},
            },
        }
        for pk, designation, city, point in rows
        if point is not None  # filtered above; narrows the type
    ]
    geojson = orjson.dumps({"type": "FeatureCollection", "features": features}).decode()
    return Layer(
        key=key,
        name=name,
        kind=LayerKind.POINTS,
        style=Style(
            colour="#ffffff",
            fill_colour=colour,
            weight=1.0,
            fill_opacity=0.9,
            radius=9.0,
        ),
        geojson=geojson,
        feature_count=len(features),
        colour_by=colour_by,
        colours=tuple(colours),
        labels=tuple(labels),
        popup_title="designation",
        popup_fields=tuple(popup_fields),
        link=link,
        legend=tuple(legend),
        attribution=sources()["die"],
    )


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


OCCUPANCY_CLASSES = (
    ("low", "#fc5d00"),  # under 50 %
    ("medium", "#b7a73f"),  # 50–80 %
    ("high", "#18753c"),  # 80–100 %
    ("over", "#6e445a"),  # above 100 %: a data error (indicators.py)
    ("withheld", "#929292"),
)


def _occupancy_class(row: IndicatorRow) -> str:
    rate = row.occupancy_rate
    if rate.suppressed or rate.value is None:
        return "withheld"
    value = Decimal(rate.value)
    if value > 1:
        return "over"
    if value >= Decimal("0.8"):
        return "high"
    if value >= Decimal("0.5"):
        return "medium"
    return "low"


def occupancy_figures(row: IndicatorRow) -> dict[str, object]:
    rate = row.occupancy_rate
    return {
        "places": row.places_at_end,
        "occupancy_rate": None
        if rate.suppressed or rate.value is None
        else round(float(rate.value) * 100, 1),
        "occupancy_class": _occupancy_class(row),
    }


def occupancy_map(*, scope: Scope, start: date, end: date) -> MapSpec:
    """Sites under agreement with their occupancy rate on ``[start, end)``."""
    buildings, rows = selectors.occupied_sites(scope=scope, start=start, end=end)
    located = buildings.filter(pk__in=list(rows), point__isnull=False).count()
    if located > INLINE_LIMIT:
        # Megabytes of page: a narrower territory draws.
        return MapSpec(
            center=FRANCE_CENTER,
            zoom=FRANCE_ZOOM,
            layers=(),
            bounds=selectors.territory_bounds(scope=scope),
            basemap=basemap(),
            notes=(
                _(
                    "The map is not drawn: it shows %(limit)s sites at most, and "
                    "there are %(count)s under agreement in your territory."
                )
                % {"limit": INLINE_LIMIT, "count": located},
            ),
        )
    labels = {
        "low": _("under 50 %"),
        "medium": _("50 to 80 %"),
        "high": _("80 to 100 %"),
        "over": _("above 100 % (data to check)"),
        "withheld": _("withheld (fewer than %(threshold)d people) or no place")
        % {"threshold": rules().small_cell_threshold},
    }
    layer = site_figures_layer(
        key="occupancy",
        name=_("Sites under agreement"),
        buildings=buildings,
        figures={pk: occupancy_figures(row) for pk, row in rows.items()},
        popup_fields=(
            PopupField("city", _("City")),
            PopupField("places", _("Places")),
            PopupField("occupancy_rate", _("Occupancy rate"), "%"),
        ),
        colour_by="occupancy_class",
        colours=OCCUPANCY_CLASSES,
        labels=tuple((k, str(v)) for k, v in labels.items()),
        legend=tuple(
            LegendEntry(str(labels[k]), colour) for k, colour in OCCUPANCY_CLASSES
        ),
        link=building_link(),
    )
    return MapSpec(
        center=FRANCE_CENTER,
        zoom=FRANCE_ZOOM,
        layers=(layer,),
        bounds=selectors.territory_bounds(scope=scope),
        basemap=basemap(),
        attributions=(sources()["die"],),
    )
