"""Real clients against a live server on loopback: GDAL's OAPIF driver (ogrinfo,
ogr2ogr) and OWSLib; and /conf/core/http, which needs a real HTTP exchange.

GDAL runs as a subprocess with a timeout, its HTTP timeout set, proxies removed
from its environment and its debug log read back, so that a request to any other
host than the test server fails the test.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from owslib.ogcapi.features import Features
from pytest_django.live_server_helper import LiveServer

from buildings.ogc.conformance import CONFORMANCE_CLASSES
from tests.ogc.conftest import AIX_BOX, Inventory

pytestmark = pytest.mark.skipif(
    shutil.which("ogr2ogr") is None, reason="GDAL's command-line tools are missing"
)
TIMEOUT_S = 60


def gdal(live_server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        GDAL_HTTP_TIMEOUT="20",
        GDAL_HTTP_MAX_RETRY="0",
        CPL_DEBUG="ON",  # logs every "HTTP: Fetch(url)" on stderr
        GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
    )
    result = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = re.findall(r"HTTP: Fetch\((\S+?)\)", result.stderr)
    assert fetched, "GDAL's debug log changed: nothing was seen fetched"
    assert [url for url in fetched if not url.startswith(live_server.url)] == []
    return result


def test_gdal_lists_the_collections_with_their_geometry_types(
    live_inventory: Inventory, live_server: LiveServer
) -> None:
    result = gdal(live_server, "ogrinfo", "-ro", f"OAPIF:{live_server.url}/ogc/")
    layers = re.findall(r"^\d+: (\w+) \(title: .*\) \(([\w ]+)\)$", result.stdout, re.M)
    assert layers == [
        ("buildings", "Point"),
        ("departements", "Multi Polygon"),
        ("communes", "Multi Polygon"),
    ]


def test_ogr2ogr_copies_every_building_through_small_pages(
    live_inventory: Inventory, live_server: LiveServer, tmp_path: Path
) -> None:
    """Seven features a page: three pages, followed by their next links, and
    the count GDAL reports is numberMatched."""
    source = f"OAPIF:{live_server.url}/ogc/"
    summary = gdal(live_server, "ogrinfo", "-ro", "-so", source, "buildings")
    assert f"Feature Count: {len(live_inventory.located)}" in summary.stdout
    target = tmp_path / "buildings.geojson"
    result = gdal(
        live_server,
        "ogr2ogr",
        "-f",
        "GeoJSON",
        str(target),
        source,
        "buildings",
        "-oo",
        "PAGE_SIZE=7",
    )
    pages = [
        url
        for url in re.findall(r"HTTP: Fetch\((\S+?)\)", result.stderr)
        if "/items" in url
    ]
    assert len({url for url in pages if "cursor=" in url}) == 2
    copied = json.loads(target.read_text("utf-8"))["features"]
    designations = {feature["properties"]["designation"] for feature in copied}
    assert designations == {building.designation for building in live_inventory.located}
    assert len(copied) == len(live_inventory.located)


def test_gdal_filters_by_bbox_and_reads_the_layers(
    live_inventory: Inventory, live_server: LiveServer, tmp_path: Path
) -> None:
    source = f"OAPIF:{live_server.url}/ogc/"
    west, south, east, north = AIX_BOX
    target = tmp_path / "aix.geojson"
    gdal(
        live_server,
        "ogr2ogr",
        "-f",
        "GeoJSON",
        str(target),
        source,
        "communes",
        "-spat",
        str(west),
        str(south),
        str(east),
        str(north),
    )
    (commune,) = json.loads(target.read_text("utf-8"))["features"]
    assert commune["properties"]["code"] == "13001"
    assert commune["properties"]["vacant_buildings"] == 3


def test_owslib_reads_the_landing_page_conformance_collections_and_items(
    live_inventory: Inventory, live_server: LiveServer
) -> None:
    api = Features(f"{live_server.url}/ogc/", timeout=20)
    assert {link["rel"] for link in api.links} >= {
        "service-desc",
        "conformance",
        "data",
    }
    assert api.conformance()["conformsTo"] == list(CONFORMANCE_CLASSES)
    assert api.api()["openapi"].startswith("3.0")
    assert api.feature_collections() == ["buildings", "departements", "communes"]
    assert api.collection("buildings")["extent"]["spatial"]["bbox"]
    items = api.collection_items("buildings", bbox=list(AIX_BOX), limit=2)
    assert items["numberReturned"] == 2
    assert items["numberMatched"] == 3
    first = items["features"][0]
    feature = api.collection_item("buildings", str(first["id"]))
    assert feature["properties"] == first["properties"]
    queryables = api.collection_queryables("buildings")
    assert set(queryables["properties"]) >= {"department", "commune", "status", "erp"}
    found = api.collection_items("buildings", department="75")
    assert [f["properties"]["designation"] for f in found["features"]] == ["Paris"]


def test_ats_core_http(live_inventory: Inventory, live_server: LiveServer) -> None:
    """/conf/core/http: HTTP 1.1 on a kept-alive connection; JSON answers carry
    Access-Control-Allow-Origin: * (public data for browser clients elsewhere),
    HTML pages do not."""
    parts = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=20
    )
    try:
        for path, accept, cors in (
            ("/ogc/", "application/json", "*"),
            ("/ogc/collections/buildings/items?limit=1", "application/geo+json", "*"),
            ("/ogc/collections/buildings/items?limit=1", "text/html", None),
            ("/ogc/collections/none", "application/json", "*"),
            ("/ogc/collections/buildings/queryables", "application/json", "*"),
            ("/ogc/api", "application/json", "*"),
            ("/ogc/exports/friches.csv", "text/csv", None),
        ):
            connection.request("GET", path, headers={"Accept": accept})
            response = connection.getresponse()
            response.read()
            assert response.version == 11
            assert response.getheader("Access-Control-Allow-Origin") == cors, path
            assert "Accept" in (response.getheader("Vary") or "")
    finally:
        connection.close()
