"""The map pages: access, query budgets, and HTML that loads nothing from
another host and carries the CSP nonce on every inline script and style."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.test import Client, override_settings
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from buildings.models import Commune
from maps import layers
from organizations.models import OrganizationKind
from tests.buildings.factories import collectivity_building
from tests.maps.conftest import Inventory

pytestmark = pytest.mark.django_db


def login(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def external_urls(html: str) -> set[str]:
    """Hosts named in src/href attributes and CSS url()s, and in script strings."""
    urls = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", html)
    urls += re.findall(r"""["'(](https?://[^"' )]+)""", html)
    return {re.sub(r"^(https?://[^/]+).*$", r"\1", url) for url in urls}


def inline_elements(html: str) -> list[str]:
    """Opening tags of <script> without src, and of every <style>."""
    tags = re.findall(r"<script\b[^>]*>", html)
    inline = [tag for tag in tags if "src=" not in tag]
    return inline + re.findall(r"<style\b[^>]*>", html)


BASEMAP = "https://tiles.example.org/{z}/{x}/{y}.png"
# Links the page may carry that load nothing: the licence and the footer's.
ALLOWED = {"https://tiles.example.org"}


@override_settings(BASEMAP_URL=BASEMAP, BASEMAP_ATTRIBUTION="Test basemap")
@pytest.mark.parametrize("page", ["/carte/", "/carte-publique/", "/carte/occupation/"])
def test_the_map_pages_load_only_local_assets_and_nonce_every_inline_script(
    inventory: Inventory, agent: User, page: str
) -> None:
    response = login(agent).get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="folium-map' in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert any("/static/vendor/leaflet/leaflet.js" in src for src in scripts)
    assert all(src.startswith("/static/") for src in scripts), scripts
    styles = re.findall(r'<link[^>]*href="([^"]+\.css)"', html)
    assert all(href.startswith("/static/") for href in styles), styles
    # Only the basemap host is named in the map's code; nothing from a CDN.
    _head, _, rest = html.partition('<main id="content"')
    assert external_urls(rest.split("<footer")[0]) <= ALLOWED
    for tag in ("jsdelivr", "cdnjs", "unpkg", "jquery", "bootstrap"):
        assert tag not in html
    nonce = response.wsgi_request.csp_nonce  # type: ignore[attr-defined]
    for tag in inline_elements(html):
        assert f'nonce="{nonce}"' in tag, tag


def test_the_inventory_map_is_for_state_agents(
    inventory: Inventory, make_member: Callable[..., User]
) -> None:
    assert Client().get("/carte/").status_code == 302
    operator = make_member(OrganizationKind.OPERATOR)
    assert login(operator).get("/carte/").status_code == 404
    assert login(operator).get("/carte/occupation/").status_code == 404


def test_the_public_map_is_open_and_names_every_source(inventory: Inventory) -> None:
    response = Client().get("/carte-publique/")
    assert response.status_code == 200
    # Escaped or typographic apostrophes (the French catalogue uses ’).
    html = response.content.decode().replace("&#x27;", "'").replace("’", "'")
    for source in ("Direction de l'immobilier de l'État", "Cerema", "IGN"):
        assert source in html
    assert "/tiles/public/buildings/{z}/{x}/{y}.pbf" in html


def test_the_public_map_holds_no_building_data_at_all(inventory: Inventory) -> None:
    html = Client().get("/carte-publique/").content.decode()
    assert inventory.confidential.designation not in html
    assert inventory.vacant.designation not in html  # tiles carry them


@override_settings(BASEMAP_URL="")
def test_without_a_basemap_the_page_has_no_tile_layer(inventory: Inventory) -> None:
    html = Client().get("/carte-publique/").content.decode()
    assert "L.tileLayer(" not in html


def test_the_filters_narrow_the_map_and_the_list(
    inventory: Inventory, agent: User
) -> None:
    client = login(agent)
    everything = client.get("/carte/").context
    assert everything["matched"] == 4  # the 13 buildings: Paris is another territory
    vacant = client.get("/carte/?status=vacant").context
    assert vacant["matched"] == 2
    assert [b.designation for b in vacant["rows"]] == [
        "Ancienne DDE",
        "Bien contrôlé par le ministère des Armées",
    ]
    assert client.get("/carte/?status=nope").status_code == 400


def test_the_inventory_map_page_query_budget(
    inventory: Inventory,
    agent: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = login(agent)
    client.get("/carte/")
    # session, user, memberships; the building page (features + count), the
    # départements, the commune count, the communes, the arrondissements, the
    # heat cells, the friches, the extent, the list.
    with django_assert_max_num_queries(14):
        response = client.get("/carte/")
    assert response.status_code == 200


def test_the_public_map_page_reads_nothing(
    django_assert_max_num_queries: DjangoAssertNumQueries, db: None
) -> None:
    # The session middleware may read the session; the map itself reads nothing.
    with django_assert_max_num_queries(0):
        assert Client().get("/carte-publique/").status_code == 200


def test_the_filters_update_answers_the_layer_the_count_and_the_list(
    inventory: Inventory, agent: User
) -> None:
    response = login(agent).get("/carte/selection/?status=vacant")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["query"] == "status=vacant"
    assert "2" in body["count"]
    assert "Ancienne DDE" in body["results"]
    assert "status=vacant" in body["results"]  # the full list keeps the filters
    layer = body["layer"]
    assert layer["kind"] == "points"
    assert layer["options"]["key"] == "buildings"
    ids = {feature["id"] for feature in layer["data"]["features"]}
    assert ids == {inventory.vacant.pk, inventory.confidential.pk}


def test_above_the_inline_limit_the_update_answers_a_tile_url_with_the_filters(
    inventory: Inventory, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layers, "INLINE_LIMIT", 1)
    layer = login(agent).get("/carte/selection/?status=vacant").json()["layer"]
    assert layer["kind"] == "tiles"
    assert layer["url"] == "/tiles/buildings/{z}/{x}/{y}.pbf?status=vacant"
    assert "data" not in layer


def test_the_filters_update_refuses_bad_filters_and_other_personas(
    inventory: Inventory, agent: User, make_member: Callable[..., User]
) -> None:
    response = login(agent).get("/carte/selection/?status=nope")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]
    assert Client().get("/carte/selection/").status_code == 302
    operator = make_member(OrganizationKind.OPERATOR)
    assert login(operator).get("/carte/selection/").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=garbage", "bbox"),
        ("near=5.37,43.3", "radius"),
        ("near=200,100&radius=10", "near"),
        ("available_from=2030-01-01&available_to=2020-01-01", "available_from"),
    ],
)
def test_filters_checked_while_filtering_are_errors_on_every_map_view(
    inventory: Inventory, agent: User, query: str, field: str
) -> None:
    """They answered 500 on the map, its filter updates and its overlays."""
    client = login(agent)
    page = client.get(f"/carte/?{query}")
    assert page.status_code == 400
    assert field in page.context["form"].errors
    for path in ("/carte/selection/", "/carte/couches/"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("bbox=garbage", "bbox"), ("near=5.37,43.3", "radius"), ("q=a%00b", "q")],
)
def test_the_inventory_map_names_a_refused_filter_its_side_form_does_not_show(
    inventory: Inventory, agent: User, query: str, field: str
) -> None:
    """A list filter from a shared /batiments/ link that the map's side form has no
    field for gave a 400 page without a word of why."""
    response = login(agent).get(f"/carte/?{query}")
    assert response.status_code == 400
    form = response.context["form"]
    (error,) = form.errors[field]
    assert f"<p>{form[field].label} : {error}</p>" in response.content.decode()


def test_the_occupancy_map_refuses_days_its_arithmetic_cannot_reach(
    agent: User,
) -> None:
    """``end`` a year before 0001-01-01 overflowed Python's dates (a 500)."""
    response = login(agent).get("/carte/occupation/?end=0001-01-01")
    assert response.status_code == 400
    assert "end" in response.context["form"].errors


def test_a_period_in_the_wrong_order_is_told_what_is_expected(agent: User) -> None:
    """It read "The period ends after it starts." (French: "La période se termine
    après avoir commencé."), a statement of the contrary of what was wrong."""
    response = login(agent).get("/carte/occupation/?start=2025-01-01&end=2024-01-01")
    assert response.status_code == 400
    assert "La période doit finir après son début." in response.content.decode()


@pytest.mark.parametrize("query", ["start=0001-01-01", "end=not-a-day"])
def test_the_occupancy_map_shows_why_it_refuses_a_day(agent: User, query: str) -> None:
    """A refused day gave a 400 page with the form and no message at all."""
    response = login(agent).get(f"/carte/occupation/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    (error,) = [
        e for errors in response.context["form"].errors.values() for e in errors
    ]
    assert f'<p class="fr-error-text">{error}</p>' in html


def test_the_filters_update_query_budget(
    inventory: Inventory,
    agent: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = login(agent)
    client.get("/carte/selection/")
    # session, user, memberships; the building page (features + count), the list.
    with django_assert_max_num_queries(6):
        response = client.get("/carte/selection/?department=13")
    assert response.status_code == 200


def test_the_overlays_come_as_layer_updates_sharing_their_polygons(
    inventory: Inventory, agent: User
) -> None:
    response = login(agent).get("/carte/couches/?status=vacant")
    assert response.status_code == 200
    body = response.json()
    keys = [update["options"]["key"] for update in body["layers"]]
    assert keys[-1] == "vacancy-heat"
    heat = body["layers"][-1]
    assert heat["kind"] == "heatmap"
    assert heat["show"] is False
    # Marseille's vacant buildings, the confidential one included (Paris is out).
    assert sum(weight for _lat, _lon, weight in heat["heat"]) == 2
    refs = {u.get("dataRef") for u in body["layers"] if u["kind"] != "heatmap"}
    assert refs <= set(body["data"])


def test_the_inventory_page_leaves_the_overlays_out_of_its_html(
    inventory: Inventory, agent: User
) -> None:
    response = login(agent).get("/carte/")
    assert response.context["map"].spec.replaceable
    keys = [layer.key for layer in response.context["map"].spec.layers]
    assert keys == ["friches", "buildings"]
    assert 'data-overlays-url="/carte/couches/"' in response.content.decode()


def test_the_occupancy_map_names_the_threshold_in_force(
    agent: User, settings: Settings
) -> None:
    """It said "fewer than 5 people" whatever OCCUPANCY_RULES set (found by a
    review)."""
    settings.OCCUPANCY_RULES = {"small_cell_threshold": 7}
    html = login(agent).get("/carte/occupation/").content.decode()
    assert "moins de 7 personnes" in html
    assert "moins de 5 personnes" not in html


def test_the_map_filters_on_saint_martin_and_opens_on_it(
    inventory: Inventory, make_member: Callable[..., User]
) -> None:
    """978 is no département: the map's selection finds Marigot's building by
    its commune, and the map opens on the commune's boundary."""
    marigot = collectivity_building("97801", vacant=True)
    Commune.objects.filter(code="97801").update(
        geometry=MultiPolygon(
            Polygon.from_bbox((-63.15, 18.0, -62.97, 18.13)), srid=4326
        )
    )
    client = login(make_member(OrganizationKind.STATE_SERVICE))
    body = client.get("/carte/selection/?department=978").json()
    ids = {feature["id"] for feature in body["layer"]["data"]["features"]}
    assert ids == {marigot.pk}
    page = client.get("/carte/?department=978")
    assert page.status_code == 200
    assert page.context["map"].spec.bounds == ((18.0, -63.15), (18.13, -62.97))
