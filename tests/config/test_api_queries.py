"""A malformed, blank or repeated query parameter is a 400 on its field (found
by the D1 fuzzer, tests/fuzz): DRF served the default page size for
``page_size=abc`` and page 1 for ``page=``, and the finance filters read
``?nature=`` as no filter and ``?funder=abc&funder=5`` as funder 5."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from organizations.models import OrganizationKind

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/organizations/",
        "/api/v1/finance/commitments/",
        "/api/v1/occupants/",
        "/api/v1/spaces/",
    ],
)
@pytest.mark.parametrize("page_size", ["abc", "-3.5", "false", "0", ""])
def test_a_malformed_page_size_is_a_400_on_the_field(
    make_member: Callable[..., User], url: str, page_size: str
) -> None:
    """DRF served the default page size for these, silently."""
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get(url, {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


@pytest.mark.parametrize("query", ["page=", "page=1&page=2"])
def test_a_blank_or_repeated_page_is_a_400(
    make_member: Callable[..., User], query: str
) -> None:
    """``page=`` was served as page 1."""
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get(f"/api/v1/finance/commitments/?{query}")
    assert response.status_code == 400
    assert "page" in response.json()["errors"]


def test_the_last_page_is_still_reachable_and_documented(
    make_member: Callable[..., User],
) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    assert client_for(user).get("/api/v1/organizations/?page=last").status_code == 200
    schema = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    page = next(
        p
        for p in schema["paths"]["/api/v1/organizations/"]["get"]["parameters"]
        if p["name"] == "page"
    )
    assert {"type": "string", "enum": ["last"]} in page["schema"]["oneOf"]


def test_a_page_size_given_twice_is_a_400(make_member: Callable[..., User]) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get("/api/v1/organizations/?page_size=1&page_size=2")
    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


def test_a_good_page_size_still_pages(make_member: Callable[..., User]) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get("/api/v1/organizations/", {"page_size": "1"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "query", ["funder=abc&funder=5", "building=1&building=2", "nature=x&nature=loan"]
)
def test_a_finance_filter_given_twice_is_a_400(
    make_member: Callable[..., User], query: str
) -> None:
    """The last value won: ``funder=abc&funder=5`` read as funder 5."""
    user = make_member(OrganizationKind.FUNDER)
    name = query.split("=", 1)[0]
    for url in ("/api/v1/finance/indicators/", "/api/v1/finance/commitments/"):
        response: Any = client_for(user).get(f"{url}?{query}")
        assert response.status_code == 400, url
        assert name in response.json()["errors"], url


@pytest.mark.parametrize("name", ["nature", "funder", "building", "year"])
def test_a_blank_finance_filter_is_a_400(
    make_member: Callable[..., User], name: str
) -> None:
    """``?nature=`` was read as no filter (200), outside the documented enum."""
    user = make_member(OrganizationKind.FUNDER)
    for url in ("/api/v1/finance/indicators/", "/api/v1/finance/commitments/"):
        response: Any = client_for(user).get(f"{url}?{name}=")
        assert response.status_code == 400, url
        assert name in response.json()["errors"], url


@pytest.mark.parametrize("query", ["building=", "building=1&building=2", "kind="])
def test_a_blank_or_repeated_occupancy_filter_is_a_400(
    make_member: Callable[..., User], query: str
) -> None:
    """``?building=`` listed every inspection, though the schema takes an id."""
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get(f"/api/v1/safety-inspections/?{query}")
    assert response.status_code == 400
    assert query.split("=", 1)[0] in response.json()["errors"]


@pytest.mark.parametrize(
    "query",
    [
        "group_by=site&group_by=use",
        "period_start=2025-01-01&period_start=2026-02-01",
        "period_end=2026-03-01&period_end=2026-03-02",
    ],
)
def test_a_repeated_occupancy_indicator_parameter_is_a_400(
    make_member: Callable[..., User], query: str
) -> None:
    """The last value was read: ``group_by=site&group_by=use`` grouped by use."""
    user = make_member(OrganizationKind.OPERATOR)
    period = "period_start=2026-01-01&period_end=2026-03-31"
    response = client_for(user).get(f"/api/v1/indicators/?{period}&{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [query.split("=", 1)[0]]


def test_a_multiple_choice_filter_still_takes_several_values(
    make_member: Callable[..., User],
) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get("/api/v1/occupants/?kind=person&kind=organization")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["kind=", "kind=operator&kind=funder"])
def test_a_blank_or_repeated_directory_filter_is_a_400(
    make_member: Callable[..., User], query: str
) -> None:
    """``?kind=`` listed the whole directory (found by schemathesis)."""
    user = make_member(OrganizationKind.OPERATOR)
    response = client_for(user).get(f"/api/v1/organizations/?{query}")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]
