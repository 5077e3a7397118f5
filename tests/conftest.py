"""Shared fixtures: one user per persona, API clients, and the demo organizations."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from organizations.models import Membership, Organization, OrganizationKind, Role

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_member(db: None) -> Callable[..., User]:
    """``make_member(kind, role=..., departments=[...])``: a user in a new org."""
    counter = iter(range(1, 10_000))

    def make(
        kind: str,
        *,
        role: str = Role.EDITOR,
        departments: list[str] | None = None,
        organization: Organization | None = None,
        username: str | None = None,
    ) -> User:
        number = next(counter)
        organization = organization or Organization.objects.create(
            name=f"{kind} {number}",
            kind=kind,
            territory_departments=departments or [],
        )
        user = User.objects.create_user(
            username=username or f"{kind}-{number}", password=PASSWORD
        )
        Membership.objects.create(user=user, organization=organization, role=role)
        return user

    return make


@pytest.fixture
def agent(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.STATE_SERVICE, departments=["13"])


@pytest.fixture
def operator_user(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.OPERATOR)


@pytest.fixture
def funder(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.FUNDER)
