"""OGC API – Features Part 1, conformance class Core: one test per abstract test
of OGC 17-069r4 Annex A.2 (named after it), against the small inventory of
conftest.py. /conf/core/http runs against a live server in test_clients.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from buildings.models import Commune
from buildings.ogc.collections import COLLECTIONS, CRS84
from buildings.ogc.conformance import CONFORMANCE_CLASSES
from tests.buildings.factories import collectivity_building
from tests.ogc.conftest import AIX_BOX, MARSEILLE_BOX, Inventory, clockwise
from tests.ogc.helpers import GEOJSON, body, get, ids, link, links, local, walk

pytestmark = pytest.mark.django_db

ITEMS = "/ogc/collections/buildings/items"


def every_link(node: Any) -> list[dict[str, Any]]:
    """Every object of a "links" array anywhere in a document."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "links" and isinstance(value, list):
                found.extend(value)
            found.extend(every_link(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(every_link(item))
    return found


def positions(coordinates: list[Any]) -> list[list[float]]:
    """Every position of a GeoJSON geometry's coordinates, whatever the nesting."""
    if not isinstance(coordinates[0], list):
        return [coordinates]
    return [position for part in coordinates for position in positions(part)]


def names(pages: list[dict[str, Any]]) -> set[str]:
    return {f["properties"]["designation"] for p in pages for f in p["features"]}


# --- A.2.2 HTTP 1.1 (the rest of /conf/core/http runs in test_clients.py)
OGC_ROUTES = [
    "/ogc/",
    "/ogc/conformance",
    "/ogc/api",
    "/ogc/collections",
    "/ogc/collections/buildings",
    "/ogc/collections/buildings/items",
    "/ogc/collections/buildings/items/1",
    "/ogc/collections/buildings/queryables",
    "/ogc/exports/friches.csv",
]


@pytest.mark.parametrize("path", OGC_ROUTES)
def test_ats_core_http_options(client: Client, path: str) -> None:
    """/conf/core/http: OPTIONS (RFC 9110 §9.3.7) answers with the methods of the
    resource, which its Allow header lists, and a browser's CORS preflight for a
    GET from another origin succeeds."""
    plain = client.options(path)
    assert plain.status_code in (200, 204), path
    assert {m.strip() for m in plain["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    preflight = client.options(
        path,
        HTTP_ORIGIN="https://carto.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="accept, x-request-id",
    )
    assert preflight.status_code in (200, 204), path
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert preflight["Access-Control-Allow-Headers"] == "accept, x-request-id"
    assert client.post(path).status_code == 405  # still read-only


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE"])
@pytest.mark.parametrize("path", OGC_ROUTES)
def test_a_method_the_resource_does_not_serve_is_a_405_with_allow(
    client: Client, path: str, method: str
) -> None:
    """RFC 9110 §15.5.6: 405 and the methods the resource serves. It answered
    403, even to anonymous callers: the read-only permission ran before DRF's
    method check."""
    response = client.generic(method, path)
    assert response.status_code == 405, (method, path)
    assert {m.strip() for m in response["Allow"].split(",")} == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert response.json()["code"] == "method_not_allowed"


def test_a_logged_in_browsers_write_is_a_405_too(agent: User) -> None:
    """A session and CSRF checks change nothing: /ogc/ reads no credentials."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    response = browser.post("/ogc/collections/buildings/items", {})
    assert response.status_code == 405
    assert browser.delete("/ogc/collections/buildings/items/1").status_code == 405


def test_cors_preflights_do_not_spend_the_anonymous_rate(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser's preflight counted as a request against the anonymous rate:
    a web client on another origin had half its budget of reads."""
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "rate", "3/min", raising=False)
    for _ in range(5):
        preflight = client.options(
            "/ogc/collections",
            HTTP_ORIGIN="https://carto.example.org",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        )
        assert preflight.status_code == 204
    assert [client.get("/ogc/collections?f=json").status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]


@pytest.mark.parametrize(
    "path", ["/ogc/collections/nowhere", "/ogc/collections/nowhere/items"]
)
def test_options_on_an_unknown_collection_is_a_404(client: Client, path: str) -> None:
    """It answered 204 with the methods of a resource that does not exist."""
    response = client.options(path)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


# --- A.2.3 Landing page
def test_ats_core_landing_page(client: Client) -> None:
    """/conf/core/root-op, /conf/core/root-success: GET / is a 200 whose links
    reach the API definition, the conformance classes and the collections."""
    landing = body(client, "/ogc/")
    assert landing["title"]
    assert {item["rel"] for item in landing["links"]} >= {
        "self",
        "alternate",
        "service-desc",
        "service-doc",
        "conformance",
        "data",
    }
    assert local(link(landing, "conformance")) == "/ogc/conformance"
    assert local(link(landing, "data")) == "/ogc/collections"
    assert local(link(landing, "service-desc")) == "/ogc/api"


# --- A.2.4 API definition
def test_ats_core_api_definition(client: Client) -> None:
    """/conf/core/api-definition-op, -success: each API definition linked from
    the landing page answers GET with the media type its link announces."""
    landing = body(client, "/ogc/")
    for rel in ("service-desc", "service-doc"):
        for item in links(landing, rel):
            response = get(client, local(item["href"]), Accept=item["type"])
            assert response["Content-Type"].split(";")[0] == item["type"].split(";")[0]


# --- A.2.5 Conformance
def test_ats_core_conformance(client: Client) -> None:
    """/conf/core/conformance-op, -success: the four classes this server
    implements, each tested by a test named after its abstract tests."""
    assert body(client, "/ogc/conformance") == {"conformsTo": list(CONFORMANCE_CLASSES)}
    assert {uri.rsplit("/", 1)[1] for uri in CONFORMANCE_CLASSES} == {
        "core",
        "geojson",
        "html",
        "oas30",
    }


# --- Parameters: Requirements 8 and 9
@pytest.mark.parametrize(
    "url",
    [
        "/ogc/?lang=fr",
        "/ogc/conformance?limit=1",
        "/ogc/api?format=json",
        "/ogc/collections?bbox=0,0,1,1",
        "/ogc/collections/buildings?x=1",
        f"{ITEMS}?sortby=id",
        f"{ITEMS}?ministry=Armées",
        f"{ITEMS}?offset=10",
        f"{ITEMS}/1?limit=1",
        "/ogc/collections/communes/items?status=vacant",
        "/ogc/collections/buildings/queryables?f=json&q=1",
        "/ogc/exports/friches.csv?f=json",
    ],
)
def test_ats_core_query_param_unknown(client: Client, url: str) -> None:
    """/conf/core/query-param-unknown: a parameter the API definition does not
    list is a 400 (hidden properties cannot be probed through it either)."""
    response = client.get(url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    "query",
    [
        "f=xml",
        "limit=0",
        "limit=-1",
        "limit=ten",
        "limit=1&limit=2",
        "bbox=5,43,6",
        "bbox=5,43,0,6,44",
        "bbox=a,b,c,d",
        "bbox=5,44,6,43",
        "bbox=5,-91,6,43",
        "bbox=-181,43,6,44",
        "bbox=5,43,6,44&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/2154",
        "bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "datetime=yesterday",
        "datetime=2024-13-01",
        "datetime=2024-02-30T00:00:00Z",
        "datetime=2024-01-01T00:00:00",
        "datetime=../..",
        "datetime=2024-02-01/2024-01-01",
        "status=in_use",
        "status=vacant,occupied",
        "erp=yes",
        "department=%00",
        "department=" + "1" * 40,
        "cursor=forged",
    ],
)
def test_ats_core_query_param_invalid(
    inventory: Inventory, client: Client, query: str
) -> None:
    """/conf/core/query-param-invalid: an invalid value is a 400 with the OGC
    exception body (code, description)."""
    response = client.get(f"{ITEMS}?{query}")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "InvalidParameterValue"
    assert error["description"]


# --- A.2.6 Feature collections
def test_ats_core_fc_md_op(client: Client) -> None:
    """/conf/core/fc-md-op, fc-md-success: GET /collections is a 200 with
    links and collections."""
    collections = body(client, "/ogc/collections")
    assert set(collections) == {"links", "collections"}


def test_ats_core_fc_md_links(client: Client) -> None:
    """/conf/core/fc-md-links: self, and alternate for every other media type
    (HTML), each with rel and type."""
    collections = body(client, "/ogc/collections")
    assert local(link(collections, "self", "application/json")).startswith(
        "/ogc/collections"
    )
    html = local(link(collections, "alternate", "text/html"))
    assert get(client, html)["Content-Type"].startswith("text/html")


def test_ats_core_fc_md_items(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-md-items, fc-md-items-links: one entry per collection, each
    with an items link per encoding (GeoJSON, HTML) that works."""
    collections = body(client, "/ogc/collections")["collections"]
    assert [c["id"] for c in collections] == list(COLLECTIONS)
    for collection in collections:
        for media_type in (GEOJSON, "text/html"):
            url = local(link(collection, "items", media_type))
            assert get(client, url)["Content-Type"].startswith(media_type)


def test_ats_core_fc_md_extent(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-md-extent: the bbox holds every geometry (and nothing the
    public cannot see: the confidential building in Ajaccio is outside it); the
    interval holds every vacancy period, open where one is."""
    described = {c["id"]: c for c in body(client, "/ogc/collections")["collections"]}
    for collection_id, collection in described.items():
        spatial = collection["extent"]["spatial"]
        assert spatial["crs"] == CRS84
        west, south, east, north = spatial["bbox"][0]
        features = [
            f
            for p in walk(client, f"/ogc/collections/{collection_id}/items")
            for f in p["features"]
            if f["geometry"]
        ]
        for feature in features:
            for longitude, latitude in positions(feature["geometry"]["coordinates"]):
                assert west <= longitude <= east
                assert south <= latitude <= north
    buildings = described["buildings"]["extent"]
    assert buildings["spatial"]["bbox"] == [[2.3488, 43.3023, 5.4455, 48.8534]]
    # "Open start" and "Open end" open both sides (Requirement 16).
    assert buildings["temporal"]["interval"] == [[None, None]]
    assert "temporal" not in described["communes"]["extent"]


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_ats_core_sfc_md_op(
    inventory: Inventory, client: Client, collection_id: str
) -> None:
    """/conf/core/sfc-md-op, sfc-md-success: each collection answers at
    /collections/{id} with the id, title, description and extent of its entry
    in /collections; an unknown one is a 404."""
    listed = {c["id"]: c for c in body(client, "/ogc/collections")["collections"]}
    alone = body(client, f"/ogc/collections/{collection_id}")
    for key in ("id", "title", "description", "extent"):
        assert alone[key] == listed[collection_id][key]
    assert local(link(alone, "self", "application/json")).startswith(
        f"/ogc/collections/{collection_id}"
    )
    missing = client.get("/ogc/collections/batiments")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NotFound"


# --- A.2.7 Features
@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_ats_core_fc_op(
    inventory: Inventory, client: Client, collection_id: str
) -> None:
    """/conf/core/fc-op: GET /collections/{id}/items for every collection."""
    response = get(client, f"/ogc/collections/{collection_id}/items")
    assert response["Content-Type"] == GEOJSON
    assert response.json()["type"] == "FeatureCollection"
    assert client.get("/ogc/collections/nope/items").status_code == 404


def _items_parameter(client: Client, collection_id: str, name: str) -> dict[str, Any]:
    document = body(client, "/ogc/api")
    operation = document["paths"][f"/collections/{collection_id}/items"]["get"]
    parameters = [
        document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if "$ref" in p
        else p
        for p in operation["parameters"]
    ]
    (found,) = [p for p in parameters if p["name"] == name]
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_ats_core_fc_bbox_definition(client: Client, collection_id: str) -> None:
    """/conf/core/fc-bbox-definition: bbox as Requirement 22's fragment."""
    bbox = _items_parameter(client, collection_id, "bbox")
    assert (bbox["in"], bbox["required"], bbox["style"], bbox["explode"]) == (
        "query",
        False,
        "form",
        False,
    )
    # The standard's fragment: four numbers, or six with heights.
    assert bbox["schema"] == {
        "type": "array",
        "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}],
        "items": {"type": "number"},
    }


def test_ats_core_fc_bbox_response(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-bbox-response: only features whose geometry intersects the
    box (every feature has one: Requirement 23 C has nothing to add); a box
    across the antimeridian is two boxes."""
    aix = ",".join(str(value) for value in AIX_BOX)
    found = names(walk(client, f"{ITEMS}?bbox={aix}"))
    assert found == {"Aix 1", "Aix 2", "Aix 3"}
    # Paris to Marseille: everything but Aix, with the box's edges inclusive.
    found = names(walk(client, f"{ITEMS}?bbox=2.3488,43.3023,5.3838,48.8534"))
    assert {"Paris", "Closed period"} <= found
    assert not found & {"Aix 1", "Aix 2", "Aix 3"}
    across = names(walk(client, f"{ITEMS}?bbox=170,-50,-170,-10"))
    assert across == set()
    communes = ids(walk(client, f"/ogc/collections/communes/items?bbox={aix}"))
    assert communes == ["13001"]
    explicit = f"{ITEMS}?bbox={aix}&bbox-crs={CRS84}"
    assert names(walk(client, explicit)) == {"Aix 1", "Aix 2", "Aix 3"}
    # Six numbers: heights after each corner's latitude, ignored (2D data). It
    # was a 400 although Requirement 23's fragment allows it.
    west, south, east, north = AIX_BOX
    heights = f"{ITEMS}?bbox={west},{south},-100,{east},{north},5000"
    assert names(walk(client, heights)) == {"Aix 1", "Aix 2", "Aix 3"}


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_ats_core_fc_limit_definition(client: Client, collection_id: str) -> None:
    """/conf/core/fc-limit-definition: limit as Requirement 20's fragment, with
    this server's default and maximum."""
    limit = _items_parameter(client, collection_id, "limit")
    assert (limit["in"], limit["required"], limit["style"], limit["explode"]) == (
        "query",
        False,
        "form",
        False,
    )
    assert limit["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }


def test_ats_core_fc_limit_response(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-limit-response: no more features than limit, nor than the
    maximum; a limit above the maximum is lowered, not refused (17-069r4)."""
    assert len(body(client, f"{ITEMS}?limit=3")["features"]) == 3
    assert len(body(client, f"{ITEMS}")["features"]) == len(inventory.located)
    with override_settings(API_MAX_PAGE_SIZE=4):
        for limit in (5, 10_000, 1_000_000):
            page = body(client, f"{ITEMS}?limit={limit}")
            assert page["numberReturned"] == len(page["features"]) == 4
        assert len(ids(walk(client, f"{ITEMS}?limit=99"))) == len(inventory.located)


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_ats_core_fc_datetime_definition(client: Client, collection_id: str) -> None:
    """/conf/core/fc-time-definition: datetime as Requirement 24's fragment."""
    parameter = _items_parameter(client, collection_id, "datetime")
    assert parameter["schema"] == {"type": "string"}
    assert (parameter["in"], parameter["required"]) == ("query", False)
    assert (parameter["style"], parameter["explode"]) == ("form", False)


@pytest.mark.parametrize(
    ("datetime", "expected"),
    [
        # An instant: inside the closed period and the open end; the open start
        # ended in 2022; the recent period starts in 2024.
        ("2023-06-01T12:00:00Z", {"Closed period", "Open end"}),
        ("2023-06-01", {"Closed period", "Open end"}),
        # A closed interval touching the recent period by its first day.
        (
            "2023-06-01T00:00:00Z/2024-03-01T00:00:00%2B01:00",
            {"Closed period", "Open end", "Recent period"},
        ),
        # Half-bounded intervals, both spellings of the open end.
        ("../2019-01-01", {"Closed period", "Open start"}),
        ("/2019-01-01", {"Closed period", "Open start"}),
        ("2024-10-01/..", {"Closed period", "Open end"}),
        ("2024-10-01/", {"Closed period", "Open end"}),
        # 23:30 UTC on 31 Dec 2022 is already 1 Jan 2023 in Paris: the open start
        # (until 31 Dec 2022) is over by then.
        ("2022-12-31T23:30:00Z", {"Closed period", "Open end"}),
        ("2022-12-31T22:30:00Z", {"Closed period", "Open end", "Open start"}),
        # Instants whose day in Paris lies past the calendar's ends (were 500s).
        ("2024-10-01/9999-12-31T23:59:59Z", {"Closed period", "Open end"}),
        ("0001-01-01T00:00:00%2B23:59/2019-01-01", {"Closed period", "Open start"}),
    ],
)
def test_ats_core_fc_datetime_response(
    inventory: Inventory, client: Client, datetime: str, expected: set[str]
) -> None:
    """/conf/core/fc-time-response: features whose vacancy period intersects
    datetime, plus every feature without one (Requirement 25 C: "No dates")."""
    dated = {"Closed period", "Open end", "Open start", "Recent period"}
    found = names(walk(client, f"{ITEMS}?datetime={datetime}&limit=50"))
    assert found & (dated | {"No dates"}) == expected | {"No dates"}
    # Features of the layers have no temporal geometry: every one matches.
    assert (
        len(ids(walk(client, f"/ogc/collections/communes/items?datetime={datetime}")))
        == 3
    )


def test_ats_core_fc_rel_type(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-rel-type: every link of every JSON resource has rel and type."""
    urls = [
        "/ogc/",
        "/ogc/collections",
        *(f"/ogc/collections/{c}" for c in COLLECTIONS),
        *(f"/ogc/collections/{c}/items?limit=2" for c in COLLECTIONS),
        f"{ITEMS}/{inventory.public[0].pk}",
        "/ogc/collections/communes/items/13055",
    ]
    for url in urls:
        found = every_link(body(client, url))
        assert found, url
        assert all(item.get("rel") and item.get("type") for item in found), url


def test_ats_core_fc_response(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-response: a 200 holding only the features selected, by
    each queryable and by combinations; the public stock and nothing else."""
    assert set(ids(walk(client, ITEMS))) == inventory.located_ids
    cases = {
        "department=75": {"Paris"},
        "commune=13001": {"Aix 1", "Aix 2", "Aix 3"},
        "commune=13001,75056": {"Aix 1", "Aix 2", "Aix 3", "Paris"},
        "postal_code=75004": {"Paris"},
        "status=assessed": {"Open start"},
        "asset_type=land": {"Land in Marseille"},
        "accessibility=accessible": {"Recent period"},
        "erp=true": {"Aix 1", "Aix 2", "Aix 3", "Recent period"},
        "erp=true&department=13&status=available&commune=13055": {"Recent period"},
        "department=2A": set(),
    }
    for query, expected in cases.items():
        assert names(walk(client, f"{ITEMS}?{query}")) == expected, query
    assert ids(walk(client, "/ogc/collections/communes/items?department=75")) == [
        "75056"
    ]
    assert ids(walk(client, "/ogc/collections/departements/items?code=13,2A")) == ["13"]


def test_ats_core_fc_links(inventory: Inventory, client: Client) -> None:
    """/conf/core/fc-links: self and alternate; next and prev walk the same
    features forwards and backwards, keyset pages that neither skip nor repeat."""
    first = body(client, f"{ITEMS}?limit=4&department=13")
    assert local(link(first, "self", GEOJSON)).startswith(ITEMS)
    assert get(client, local(link(first, "alternate", "text/html")))
    assert not links(first, "prev")
    forwards = walk(client, f"{ITEMS}?limit=4&department=13")
    expected = sorted(b.pk for b in inventory.located if b.department_id == "13")
    assert ids(forwards) == expected
    assert len(expected) % 4 != 0  # a last page shorter than the others
    assert [len(page["features"]) for page in forwards] == [4] * (
        len(expected) // 4
    ) + [len(expected) % 4]
    assert not links(forwards[-1], "next")
    backwards = []
    page = forwards[-1]
    while links(page, "prev"):
        page = body(client, local(link(page, "prev")))
        backwards.append(page)
    assert [ids([page]) for page in reversed(backwards)] == [
        ids([page]) for page in forwards[:-1]
    ]
    layers = walk(client, "/ogc/collections/communes/items?limit=1")
    assert ids(layers) == ["13001", "13055", "75056"]
    back = body(client, local(link(layers[-1], "prev")))
    assert ids([back]) == ["13055"]


def test_ats_core_fc_timeStamp(inventory: Inventory, client: Client) -> None:  # noqa: N802
    """/conf/core/fc-timeStamp: the time the response was generated."""
    before = datetime.now(tz=UTC).replace(microsecond=0)
    stamp = body(client, f"{ITEMS}?limit=1")["timeStamp"]
    after = datetime.now(tz=UTC)
    assert stamp.endswith("Z")
    assert before <= datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= after


def test_ats_core_fc_numberMatched(inventory: Inventory, client: Client) -> None:  # noqa: N802
    """/conf/core/fc-numberMatched: the number of features the selection
    matches over all pages; left out, never estimated, above the count cap."""
    for query in ("", "bbox=" + ",".join(map(str, MARSEILLE_BOX)), "department=13"):
        pages = walk(client, f"{ITEMS}?limit=4&{query}")
        assert {page["numberMatched"] for page in pages} == {len(ids(pages))}
    with override_settings(API_COUNT_CAP=5):
        page = body(client, f"{ITEMS}?limit=2")
        assert "numberMatched" not in page
        assert body(client, f"{ITEMS}?limit=2&department=75")["numberMatched"] == 1


def test_ats_core_fc_numberReturned(inventory: Inventory, client: Client) -> None:  # noqa: N802
    """/conf/core/fc-numberReturned: the number of features in the response."""
    for url in (
        f"{ITEMS}?limit=7",
        f"{ITEMS}?department=2A",
        "/ogc/collections/communes/items",
    ):
        page = body(client, url)
        assert page["numberReturned"] == len(page["features"])


# --- A.2.8 Feature
def test_ats_core_f_op(inventory: Inventory, client: Client) -> None:
    """/conf/core/f-op: every feature of every collection at items/{featureId};
    an unknown or non-public one is a 404."""
    for collection_id in COLLECTIONS:
        for feature_id in ids(walk(client, f"/ogc/collections/{collection_id}/items")):
            feature = body(
                client, f"/ogc/collections/{collection_id}/items/{feature_id}"
            )
            assert feature["id"] == feature_id
    for missing in ("999999", "abc", "-1", "1" * 40):
        assert client.get(f"{ITEMS}/{missing}").status_code == 404
    # One URL a feature: "0" + its id named it too, with that self link.
    some = inventory.by_name["Recent period"].pk
    assert client.get(f"{ITEMS}/0{some}").status_code == 404
    for building in [*inventory.hidden, inventory.by_name["Not located"]]:
        response = client.get(f"{ITEMS}/{building.pk}")
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound"
    assert client.get("/ogc/collections/communes/items/13201").status_code == 404


def test_a_city_s_filter_holds_its_arrondissements_as_its_count_does(
    inventory: Inventory, client: Client
) -> None:
    """The communes collection counts Marseille's arrondissements in 13055; the
    buildings' commune filter left them out (13201 matched only itself)."""
    city = names(walk(client, f"{ITEMS}?commune=13055"))
    assert "In the 1st arrondissement" in city
    assert names(walk(client, f"{ITEMS}?commune=13201")) == {
        "In the 1st arrondissement"
    }
    assert "In the 1st arrondissement" not in names(
        walk(client, f"{ITEMS}?commune=13001")
    )


def test_ats_core_f_success(inventory: Inventory, client: Client) -> None:
    """/conf/core/f-success: a 200 holding the same feature as the items."""
    building = inventory.by_name["Recent period"]
    (listed,) = body(client, f"{ITEMS}?accessibility=accessible")["features"]
    feature = body(client, f"{ITEMS}/{building.pk}")
    assert {k: v for k, v in feature.items() if k != "links"} == listed


def test_ats_core_f_links(inventory: Inventory, client: Client) -> None:
    """/conf/core/f-links: self, alternate and the collection."""
    feature = body(client, f"{ITEMS}/{inventory.public[0].pk}")
    assert (
        local(link(feature, "self", GEOJSON))
        == f"{ITEMS}/{inventory.public[0].pk}?f=json"
    )
    assert get(client, local(link(feature, "alternate", "text/html")))
    assert local(link(feature, "collection")) == "/ogc/collections/buildings"


def test_ats_core_crs84(inventory: Inventory, client: Client) -> None:
    """/conf/core/crs84: coordinates are longitude, latitude (CRS84), 6 decimals."""
    paris = inventory.by_name["Paris"]
    assert body(client, f"{ITEMS}/{paris.pk}")["geometry"] == {
        "type": "Point",
        "coordinates": [2.3488, 48.8534],
    }


def test_the_department_queryable_takes_saint_barthelemy_and_saint_martin(
    inventory: Inventory, client: Client
) -> None:
    """977 and 978 are collectivités d'outre-mer, not départements: their
    buildings and communes carry no département and are found by commune code
    (977 matched nothing)."""
    gustavia = collectivity_building("97701", vacant=True)
    marigot = collectivity_building("97801", vacant=True)
    Commune.objects.filter(code__in=["97701", "97801"]).update(
        geometry=clockwise((-63.2, 17.8, -62.7, 18.2))
    )
    assert ids(walk(client, f"{ITEMS}?department=977")) == [gustavia.pk]
    assert ids(walk(client, f"{ITEMS}?department=978,977")) == sorted(
        [gustavia.pk, marigot.pk]
    )
    both = names(walk(client, f"{ITEMS}?department=977,75"))
    assert both == {gustavia.designation, "Paris"}
    communes = "/ogc/collections/communes/items"
    assert ids(walk(client, f"{communes}?department=978")) == ["97801"]
    assert ids(walk(client, f"{communes}?department=977,75")) == ["75056", "97701"]
