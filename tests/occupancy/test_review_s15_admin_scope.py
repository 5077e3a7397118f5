"""Review s15: the admin's write rule (InventoryWriteAdminMixin, department_path)
on a row whose building has no département.

Buildings of Saint-Pierre-et-Miquelon, Saint-Barthélemy and Saint-Martin (975,
977, 978) are linked by their commune alone: ``department_id`` is None.
``may_change`` reads that None and hands it to ``may_write_inventory``, where
``department=None`` means "any département will do": an agent who is an editor
for one territory (13) and only a viewer of a national service (it reads
everything) changes those buildings' spaces (and the buildings themselves) in
the admin. The API refuses the same write (writable_departments: the 13 only).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from buildings.models import Building
from occupancy.models import Space
from organizations.models import Membership, Organization, OrganizationKind, Role
from tests.buildings.factories import collectivity_building
from tests.occupancy.factories import SpaceFactory

pytestmark = pytest.mark.django_db

PERMISSIONS = ("view_space", "change_space", "view_building", "change_building")


@pytest.fixture
def editor_13_reader_national(make_member: Callable[..., User]) -> User:
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    national = Organization.objects.create(
        name="DIE", kind=OrganizationKind.STATE_SERVICE, territory_departments=[]
    )
    Membership.objects.create(user=user, organization=national, role=Role.VIEWER)
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=("occupancy", "buildings"),
            codename__in=PERMISSIONS,
        )
    )
    return user


def test_an_editor_of_the_13_changes_no_space_of_saint_pierre_in_the_admin(
    editor_13_reader_national: User,
) -> None:
    building = collectivity_building("97502")
    assert building.department_id is None
    space = SpaceFactory.create(building=building, name="Salle SPM", capacity=10)
    client = Client()
    client.force_login(editor_13_reader_national)

    response = client.post(
        reverse("admin:occupancy_space_change", args=[space.pk]),
        {"name": "Renamed", "kind": space.kind, "use": space.use, "capacity": 1},
    )

    space.refresh_from_db()
    assert (space.name, space.capacity) == ("Salle SPM", 10), response.status_code
    assert response.status_code == 403


def test_an_editor_of_the_13_may_not_change_a_building_of_saint_pierre(
    editor_13_reader_national: User,
) -> None:
    from django.contrib import admin
    from django.test import RequestFactory

    building = collectivity_building("97502")
    request = RequestFactory().get("/")
    request.user = editor_13_reader_national
    building_admin = admin.site._registry[Building]
    space_admin = admin.site._registry[Space]
    space = SpaceFactory.create(building=building)

    assert not building_admin.has_change_permission(request, building)
    assert not space_admin.has_change_permission(request, space)


def test_nor_moves_its_status_on_the_building_page(
    editor_13_reader_national: User,
) -> None:
    """The pages share the rule (buildings.views.may_write_inventory): the
    building page offers no lifecycle form and its POST is refused."""
    building = collectivity_building("97502")
    status = building.status
    client = Client()
    client.force_login(editor_13_reader_national)

    page = client.get(reverse("buildings:detail", args=[building.pk]))
    response = client.post(
        reverse("buildings:transition", args=[building.pk]),
        {"to": "assessed", "reason": "Visite faite"},
    )

    assert page.status_code == 200
    assert page.context["transitions"] == []
    assert response.status_code == 403
    building.refresh_from_db()
    assert building.status == status
