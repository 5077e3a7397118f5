"""OGC API – Features Part 1, conformance classes GeoJSON, HTML and OpenAPI 3.0:
one test per abstract test of OGC 17-069r4 Annex A.3, A.5 and A.7."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jsonschema
import pytest
from django.test import Client
from openapi_spec_validator import validate as validate_openapi

from buildings.ogc.collections import COLLECTIONS
from tests.ogc.conftest import Inventory
from tests.ogc.helpers import GEOJSON, anchors, body, get, ids, walk

pytestmark = pytest.mark.django_db

Validators = dict[str, jsonschema.protocols.Validator]
ITEMS = "/ogc/collections/buildings/items"
RESOURCES = [
    "/ogc/",
    "/ogc/conformance",
    "/ogc/api",
    "/ogc/collections",
    *(f"/ogc/collections/{c}" for c in COLLECTIONS),
    *(f"/ogc/collections/{c}/items?limit=3" for c in COLLECTIONS),
    *(f"/ogc/collections/{c}/queryables" for c in COLLECTIONS),
    "/ogc/collections/communes/items/13055",
]


def without_format(href: str) -> str:
    """A link with its f parameter dropped: an HTML page links the HTML version
    of what its JSON twin links as JSON."""
    parts = urlsplit(href.replace("http://testserver", ""))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "f"]
    return parts.path + ("?" + urlencode(query) if query else "")


def feature_urls(inventory: Inventory) -> list[str]:
    return [
        f"{ITEMS}/{inventory.public[0].pk}",
        "/ogc/collections/communes/items/13055",
    ]


# --- GeoJSON
def test_ats_geojson_definition(inventory: Inventory, client: Client) -> None:
    """/conf/geojson/definition: application/geo+json for features, application/
    json for the other resources, whether asked with Accept or with f=json."""
    for url in RESOURCES:
        features = "/items" in url
        expected = {
            "/ogc/api": "application/vnd.oai.openapi+json;version=3.0",
        }.get(url, GEOJSON if features else "application/json")
        if url.endswith("/queryables"):
            expected = "application/schema+json"
        accept = GEOJSON if features else "application/json"
        for response in (
            get(client, url, Accept=accept),
            get(client, url + ("&" if "?" in url else "?") + "f=json"),
        ):
            assert response["Content-Type"] == expected, url
            json.loads(response.content)


def test_ats_geojson_content(
    inventory: Inventory, client: Client, geojson_validators: Validators
) -> None:
    """/conf/geojson/content: FeatureCollections and Features valid against the
    GeoJSON JSON Schemas (npm geojson-schema), links as a foreign member,
    polygons with counter-clockwise exterior rings (RFC 7946 §3.1.6) although
    stored clockwise, and no crs member."""
    for collection_id in COLLECTIONS:
        for page in walk(client, f"/ogc/collections/{collection_id}/items?limit=2"):
            geojson_validators["FeatureCollection"].validate(page)
            assert "crs" not in page
            assert page["links"]
    for url in feature_urls(inventory):
        feature = body(client, url)
        geojson_validators["Feature"].validate(feature)
        assert feature["links"]
    for feature in body(client, "/ogc/collections/communes/items")["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            ring = polygon[0]
            area2 = sum(
                x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)
            )
            assert area2 > 0, "exterior ring not counter-clockwise"
    # A feature of a spatial collection has a geometry: the public buildings
    # without a location are not features here (they are in the CNIG export).
    unlocated = inventory.by_name["Not located"]
    assert client.get(f"{ITEMS}/{unlocated.pk}").status_code == 404


# --- HTML
def test_ats_html_definition(inventory: Inventory, client: Client) -> None:
    """/conf/html/definition: every resource in text/html, by f=html and by a
    browser's Accept header."""
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for url in [*RESOURCES, *feature_urls(inventory)]:
        by_accept = get(client, url, Accept=browser)
        by_f = get(client, url + ("&" if "?" in url else "?") + "f=html")
        for response in (by_accept, by_f):
            assert response["Content-Type"].startswith("text/html"), url
            assert "Access-Control-Allow-Origin" not in response


def test_ats_html_definition_of_a_missing_resource(
    inventory: Inventory, client: Client
) -> None:
    """/conf/html/definition for the 404s: an unknown collection or feature asked
    for as HTML (f=html, or a browser's Accept) is a page; as JSON, or with an f
    that is itself invalid, the OGC exception."""
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    hidden = inventory.hidden[0].pk
    for url in (
        "/ogc/collections/batiments",
        "/ogc/collections/batiments/items",
        "/ogc/collections/batiments/queryables",
        "/ogc/collections/batiments/items/1",
        f"{ITEMS}/999999",
        f"{ITEMS}/{hidden}",
    ):
        separator = "&" if "?" in url else "?"
        for response in (
            client.get(f"{url}{separator}f=html"),
            client.get(url, HTTP_ACCEPT=browser),
        ):
            assert response.status_code == 404, url
            assert response["Content-Type"].startswith("text/html"), url
            assert "Access-Control-Allow-Origin" not in response
            assert b"<!DOCTYPE html>" in response.content
        for response in (
            client.get(url),
            client.get(f"{url}{separator}f=json", HTTP_ACCEPT=browser),
        ):
            assert response.status_code == 404, url
            assert response.json()["code"] == "NotFound"
            assert response["Access-Control-Allow-Origin"] == "*"
    invalid_f = client.get("/ogc/collections/batiments?f=xml", HTTP_ACCEPT=browser)
    assert invalid_f.status_code == 404
    assert invalid_f.json()["code"] == "NotFound"


def test_ats_html_content(inventory: Inventory, client: Client) -> None:
    """/conf/html/content: an HTML 5 page of our base (DSFR) template holding the
    information of the JSON document and each of its links as an <a>; nothing
    loaded from another host."""
    for url in [*RESOURCES, *feature_urls(inventory)]:
        separator = "&" if "?" in url else "?"
        html = get(client, f"{url}{separator}f=html").content.decode()
        assert html.startswith("<!DOCTYPE html>"), url
        assert 'class="fr-header"' in html, url
        page = anchors(html)
        document = json.loads(get(client, f"{url}{separator}f=json").content)
        for item in document.get("links", []):
            if item["rel"] in ("self", "alternate"):
                continue  # the HTML page's own self/alternate differ by format
            hrefs = {without_format(h) for h in page.hrefs}
            assert without_format(item["href"]) in hrefs, (url, item)
        assert not re.search(r'(src|href)="(https?:)?//(?!testserver)', html), url
    items = get(client, f"{ITEMS}?f=html&limit=100").content.decode()
    for building in inventory.located:
        assert building.designation in items
    for building in inventory.hidden:
        assert building.designation not in items
    conformance = get(client, "/ogc/conformance?f=html").content.decode()
    assert all(
        uri in conformance for uri in body(client, "/ogc/conformance")["conformsTo"]
    )


# --- OpenAPI 3.0
def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in refs(item)]
    return []


def test_ats_oas30_oas_definition_1(client: Client) -> None:
    """/conf/oas30/oas-definition-1: the definition in JSON with the OpenAPI 3.0
    media type, and an HTML version."""
    response = get(
        client, "/ogc/api", Accept="application/vnd.oai.openapi+json;version=3.0"
    )
    assert response["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    html = get(client, "/ogc/api?f=html").content.decode()
    for path in json.loads(response.content)["paths"]:
        assert f"GET {path}" in html


def test_ats_oas30_oas_definition_2(client: Client) -> None:
    """/conf/oas30/oas-definition-2: valid OpenAPI 3.0 (openapi-spec-validator),
    self-contained: every $ref points inside the document."""
    document = body(client, "/ogc/api")
    assert document["openapi"].startswith("3.0.")
    validate_openapi(document)
    found = refs(document)
    assert found
    assert [ref for ref in found if not ref.startswith("#/")] == []


def _parameters(
    document: dict[str, Any], operation: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if "$ref" in p
        else p
        for p in operation["parameters"]
    ]


def _example(parameter: dict[str, Any], cursor: str) -> str:
    schema = parameter["schema"]
    if parameter["name"] == "cursor":
        return cursor
    item = schema.get("items", schema)
    if "enum" in item:
        return str(item["enum"][-1])
    if parameter["name"] == "bbox":
        return "2,43,6,49"
    if parameter["name"] == "datetime":
        return "2020-01-01/.."
    return {"integer": "2", "boolean": "true"}.get(item["type"], "13")


def test_ats_oas30_oas_impl(inventory: Inventory, client: Client) -> None:
    """/conf/oas30/oas-impl: every operation of the definition, with each of its
    parameters set to a value its schema allows, answers a 200."""
    document = body(client, "/ogc/api")
    feature_ids = {
        "buildings": str(inventory.public[0].pk),
        "communes": "13055",
        "departements": "13",
    }
    cursors = {
        c: body(client, f"/ogc/collections/{c}/items?limit=1")["links"][-1]["href"]
        .split("cursor=")[1]
        .split("&")[0]
        for c in COLLECTIONS
    }
    for path, item in document["paths"].items():
        collection_id = (
            path.split("/")[2] if path.startswith("/collections/") else "buildings"
        )
        url = "/ogc" + path.replace("{featureId}", feature_ids[collection_id])
        operation = item["get"]
        assert get(client, url)
        for parameter in _parameters(document, operation):
            if parameter["in"] != "query":
                continue
            value = _example(parameter, cursors[collection_id])
            query = f"{parameter['name']}={value}"
            if parameter["name"] == "bbox-crs":
                query = f"bbox=2,43,6,49&{query}"
            response = client.get(f"{url}?{query}")
            assert response.status_code == 200, (url, query, response.content)


def test_ats_oas30_completeness(inventory: Inventory, client: Client) -> None:
    """/conf/oas30/completeness: the definition lists every status code an
    operation answers with: 200, 400 (unknown or invalid parameter), 404 (no
    such feature), 429 (throttled) and 500."""
    document = body(client, "/ogc/api")
    for path, item in document["paths"].items():
        responses = item["get"]["responses"]
        assert {"200", "400", "429", "500"} <= set(responses), path
        url = "/ogc" + path.replace("{featureId}", "999999")
        if "{featureId}" in path:
            assert "404" in responses
            assert client.get(url).status_code == 404
        assert client.get(f"{url}?unknown=1").status_code in (400, 404)
        for status, response in responses.items():
            if status != "200":
                (name,) = [response["$ref"].rsplit("/", 1)[1]]
                content = document["components"]["responses"][name]["content"]
                assert content["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/exception"
                }


def test_ats_oas30_exceptions_codes(client: Client) -> None:
    """/conf/oas30/exceptions-codes: error bodies are the exception schema of the
    definition, whatever error the server raises (here a throttled client)."""
    document = body(client, "/ogc/api")
    schema = document["components"]["schemas"]["exception"]
    for url in ("/ogc/?x=1", "/ogc/collections/none", f"{ITEMS}/0"):
        jsonschema.validate(client.get(url).json(), schema)
    with pytest.MonkeyPatch.context() as patch:
        from rest_framework.throttling import AnonRateThrottle

        patch.setattr(AnonRateThrottle, "allow_request", lambda self, r, v: False)
        patch.setattr(AnonRateThrottle, "wait", lambda self: 30)
        throttled = client.get("/ogc/")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "30"
    jsonschema.validate(throttled.json(), schema)


def test_ats_oas30_security(inventory: Inventory, client: Client) -> None:
    """/conf/oas30/security: no operation is access-controlled, so the
    definition declares no security scheme; anyone reads, nobody writes."""
    document = body(client, "/ogc/api")
    assert "securitySchemes" not in document["components"]
    assert all("security" not in item["get"] for item in document["paths"].values())
    assert "security" not in document
    assert client.post("/ogc/collections/buildings/items").status_code == 405
    assert client.delete("/ogc/collections/buildings/items/1").status_code == 405
    assert ids(walk(client, "/ogc/collections/departements/items")) == ["13", "75"]
