"""The maps in a real browser: nothing fetched from another host (the basemap is
off), no console error (so no CSP refusal), markers and tiles drawn for known
buildings, popups on click, filters that change what is drawn, and a public map
without the confidential building."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.test import Client
from playwright.sync_api import Response

from buildings.models import Department
from maps import layers
from tests.browser.conftest import Visit
from tests.buildings.factories import MARSEILLE_POINT
from tests.maps.conftest import Inventory, make_inventory

# The live server reads committed rows: these tests are transactional (and flush).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LON, LAT = MARSEILLE_POINT


@pytest.fixture
def inventory(db: None) -> Inventory:
    return make_inventory()


@pytest.fixture(autouse=True)
def no_basemap(settings: Any) -> None:
    settings.BASEMAP_URL = ""


def log_in(visit: Visit, user: User) -> None:
    client = Client()
    client.force_login(user)
    visit.page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": visit.origin,
            }
        ]
    )


def open_map(visit: Visit, path: str) -> None:
    visit.go(path)
    visit.page.wait_for_selector(".folium-map[data-ready='true']", state="attached")


def zoom_to(visit: Visit, lat: float, lon: float, zoom: int) -> None:
    visit.page.evaluate(
        "([lat, lon, zoom]) => IntercalaireMaps.maps[0].setView([lat, lon], zoom,"
        " {animate: false})",
        [lat, lon, zoom],
    )


def click_at(visit: Visit, lat: float, lon: float) -> None:
    """Click the map where (lat, lon) is drawn: markers are drawn on a canvas."""
    box = visit.page.locator(".folium-map").bounding_box()
    assert box is not None
    point = visit.page.evaluate(
        "([lat, lon]) => IntercalaireMaps.maps[0].latLngToContainerPoint([lat, lon])",
        [lat, lon],
    )
    visit.page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def popup_text(visit: Visit) -> str:
    return visit.page.locator(".leaflet-popup-content").inner_text(timeout=5000)


def assert_clean(visit: Visit) -> None:
    assert visit.foreign_requests == []
    assert visit.console == []


def test_the_inventory_map_draws_the_agents_buildings_and_opens_a_popup(
    visit: Visit,
    inventory: Inventory,
    agent: User,
) -> None:
    log_in(visit, agent)
    open_map(visit, "/carte/")
    # The overlays come once the page is drawn, into the layer control.
    visit.page.wait_for_function("() => 'vacancy-heat' in IntercalaireMaps.layers")
    overlays = visit.page.locator(".leaflet-control-layers-overlays label")
    names = [name.strip() for name in overlays.all_inner_texts()]
    assert "Carte de chaleur de la vacance" in names
    # Inline: the three located Marseille buildings and Aix, clustered at z6.
    count = visit.page.evaluate("IntercalaireMaps.layers.buildings.getLayers().length")
    assert count == 4
    visit.page.wait_for_selector(".marker-cluster")
    zoom_to(visit, LAT, LON, 18)
    visit.page.wait_for_timeout(300)
    click_at(visit, LAT, LON)
    text = popup_text(visit)
    assert "Ancienne DDE" in text
    link = visit.page.locator(".leaflet-popup-content a")
    assert link.get_attribute("href") == f"/batiments/{inventory.vacant.pk}/"
    visit.screenshot("map-inventory-popup")
    assert_clean(visit)


def mark_window(visit: Visit) -> None:
    """A property that only survives if the page is never reloaded."""
    visit.page.evaluate("window.notReloaded = true")


def still_the_same_page(visit: Visit) -> bool:
    return bool(visit.page.evaluate("window.notReloaded === true"))


def test_a_filter_changes_the_buildings_drawn_in_place_and_in_the_address(
    visit: Visit,
    inventory: Inventory,
    agent: User,
) -> None:
    log_in(visit, agent)
    open_map(visit, "/carte/")
    mark_window(visit)
    # DSFR draws the checkbox on its label; a checkbox applies at once.
    with visit.page.expect_response(lambda r: "/carte/selection/" in r.url):
        visit.page.click("input[name=status][value=in_use] + label")
    visit.page.wait_for_function(
        "() => IntercalaireMaps.layers.buildings.getLayers().length === 1"
    )
    visit.page.wait_for_function("() => location.search === '?status=in_use'")
    assert still_the_same_page(visit)
    assert visit.page.locator("[data-testid=map-list] li").count() == 1
    assert "1" in visit.page.locator("[data-testid=map-count]").inner_text()
    # The overlays follow: the heat layer now counts the one building in use.
    visit.page.wait_for_function(
        "() => document.querySelector('[data-maps-busy]').dataset.overlays"
        " === 'status=in_use'"
    )
    visit.screenshot("map-inventory-filtered")
    # The address reloads the same selection.
    visit.go("/carte/?status=in_use")
    visit.page.wait_for_selector(".folium-map[data-ready='true']", state="attached")
    count = visit.page.evaluate("IntercalaireMaps.layers.buildings.getLayers().length")
    assert count == 1
    assert_clean(visit)


@pytest.mark.parametrize(
    ("field", "partial"), [("commune", "1305"), ("department", "1")]
)
def test_a_pause_while_typing_a_code_keeps_the_map_and_the_focus(
    visit: Visit, inventory: Inventory, agent: User, field: str, partial: str
) -> None:
    """A code typed halfway is refused by the server (400): the map reloaded the
    page mid-typing, focus and typing lost (found by a review). It now waits for
    the field to be done; a refusal then shows the form's errors."""
    log_in(visit, agent)
    open_map(visit, "/carte/")
    mark_window(visit)
    box = visit.page.locator(f"input[name={field}]")
    box.click()
    with visit.page.expect_response(lambda r: "/carte/selection/" in r.url) as sent:
        box.press_sequentially(partial, delay=50)
    assert sent.value.status == 400
    visit.page.wait_for_timeout(500)
    assert still_the_same_page(visit)
    assert visit.page.evaluate("document.activeElement.name") == field
    # Done with the field (Tab): the refusal is shown by the page's form.
    with visit.page.expect_navigation():
        box.press("Tab")
    assert not still_the_same_page(visit)
    assert visit.page.locator(".fr-error-text, .fr-alert--error").count() >= 1


def test_the_overlays_follow_the_filters_with_their_legends(
    visit: Visit,
    inventory: Inventory,
    agent: User,
) -> None:
    ring = ((4.2, 43.1), (6.2, 43.1), (6.2, 45.1), (4.2, 45.1), (4.2, 43.1))
    Department.objects.filter(code="13").update(
        geometry=MultiPolygon(Polygon(ring), srid=4326)
    )
    log_in(visit, agent)
    open_map(visit, "/carte/")
    visit.page.wait_for_function("() => 'departments' in IntercalaireMaps.layers")
    legend = "[data-testid=map-legend] [data-layer=departments-vacant-count] li"
    # Three vacant-stock buildings in the Bouches-du-Rhône: one class.
    assert visit.page.locator(legend).all_inner_texts()[-1].strip() == "≤ 3"
    with visit.page.expect_response(lambda r: "/carte/couches/" in r.url):
        visit.page.click("input[name=status][value=vacant] + label")
    visit.page.wait_for_function(
        "() => document.querySelector('[data-maps-busy]').dataset.overlays"
        " === 'status=vacant'"
    )
    assert visit.page.locator(legend).all_inner_texts()[-1].strip() == "≤ 2"
    # One layer per key in the control, the département outline shown.
    names = [
        name.strip()
        for name in visit.page.locator(
            ".leaflet-control-layers-overlays label"
        ).all_inner_texts()
    ]
    assert names.count("Départements") == 1
    assert visit.page.evaluate(
        "() => IntercalaireMaps.maps[0].hasLayer(IntercalaireMaps.layers.departments)"
    )
    visit.screenshot("map-inventory-overlays")
    assert_clean(visit)


@pytest.fixture
def tiles_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The building layer as vector tiles, as for an inventory above the limit
    (the live server runs in this process)."""
    monkeypatch.setattr(layers, "INLINE_LIMIT", 1)


@pytest.fixture
def responses(visit: Visit) -> list[Response]:
    """Every response the page receives, recorded from the start of the test."""
    seen: list[Response] = []
    # (A lambda: Playwright wraps the handler, which a builtin method defeats.)
    visit.page.on("response", lambda response: seen.append(response))
    return seen


def tiles_seen(
    visit: Visit, responses: list[Response], prefix: str
) -> list[dict[str, Any]]:
    """Features of the tiles the page fetched under ``prefix``, fetched again with
    the page's cookies (Chromium does not keep the bodies fetch() read as blobs)."""
    found = []
    for response in responses:
        if prefix in response.url and response.status == 200:
            again = visit.page.request.get(response.url)
            decoded = mapbox_vector_tile.decode(again.body())
            for layer in decoded.values():
                found += layer["features"]
    return found


def test_above_the_limit_the_inventory_map_draws_vector_tiles(
    visit: Visit,
    inventory: Inventory,
    agent: User,
    tiles_only: None,
    responses: list[Response],
) -> None:
    log_in(visit, agent)
    # Low zoom: clusters from the cluster table.
    with visit.page.expect_response(lambda r: "/tiles/buildings/6/" in r.url):
        open_map(visit, "/carte/")
    with visit.page.expect_response(lambda r: "/tiles/buildings/16/" in r.url):
        zoom_to(visit, LAT, LON, 16)
    visit.page.wait_for_timeout(500)
    visit.settle()
    ids = {
        f["properties"].get("id")
        for f in tiles_seen(visit, responses, "/tiles/buildings/16/")
    }
    assert inventory.confidential.pk in ids  # the agent's territory, whole
    click_at(visit, LAT, LON)
    assert "Ancienne DDE" in popup_text(visit)
    visit.screenshot("map-inventory-tiles")
    assert_clean(visit)


def test_a_filter_fetches_tiles_of_the_new_selection_in_place(
    visit: Visit,
    inventory: Inventory,
    agent: User,
    tiles_only: None,
    responses: list[Response],
) -> None:
    log_in(visit, agent)
    open_map(visit, "/carte/")
    zoom_to(visit, LAT, LON, 16)
    visit.page.wait_for_timeout(300)
    mark_window(visit)
    # Two vacant buildings: above the (patched) limit, still tiles.
    with visit.page.expect_response(
        lambda r: "/tiles/buildings/16/" in r.url and "status=vacant" in r.url
    ):
        visit.page.click("input[name=status][value=vacant] + label")
    visit.page.wait_for_timeout(300)
    visit.settle()
    assert still_the_same_page(visit)
    assert visit.page.evaluate("location.search") == "?status=vacant"
    filtered = [
        r
        for r in responses
        if "/tiles/buildings/16/" in r.url and "status=vacant" in r.url
    ]
    ids = {f["properties"]["id"] for f in tiles_seen(visit, filtered, "/tiles/")}
    assert ids == {inventory.vacant.pk, inventory.confidential.pk}
    # The layer control still holds one building layer, the new one.
    names = visit.page.locator(
        ".leaflet-control-layers-overlays label"
    ).all_inner_texts()
    assert sum(1 for name in names if name.strip() == "Bâtiments") == 1
    visit.screenshot("map-inventory-tiles-filtered")
    assert_clean(visit)


def test_the_public_map_never_shows_the_confidential_building(
    visit: Visit,
    inventory: Inventory,
    responses: list[Response],
) -> None:
    open_map(visit, "/carte-publique/")
    with visit.page.expect_response(lambda r: "/tiles/public/buildings/16/" in r.url):
        zoom_to(visit, LAT, LON, 16)
    visit.page.wait_for_timeout(500)
    visit.settle()
    seen = tiles_seen(visit, responses, "/tiles/public/buildings/16/")
    ids = {f["properties"]["id"] for f in seen}
    assert inventory.vacant.pk in ids
    assert inventory.confidential.pk not in ids
    assert inventory.in_use.pk not in ids
    click_at(visit, LAT, LON)
    text = popup_text(visit)
    assert "Ancienne DDE" in text
    assert visit.page.locator(".leaflet-popup-content a").count() == 0
    assert "Cerema" in visit.page.locator("[data-testid=map-sources]").inner_text()
    visit.screenshot("map-public")
    assert_clean(visit)
