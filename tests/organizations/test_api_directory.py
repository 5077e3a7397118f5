"""GET /api/v1/organizations/: the directory, whole for State agents, the
caller's own organizations for everyone else (README "The API")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from organizations.models import Organization, OrganizationKind

pytestmark = pytest.mark.django_db
DIRECTORY = "/api/v1/organizations/"


def names(user: User) -> set[str]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(DIRECTORY)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return {organization["name"] for organization in body["results"]}


@pytest.fixture
def members(make_member: Callable[..., User]) -> dict[str, User]:
    return {
        kind: make_member(kind, username=kind)
        for kind in (
            OrganizationKind.STATE_SERVICE,
            OrganizationKind.OPERATOR,
            OrganizationKind.FUNDER,
        )
    }


def test_a_state_agent_reads_the_whole_directory(members: dict[str, User]) -> None:
    everyone = set(Organization.objects.values_list("name", flat=True))
    assert len(everyone) == 3
    assert names(members[OrganizationKind.STATE_SERVICE]) == everyone


@pytest.mark.parametrize("kind", [OrganizationKind.OPERATOR, OrganizationKind.FUNDER])
def test_an_operator_or_a_funder_reads_its_own_organization_only(
    members: dict[str, User], kind: str
) -> None:
    own = Organization.objects.get(memberships__user=members[kind])
    assert names(members[kind]) == {own.name}
    other = Organization.objects.exclude(pk=own.pk).first()
    assert other is not None
    client = APIClient()
    client.force_authenticate(members[kind])
    assert client.get(f"{DIRECTORY}{other.pk}/").status_code == 404
    assert client.get(f"{DIRECTORY}{own.pk}/").status_code == 200


def test_the_directory_needs_a_signed_in_caller(members: dict[str, User]) -> None:
    assert APIClient().get(DIRECTORY).status_code == 401
