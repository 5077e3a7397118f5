"""The committed OpenAPI schema is the one the code generates, self-contained,
served as is, and documented by a Swagger UI served from our own static files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.yaml"
REGENERATE = "the API changed: run `make openapi` and commit tests/openapi.yaml"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What `make openapi` writes: in English, the API's reference language."""
    target = tmp_path_factory.mktemp("openapi") / "openapi.yaml"
    call_command(
        "spectacular", file=str(target), lang="en", validate=True, fail_on_warn=True
    )
    return target.read_text(encoding="utf-8")


def test_the_committed_schema_is_the_generated_one(generated: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == generated, REGENERATE


def test_the_schema_is_self_contained() -> None:
    schema = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    found = list(refs(schema))
    assert found, "no $ref at all: the walk is broken"
    assert [ref for ref in found if not ref.startswith("#/")] == []
    assert [ref for ref in found if "http" in ref] == []


def test_the_schema_documents_the_api_and_its_token_security() -> None:
    schema = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/auth/token/", "/api/v1/me/"} <= set(schema["paths"])
    token = schema["components"]["securitySchemes"]["knoxApiToken"]
    assert (token["type"], token["in"], token["name"]) == (
        "apiKey",
        "header",
        "Authorization",
    )
    assert schema["paths"]["/api/v1/auth/token/"]["post"]["security"] == [{}]


@pytest.mark.django_db
def test_the_schema_endpoint_serves_the_committed_schema(client: Client) -> None:
    """In English, as committed (``?lang=`` asks for another language)."""
    response = client.get("/api/schema/?lang=en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.decode() == COMMITTED.read_text(encoding="utf-8")


@pytest.mark.django_db
def test_swagger_ui_loads_only_local_scripts_and_styles(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 3, html
    sidecar = "/static/drf_spectacular_sidecar/swagger-ui-dist/"
    for asset in assets:
        assert asset.startswith((sidecar, "/api/docs/?script")), asset
        assert client.get(asset).status_code == 200, asset
    assert "http://" not in html
    assert "https://" not in html


@pytest.mark.django_db
def test_swagger_ui_starts_from_a_script_file_not_an_inline_script(
    client: Client,
) -> None:
    """The split view keeps Swagger UI within a CSP without 'unsafe-inline'."""
    html = client.get("/api/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()
