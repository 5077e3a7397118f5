"""The conformance classes this API declares at /ogc/conformance
(/req/core/conformance-success: every class the server conforms to, and only
those; tests/ogc holds one test per abstract test of each)."""

from __future__ import annotations

_PART1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"

CORE = f"{_PART1}/core"
GEOJSON = f"{_PART1}/geojson"
HTML = f"{_PART1}/html"
OAS30 = f"{_PART1}/oas30"

CONFORMANCE_CLASSES: tuple[str, ...] = (CORE, GEOJSON, HTML, OAS30)
