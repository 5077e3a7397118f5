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
from django.test import Client
from playwright.sync_api import Response

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


def test_a_filter_changes_the_buildings_drawn(
    visit: Visit,
    inventory: Inventory,
    agent: User,
) -> None:
    log_in(visit, agent)
    open_map(visit, "/carte/")
    # DSFR draws the checkbox on its label.
    visit.page.click("input[name=status][value=in_use] + label")
    with visit.page.expect_navigation():
        visit.page.click("[data-testid=map-filters] button[type=submit]")
    visit.page.wait_for_selector(".folium-map[data-ready='true']", state="attached")
    assert "status=in_use" in visit.page.url
    count = visit.page.evaluate("IntercalaireMaps.layers.buildings.getLayers().length")
    assert count == 1
    assert visit.page.locator("[data-testid=map-list] li").count() == 1
    visit.screenshot("map-inventory-filtered")
    assert_clean(visit)


@pytest.fixture
def tiles_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The building layer as vector tiles, as for an inventory above the limit
    (the live server runs in this process)."""
    monkeypatch.setattr(layers, "INLINE_LIMIT", 1)


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
) -> None:
    responses: list[Response] = []
    visit.page.on("response", lambda response: responses.append(response))
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


def test_the_public_map_never_shows_the_confidential_building(
    visit: Visit,
    inventory: Inventory,
) -> None:
    responses: list[Response] = []
    visit.page.on("response", lambda response: responses.append(response))
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
