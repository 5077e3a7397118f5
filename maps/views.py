"""Map pages and tiles: selector → layers → render → template (STYLE.md R8).

Tiles answer per caller like the API: anonymous visitors and non-agents get the
public stock (public fields of non-confidential vacant, assessed and available
buildings), State agents their territory. ``/tiles/public/…`` always answers the
public stock, whoever asks, so that the open-data map's tiles are one shared,
cacheable set. Empty tiles are ``204 No Content``: no body to send or store,
cacheable like a 200 (RFC 9110 §15.3.5), and read as an empty tile by
Leaflet.VectorGrid (``response.ok``) and by MapLibre alike.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotModified,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from buildings.forms import dsfr_filter_form
from buildings.views import state_agent_page
from config.database.routing import reads_replica
from maps import layers, tiles
from maps.forms import MAP_FILTERS, PeriodForm
from maps.render import layer_update, overlay_updates, render_map
from maps.selectors import Selection, building_selection, friche_list
from occupancy.rules import rules
from organizations.selectors import PUBLIC_SCOPE, Scope, scope_for

LIST_SIZE = 20
# Public tiles: shared caches may keep them a few minutes (a status change shows
# within that delay). Private tiles: the browser only, revalidated by ETag.
PUBLIC_CACHE = "public, max-age=300"
PRIVATE_CACHE = "private, max-age=60"


# --- Pages
def _results(selection: Selection, matched: int) -> dict[str, Any]:
    """The count and the list beside the map, for the page and for its updates."""
    return {
        "matched": matched,
        "count_cap": layers.COUNT_CAP,
        # Alphabetical for a selection the map draws inline; by id beyond,
        # where sorting 200,000 designations (no btree on it) took 0.5 s.
        "rows": selection.queryset.select_related("commune").order_by(
            *(("designation", "pk") if matched <= layers.INLINE_LIMIT else ("pk",))
        )[:LIST_SIZE],
        "query": selection.filterset.form.data.urlencode(),
    }


@state_agent_page
@require_safe
def inventory_map_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    selection = building_selection(
        scope=scope, params=request.GET, prepare_form=dsfr_filter_form
    )
    # The overlays come from inventory_overlays_data once the page is drawn.
    inventory = layers.inventory_map(scope=scope, selection=selection, overlays=False)
    form = selection.filterset.form
    return render(
        request,
        "maps/inventory_map.html",
        {
            "map": render_map(inventory.spec),
            "form": form,
            "fields": [form[name] for name in MAP_FILTERS],
            # The list's filters the side form has no field for (bbox, near, q…),
            # from a shared link: their errors go above the form, with their label.
            "other_errors": [
                (form[name].label, error)
                for name, errors in form.errors.items()
                if name in form.fields and name not in MAP_FILTERS
                for error in errors
            ],
            **_results(selection, inventory.matched),
        },
        status=200 if selection.valid else 400,
    )


def _refused(selection: Selection) -> HttpResponse:
    # The script then submits the form: the page shows the errors in place.
    errors = selection.filterset.form.errors.get_json_data()
    return HttpResponseBadRequest(
        orjson.dumps({"errors": errors}), content_type="application/json"
    )


@state_agent_page
@require_safe
@reads_replica
def inventory_selection(request: HttpRequest, scope: Scope) -> HttpResponse:
    """What the side filters change on the inventory map, as JSON for
    static/maps/filters.js: the building layer, the count and the list."""
    selection = building_selection(scope=scope, params=request.GET)
    if not selection.valid:
        return _refused(selection)
    buildings, matched = layers.building_layer(
        scope=scope, selection=selection, tiles_route="maps:building-tile"
    )
    context = _results(selection, matched)
    body = {
        "query": context["query"],
        "count": render_to_string("maps/_inventory_count.html", context, request),
        "results": render_to_string("maps/_inventory_results.html", context, request),
        "layer": layer_update(buildings),
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json")


@state_agent_page
@require_safe
@reads_replica
def inventory_overlays_data(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The inventory map's reference layers, choropleths and heatmap for the
    filters, as JSON for static/maps/filters.js: fetched once the page is drawn
    and again when a filter changes."""
    selection = building_selection(scope=scope, params=request.GET)
    if not selection.valid:
        return _refused(selection)
    overlays = layers.inventory_overlays(scope=scope, selection=selection)
    body = overlay_updates(overlays.layers, overlays.notes)
    return HttpResponse(orjson.dumps(body), content_type="application/json")


@require_safe
def public_map_page(request: HttpRequest) -> HttpResponse:
    return render(
        request, "maps/public_map.html", {"map": render_map(layers.public_map())}
    )


@state_agent_page
@require_safe
def occupancy_map_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    form = PeriodForm(request.GET)
    context: dict[str, Any] = {
        "form": form,
        "map": None,
        "threshold": rules().small_cell_threshold,
    }
    if not form.is_valid():
        return render(request, "maps/occupancy_map.html", context, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    spec = layers.occupancy_map(scope=scope, start=start, end=end)
    context.update(map=render_map(spec), start=start, end=end)
    return render(request, "maps/occupancy_map.html", context)


# --- Tiles
def _tile_response(
    request: HttpRequest, content: bytes, *, public: bool
) -> HttpResponse:
    """The tile with a strong ETag of its bytes; 304 when the client has them."""
    etag = '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE}
    given = request.headers.get("If-None-Match", "")
    if etag in {tag.strip() for tag in given.split(",")} or given.strip() == "*":
        response: HttpResponse = HttpResponseNotModified(headers=headers)
    elif not content:
        response = HttpResponse(status=204, headers=headers)
    else:
        response = HttpResponse(content, content_type=tiles.MEDIA_TYPE, headers=headers)
    return response


def _address(z: int, x: int, y: int) -> tiles.TileAddress | None:
    try:
        return tiles.TileAddress(z, x, y)
    except tiles.TileOutOfRange:
        return None


def _building_tile(
    request: HttpRequest, scope: Scope, z: int, x: int, y: int
) -> HttpResponse:
    address = _address(z, x, y)
    if address is None:
        return HttpResponseBadRequest(_("No such tile."))
    layer: tiles.BuildingPoints | tiles.BuildingClusters | tiles.FilteredClusters
    if not request.GET:
        layer = tiles.unfiltered_layer(scope=scope, tile=address)
    else:
        selection = building_selection(scope=scope, params=request.GET)
        if not selection.valid:
            return HttpResponseBadRequest(selection.filterset.form.errors.as_text())
        layer = tiles.building_layer(
            scope=scope,
            tile=address,
            queryset=selection.queryset,
            active_filters=selection.active,
            departments=selection.departments,
            statuses=selection.statuses,
        )
    content = tiles.render_tile(layer, address)
    return _tile_response(request, content, public=not scope.is_state_agent)


@require_safe
@reads_replica
def building_tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    return _building_tile(request, scope_for(request.user), z, x, y)


@require_safe
@reads_replica
def public_building_tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    return _building_tile(request, PUBLIC_SCOPE, z, x, y)


@require_safe
@reads_replica
def friche_tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    address = _address(z, x, y)
    if address is None:
        return HttpResponseBadRequest(_("No such tile."))
    # Open data: the same tile for everyone.
    layer = tiles.FrichePoints(friche_list(scope=PUBLIC_SCOPE))
    return _tile_response(request, tiles.render_tile(layer, address), public=True)
