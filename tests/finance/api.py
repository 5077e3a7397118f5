"""Helpers shared by the finance API tests."""

from __future__ import annotations

from collections.abc import Callable

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


def etag(client: APIClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content
    tag: str = response["ETag"]
    return tag
