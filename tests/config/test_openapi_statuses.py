"""The error statuses the API answers are in its schema (found by the D1 fuzzer,
tests/fuzz): a client, and the schema's own tests, must know them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from organizations.models import OrganizationKind
from tests.occupancy.factories import BuildingFactory

pytestmark = pytest.mark.django_db
OPENAPI = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "openapi.yaml").read_text(
        encoding="utf-8"
    )
)


def documented(path: str, method: str) -> set[int]:
    return {int(code) for code in OPENAPI["paths"][path][method]["responses"]}


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# (schema path, method, URL sent, who asks, the status it gets)
ANSWERS = [
    ("/api/v1/organizations/", "get", "/api/v1/organizations/", None, 401),
    ("/api/v1/organizations/", "get", "/api/v1/organizations/?page=99", "op", 404),
    ("/api/v1/organizations/", "get", "/api/v1/organizations/?kind=x", "op", 400),
    ("/api/v1/organizations/{id}/", "get", "/api/v1/organizations/1/", None, 401),
    ("/api/v1/me/", "get", "/api/v1/me/", None, 401),
    ("/api/v1/auth/token/revoke/", "post", "/api/v1/auth/token/revoke/", None, 401),
    ("/api/v1/finance/commitments/", "get", "/api/v1/finance/commitments/", None, 401),
    (
        "/api/v1/finance/commitments/",
        "get",
        "/api/v1/finance/commitments/?nature=x",
        "op",
        400,
    ),
    (
        "/api/v1/finance/cost-lines/",
        "get",
        "/api/v1/finance/cost-lines/?page=99",
        "op",
        404,
    ),
    ("/api/v1/finance/indicators/", "get", "/api/v1/finance/indicators/", None, 401),
    ("/api/v1/occupants/", "get", "/api/v1/occupants/?page=99", "op", 404),
    ("/api/v1/buildings/", "post", "/api/v1/buildings/", None, 401),
    (
        "/api/v1/buildings/export.{fmt}",
        "get",
        "/api/v1/buildings/export.txt",
        None,
        404,
    ),
]


@pytest.mark.parametrize(("path", "method", "url", "who", "expected"), ANSWERS)
def test_an_error_status_the_api_answers_is_documented(
    make_member: Callable[..., User],
    path: str,
    method: str,
    url: str,
    who: str | None,
    expected: int,
) -> None:
    user = make_member(OrganizationKind.OPERATOR) if who else None
    response = getattr(client_for(user), method)(url, format="json")
    assert response.status_code == expected
    assert expected in documented(path, method)


def test_the_token_endpoint_documents_a_wrong_password() -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "nobody", "password": "x"}, format="json"
    )
    assert response.status_code == 403
    assert 403 in documented("/api/v1/auth/token/", "post")


def test_an_out_of_range_radius_is_a_documented_400() -> None:
    building = BuildingFactory.create()
    response = APIClient().get(f"/api/v1/buildings/{building.pk}/?radius=-1")
    assert response.status_code == 400
    assert 400 in documented("/api/v1/buildings/{id}/", "get")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/buildings/", "/api/v1/buildings/{id}/", "/api/v1/buildings/export.{fmt}"],
)
def test_open_inventory_reads_say_a_token_is_optional(path: str) -> None:
    """Anyone reads the inventory: the schema must not claim a token is needed."""
    assert {} in OPENAPI["paths"][path]["get"]["security"]


def test_the_geojson_export_is_documented_as_a_json_document() -> None:
    content = OPENAPI["paths"]["/api/v1/buildings/export.{fmt}"]["get"]["responses"]
    assert content["200"]["content"]["application/geo+json"]["schema"] == {
        "type": "object",
        "additionalProperties": {},
    }


def test_writes_document_an_unsupported_media_type() -> None:
    for path, method in (
        ("/api/v1/finance/disbursements/", "post"),
        ("/api/v1/spaces/", "post"),
        ("/api/v1/agreements/{id}/", "patch"),
    ):
        assert 415 in documented(path, method), path
