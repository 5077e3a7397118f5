"""Helpers shared by the finance API tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from organizations.models import Organization, OrganizationKind, Role

BASE = "/api/v1/finance/"


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def funder_client(
    make_member: Callable[..., User], organization: Organization
) -> APIClient:
    return client_for(
        make_member(
            OrganizationKind.FUNDER, role=Role.VIEWER, organization=organization
        )
    )


def post_payment(
    client: APIClient, url: str, body: dict[str, Any], key: str | None
) -> Any:
    """POST a payment (disbursement, fee) with ``key`` as its Idempotency-Key
    header, or without the header when ``key`` is None."""
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def etag(client: APIClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content
    tag: str = response["ETag"]
    return tag
