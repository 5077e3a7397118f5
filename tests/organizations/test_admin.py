"""Who may grant what in the administration: organizations, memberships, users
and groups are the superusers' alone (reliability.md B8), whatever model
permissions a staff member was given."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from organizations.models import Membership, Organization, OrganizationKind, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_member: Callable[..., User]) -> User:
    """A territorial State editor on staff holding every permission of the
    organizations and auth apps (as a careless grant would give)."""
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["organizations", "auth"])
    )
    return user


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_cannot_make_themselves_members_of_another_service(
    staff: User,
) -> None:
    national = Organization.objects.create(
        name="Direction de l'immobilier de l'État",
        kind=OrganizationKind.STATE_SERVICE,
    )
    client = login(staff)

    add = reverse("admin:organizations_membership_add")
    response = client.post(
        add, {"user": staff.pk, "organization": national.pk, "role": Role.ADMIN}
    )

    assert client.get(add).status_code == 403
    assert response.status_code == 403
    assert not Membership.objects.filter(user=staff, organization=national).exists()


def test_staff_cannot_widen_their_services_territory(staff: User) -> None:
    service = Membership.objects.get(user=staff).organization
    client = login(staff)
    change = reverse("admin:organizations_organization_change", args=[service.pk])

    response = client.post(
        change,
        {
            "name": service.name,
            "kind": service.kind,
            "legal_form": service.legal_form,
            "territory_departments": "",  # national
        },
    )

    assert client.get(change).status_code == 403
    assert response.status_code == 403
    service.refresh_from_db()
    assert service.territory_departments == ["13"]


def test_staff_cannot_make_themselves_superusers(staff: User) -> None:
    client = login(staff)
    change = reverse("admin:auth_user_change", args=[staff.pk])

    response = client.post(
        change,
        {
            "username": staff.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert client.get(change).status_code == 403
    assert response.status_code == 403
    staff.refresh_from_db()
    assert not staff.is_superuser
    assert client.get(reverse("admin:auth_group_add")).status_code == 403
    assert not Group.objects.exists()


def test_the_index_offers_staff_none_of_these_models(staff: User) -> None:
    response = login(staff).get(reverse("admin:index"))

    offered = {
        model["object_name"]
        for app in response.context["app_list"]
        for model in app["models"]
    }
    assert not offered & {"Organization", "Membership", "User", "Group"}


def test_a_superuser_manages_organizations_memberships_and_users(
    make_member: Callable[..., User],
) -> None:
    member = make_member(OrganizationKind.OPERATOR, role=Role.VIEWER)
    membership = Membership.objects.get(user=member)
    root = User.objects.create_superuser("root", "root@example.org", "x" * 16)
    client = login(root)

    for url in (
        reverse("admin:organizations_organization_changelist"),
        reverse("admin:organizations_membership_change", args=[membership.pk]),
        reverse("admin:auth_user_change", args=[member.pk]),
        reverse("admin:auth_group_add"),
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        reverse("admin:organizations_membership_change", args=[membership.pk]),
        {
            "user": member.pk,
            "organization": membership.organization_id,
            "role": "editor",
        },
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
