"""The inventory's administration: scoped querysets, lifecycle only through the
service, and a map widget on local assets and the configured basemap."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from buildings.admin import BasemapWidget
from buildings.models import Building, BuildingStatus, BuildingStatusChange, Site
from buildings.services import DOMANIALITY_REQUIRED
from organizations.models import Membership, Organization, OrganizationKind, Role
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db
S = BuildingStatus
CHANGELIST = reverse("admin:buildings_building_changelist")
STAFF_PERMISSIONS = (
    "view_building",
    "change_building",
    "add_building",
    "view_buildingstatuschange",
    "view_site",
    "view_commune",
    "view_department",
    "view_region",
    "view_friche",
)


def change_url(building: Building) -> str:
    return reverse("admin:buildings_building_change", args=[building.pk])


def transition_url(building: Building) -> str:
    return reverse("admin:buildings_building_transition", args=[building.pk])


@pytest.fixture
def make_staff(make_member: Callable[..., User]) -> Callable[..., User]:
    def make(departments: list[str], role: str = Role.EDITOR) -> User:
        user = make_member(
            OrganizationKind.STATE_SERVICE, departments=departments, role=role
        )
        user.is_staff = True
        user.save()
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="buildings", codename__in=STAFF_PERMISSIONS
            )
        )
        return user

    return make


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def paris_building(**fields: Any) -> Building:
    paris = CommuneFactory.create(
        code="75056",
        name="Paris",
        department=DepartmentFactory.create(
            code="75", name="Paris", region=RegionFactory.create(code="11", name="IDF")
        ),
    )
    return BuildingFactory.create(site=SiteFactory.create(commune=paris), **fields)


def changeform_data(response: Any) -> dict[str, Any]:
    """What a browser would post back from an untouched admin change form."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.widget.__class__.__name__ == "CheckboxInput":
            if value:
                data[name] = "on"
        elif field.widget.__class__.__name__ == "NullBooleanSelect":
            data[name] = {True: "true", False: "false"}.get(value, "unknown")
        elif value is None:
            data[name] = ""
        elif hasattr(value, "ewkt"):  # a geometry: posted as the widget's text
            data[name] = value.ewkt
        else:
            data[name] = field.prepare_value(value)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management.initial[name]
    return data


def add_form_data(client: Client, **fields: Any) -> dict[str, Any]:
    """The add form as posted with a designation, a surface and ``fields``."""
    data = changeform_data(client.get(reverse("admin:buildings_building_add")))
    data.update(designation="Ancien tri postal", surface_m2="1200", **fields)
    return data


# --- Map widget: local OpenLayers, configured basemap, no inline script
HOST = re.compile(r"(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", re.I)
# Attributes that make a browser load or send something (xmlns and the like don't).
URL_ATTRIBUTE = re.compile(
    r'\b(?:src|href|action|srcset|poster|data|formaction)="([^"]*)"', re.I
)


def referenced_hosts(html: str) -> set[str]:
    hosts = {
        host.lower()
        for value in URL_ATTRIBUTE.findall(html)
        for host in HOST.findall(unescape(value))
    }
    for raw in re.findall(r'data-map-options="([^"]+)"', html):
        options = json.loads(unescape(raw))
        hosts |= {host.lower() for host in HOST.findall(options["basemap_url"])}
    return hosts


def test_the_change_page_references_no_host_but_the_basemap(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create()

    response = login(make_staff(["13"])).get(change_url(building))

    html = response.content.decode()
    assert response.status_code == 200
    assert referenced_hosts(html) == {urlsplit(settings.BASEMAP_URL).hostname}
    assert "/static/vendor/ol/ol.js" in html
    assert "/static/vendor/ol/ol.css" in html
    assert "jsdelivr" not in html
    assert "openstreetmap" not in html.lower()


def test_the_map_widget_starts_from_data_not_from_an_inline_script(
    make_staff: Callable[..., User],
) -> None:
    response = login(make_staff(["13"])).get(change_url(BuildingFactory.create()))

    html = response.content.decode()
    raw_options = re.findall(r'data-map-options="([^"]+)"', html)
    options = [json.loads(unescape(raw)) for raw in raw_options]
    assert {option["name"] for option in options} == {"point", "footprint"}
    assert all(option["basemap_url"] == settings.BASEMAP_URL for option in options)
    # Scripts either have a src or carry data (json_script), never code.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    for attributes, body in inline:
        assert not body.strip() or "application/json" in attributes


def test_the_widget_media_names_only_local_files() -> None:
    media = str(BasemapWidget().media)

    assert media.count("/static/") == 5
    assert "//" not in media.replace('="/static/', "")


# --- Scope
def test_staff_see_only_their_territory(make_staff: Callable[..., User]) -> None:
    in_13 = BuildingFactory.create(designation="Caserne du Muy")
    in_75 = paris_building(designation="Hôtel de Paris")
    client = login(make_staff(["13"]))

    changelist = client.get(CHANGELIST)
    outside = client.get(change_url(in_75))

    assert list(changelist.context["cl"].result_list) == [in_13]
    # The admin answers "does not exist" for rows its queryset hides.
    assert outside.status_code == 302
    assert client.post(transition_url(in_75), {"to": S.ASSESSED}).status_code == 404


def test_a_superuser_sees_every_building() -> None:
    BuildingFactory.create()
    paris_building()
    superuser = User.objects.create_superuser("root", password="x" * 20)

    changelist = login(superuser).get(CHANGELIST)

    assert changelist.context["cl"].result_count == 2


def test_staff_of_an_operator_see_no_building(
    make_member: Callable[..., User],
) -> None:
    BuildingFactory.create(available=True)
    user = make_member(OrganizationKind.OPERATOR)
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename="view_building"))

    changelist = login(user).get(CHANGELIST)

    assert changelist.context["cl"].result_count == 0


# --- Writes through the services
def test_status_cannot_be_edited_in_the_form(make_staff: Callable[..., User]) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(make_staff(["13"]))
    data = changeform_data(client.get(change_url(building)))

    data["status"] = S.AVAILABLE
    data["designation"] = "Caserne rénovée"
    response = client.post(change_url(building), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    building.refresh_from_db()
    assert building.designation == "Caserne rénovée"
    assert building.status == S.VACANT


def test_saving_the_form_recomputes_the_suitability_score(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(make_staff(["13"]))
    data = changeform_data(client.get(change_url(building)))

    data["accessibility"] = "accessible"
    response = client.post(change_url(building), data)

    assert response.status_code == 302
    building.refresh_from_db()
    assert building.suitability_details["mixed"]["accessibility"]["value"] == 1.0
    assert building.suitability_completeness is not None


def test_a_building_added_in_the_admin_is_created_by_the_service(
    make_staff: Callable[..., User],
) -> None:
    site = SiteFactory.create()
    client = login(make_staff(["13"]))
    data = add_form_data(client, site=site.pk, inventory_id="ADMIN-1", department="13")

    response = client.post(reverse("admin:buildings_building_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    building = Building.objects.get(inventory_id="ADMIN-1")
    assert building.status == S.IN_USE
    assert building.surface_m2 == Decimal("1200")
    assert building.suitability_mixed is not None  # computed by building_create


def test_the_change_page_offers_the_allowed_transitions(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True)

    response = login(make_staff(["13"])).get(change_url(building))

    offered = [status for status, _ in response.context["transitions"]]
    assert S.ASSESSED in offered
    assert S.UNDER_AGREEMENT not in offered
    assert f'action="{transition_url(building)}"' in response.content.decode()


def test_a_transition_from_the_admin_goes_through_the_lifecycle(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True)
    staff = make_staff(["13"])

    response = login(staff).post(
        transition_url(building), {"to": S.ASSESSED, "reason": "visited"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(building)
    building.refresh_from_db()
    assert building.status == S.ASSESSED
    change = BuildingStatusChange.objects.get(building=building)
    assert (change.changed_by, change.reason) == (staff, "visited")


def test_a_refused_transition_from_the_admin_is_a_message(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True, domaniality="unknown")
    client = login(make_staff(["13"]))

    response = client.post(transition_url(building), {"to": S.ASSESSED}, follow=True)

    assert str(DOMANIALITY_REQUIRED) in [str(m) for m in response.context["messages"]]
    building.refresh_from_db()
    assert building.status == S.VACANT
    assert client.post(transition_url(building), {"to": "sold"}).status_code == 302
    assert client.get(transition_url(building)).status_code == 405


def test_a_viewer_on_staff_cannot_move_a_building(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True)
    client = login(make_staff(["13"], role=Role.VIEWER))

    page = client.get(change_url(building))
    post = client.post(transition_url(building), {"to": S.ASSESSED})

    assert "transitions" not in page.context
    assert post.status_code == 403
    building.refresh_from_db()
    assert building.status == S.VACANT


def test_the_status_history_inline_is_read_only(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create(vacant=True)
    staff = make_staff(["13"])
    client = login(staff)
    client.post(transition_url(building), {"to": S.ASSESSED, "reason": "visited"})

    response = client.get(change_url(building))

    [inline] = response.context["inline_admin_formsets"]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert not inline.has_delete_permission
    assert "visited" in response.content.decode()


def test_reference_layers_are_read_only(make_staff: Callable[..., User]) -> None:
    commune = CommuneFactory.create()
    client = login(make_staff(["13"]))

    page = client.get(reverse("admin:buildings_commune_change", args=[commune.pk]))
    add = client.get(reverse("admin:buildings_commune_add"))
    search = client.get(reverse("admin:buildings_commune_changelist"), {"q": "13055"})

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert add.status_code == 403
    assert list(search.context["cl"].result_list) == [commune]


@pytest.mark.parametrize(
    ("url", "field", "value"),
    [
        ("/admin/buildings/building/add/", "site", "abc"),
        ("/admin/buildings/site/add/", "commune", "1\x00"),
        ("/admin/occupancy/space/add/", "building", "abc"),
        ("/admin/organizations/membership/add/", "user", "abc"),
    ],
)
def test_an_autocomplete_value_that_is_no_key_is_a_field_error(
    db: None, url: str, field: str, value: str
) -> None:
    """Drawing the form again filtered the related table on the value: a
    ValueError or a DataError (NUL byte), a 500 instead of the field's error."""
    admin = User.objects.create_superuser("root", "root@example.org", "x" * 16)
    client = Client()
    client.force_login(admin)

    response = client.post(url, {field: value})

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("commune", "75056"),
        # The outline 600 m east of the building's point.
        (
            "footprint",
            "SRID=4326;MULTIPOLYGON(((5.3912 43.3022,5.3914 43.3022,"
            "5.3914 43.3024,5.3912 43.3024,5.3912 43.3022)))",
        ),
    ],
)
def test_a_location_the_services_refuse_is_a_form_error_and_changes_nothing(
    make_staff: Callable[..., User], field: str, value: str
) -> None:
    """The services' location checks (commune in its département, footprint by
    its point) reach the form as errors on the field, not as a 500."""
    paris_building()
    building = BuildingFactory.create()
    before = Building.objects.filter(pk=building.pk).values().get()
    client = login(make_staff(["13"]))
    data = changeform_data(client.get(change_url(building)))

    data[field] = value
    response = client.post(change_url(building), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Building.objects.filter(pk=building.pk).values().get() == before


# --- Writes within the staff member's territory (reliability.md B4, B8)
@pytest.mark.parametrize(
    "changes",
    [
        {"department": "75", "commune": "", "point": ""},
        {"department": ""},
        {"site": "paris"},
    ],
    ids=["another-departement", "no-departement", "another-territorys-site"],
)
def test_a_territorial_editor_cannot_move_a_building_out_of_the_territory(
    make_staff: Callable[..., User], changes: dict[str, str]
) -> None:
    """Django's model permissions were the whole check: a staff editor of the
    Bouches-du-Rhône moved a building to Paris (out of its own reach) or onto a
    Paris site, which the API refuses."""
    paris = paris_building()
    building = BuildingFactory.create()
    before = Building.objects.filter(pk=building.pk).values().get()
    client = login(make_staff(["13"]))
    data = changeform_data(client.get(change_url(building)))
    data.update(changes)
    if data.get("site") == "paris":
        data["site"] = paris.site_id

    response = client.post(change_url(building), data)

    assert response.status_code == 200
    assert set(changes) & set(response.context["adminform"].form.errors)
    assert Building.objects.filter(pk=building.pk).values().get() == before


def test_a_territorial_editor_cannot_add_a_building_elsewhere(
    make_staff: Callable[..., User],
) -> None:
    paris = paris_building()
    client = login(make_staff(["13"]))
    data = add_form_data(
        client, site=paris.site_id, inventory_id="ADMIN-75", department="75"
    )

    response = client.post(reverse("admin:buildings_building_add"), data)

    assert response.status_code == 200
    assert {"site", "department"} <= set(response.context["adminform"].form.errors)
    assert not Building.objects.filter(inventory_id="ADMIN-75").exists()


def test_a_viewer_on_staff_reads_a_building_but_cannot_change_or_add_one(
    make_staff: Callable[..., User],
) -> None:
    """A viewer of a State service, given the model permissions, edited facts
    (only the status moves were refused)."""
    building = BuildingFactory.create()
    before = Building.objects.filter(pk=building.pk).values().get()
    client = login(make_staff(["13"], role=Role.VIEWER))
    page = client.get(change_url(building))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False

    response = client.post(change_url(building), {"designation": "Changé"})

    assert response.status_code == 403
    assert Building.objects.filter(pk=building.pk).values().get() == before
    assert client.get(reverse("admin:buildings_building_add")).status_code == 403


def test_a_national_editor_on_staff_places_a_building_anywhere(
    make_staff: Callable[..., User],
) -> None:
    paris = paris_building()
    building = BuildingFactory.create()
    client = login(make_staff([]))
    data = changeform_data(client.get(change_url(building)))
    data.update(site=paris.site_id, department="75", commune="75056")
    data["point"] = "SRID=4326;POINT (2.35 48.85)"

    response = client.post(change_url(building), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    building.refresh_from_db()
    assert (building.department_id, building.site_id) == ("75", paris.site_id)


# --- Sites: writes within the territory, as for buildings
SITE_ADD = reverse("admin:buildings_site_add")


def site_url(site: Site) -> str:
    return reverse("admin:buildings_site_change", args=[site.pk])


@pytest.fixture
def make_site_staff(make_staff: Callable[..., User]) -> Callable[..., User]:
    """Staff holding the model permissions to add and change sites."""

    def make(departments: list[str], role: str = Role.EDITOR) -> User:
        user = make_staff(departments, role=role)
        user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="buildings",
                codename__in=("add_site", "change_site"),
            )
        )
        return user

    return make


def site_data(commune: str) -> dict[str, str]:
    return {"code": "SITE-ADMIN", "designation": "Cité des arts", "commune": commune}


def marseille_site() -> Site:
    return SiteFactory.create(commune=CommuneFactory.create(aix=True))


def reads_paris_too(user: User) -> None:
    """Makes ``user`` a viewer of a Paris service besides its own membership."""
    paris_service = Organization.objects.create(
        name="DDFiP de Paris",
        kind=OrganizationKind.STATE_SERVICE,
        territory_departments=["75"],
    )
    Membership.objects.create(user=user, organization=paris_service, role=Role.VIEWER)


@pytest.mark.parametrize("commune", ["75056", ""], ids=["paris", "no-commune"])
def test_a_territorial_editor_cannot_add_a_site_elsewhere(
    make_site_staff: Callable[..., User], commune: str
) -> None:
    """Model permissions were the whole check: a staff editor of the
    Bouches-du-Rhône created a site in Paris, or in no territory at all."""
    paris_building()
    client = login(make_site_staff(["13"]))

    response = client.post(SITE_ADD, site_data(commune))

    assert response.status_code == 200
    assert "commune" in response.context["adminform"].form.errors
    assert not Site.objects.filter(code="SITE-ADMIN").exists()


def test_a_territorial_editor_adds_a_site_in_its_territory(
    make_site_staff: Callable[..., User],
) -> None:
    CommuneFactory.create(aix=True)
    client = login(make_site_staff(["13"]))

    response = client.post(SITE_ADD, site_data("13001"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Site.objects.get(code="SITE-ADMIN").commune_id == "13001"


def test_a_territorial_editor_cannot_move_a_site_out_of_the_territory(
    make_site_staff: Callable[..., User],
) -> None:
    paris_building()
    site = marseille_site()
    before = Site.objects.filter(pk=site.pk).values().get()
    client = login(make_site_staff(["13"]))
    data = changeform_data(client.get(site_url(site)))

    data["commune"] = "75056"
    response = client.post(site_url(site), data)

    assert response.status_code == 200
    assert "commune" in response.context["adminform"].form.errors
    assert Site.objects.filter(pk=site.pk).values().get() == before


def test_an_agent_cannot_change_a_site_it_only_reads(
    make_site_staff: Callable[..., User],
) -> None:
    """An editor for the Bouches-du-Rhône who reads Paris for another service
    saw the Paris site's change form, and saved it."""
    paris = paris_building().site
    user = make_site_staff(["13"])
    reads_paris_too(user)
    client = login(user)
    page = client.get(site_url(paris))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False

    response = client.post(site_url(paris), {"designation": "Changé"})

    assert response.status_code == 403
    paris.refresh_from_db()
    assert paris.designation != "Changé"


def test_an_agent_cannot_delete_a_site_it_only_reads(
    make_site_staff: Callable[..., User],
) -> None:
    """With delete_site, an editor of the 13 who reads Paris for another service
    deleted an empty Paris site."""
    paris = SiteFactory.create(commune=paris_building().commune)
    editor = make_site_staff(["13"])
    editor.user_permissions.add(*Permission.objects.filter(codename="delete_site"))
    reads_paris_too(editor)
    client = login(editor)
    assert client.get(site_url(paris)).status_code == 200  # it reads the site
    delete_url = reverse("admin:buildings_site_delete", args=[paris.pk])

    response = client.post(delete_url, {"post": "yes"})

    assert response.status_code == 403
    assert Site.objects.filter(pk=paris.pk).exists()


def test_a_site_here_through_a_building_keeps_its_commune_elsewhere(
    make_site_staff: Callable[..., User],
) -> None:
    """A site of Paris with a building in the Bouches-du-Rhône is in both
    territories: its editor of the 13 renames it without moving it."""
    site = paris_building().site
    BuildingFactory.create(site=site, commune=CommuneFactory.create(aix=True))
    client = login(make_site_staff(["13"]))
    data = changeform_data(client.get(site_url(site)))

    data["designation"] = "Cité renommée"
    response = client.post(site_url(site), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    site.refresh_from_db()
    assert (site.designation, site.commune_id) == ("Cité renommée", "75056")


def test_a_viewer_on_staff_cannot_add_or_change_a_site(
    make_site_staff: Callable[..., User],
) -> None:
    site = marseille_site()
    client = login(make_site_staff(["13"], role=Role.VIEWER))

    assert client.post(SITE_ADD, site_data("13001")).status_code == 403
    assert client.post(site_url(site), {"designation": "Changé"}).status_code == 403
    assert not Site.objects.filter(code="SITE-ADMIN").exists()


def test_a_national_editor_on_staff_adds_a_site_anywhere(
    make_site_staff: Callable[..., User],
) -> None:
    paris_building()
    client = login(make_site_staff([]))

    response = client.post(SITE_ADD, site_data("75056"))

    assert response.status_code == 302, response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("departments", "offered"), [(["13"], {"13001"}), ([], {"13001", "75056"})]
)
def test_the_site_forms_commune_search_offers_the_editors_territory(
    make_site_staff: Callable[..., User], departments: list[str], offered: set[str]
) -> None:
    paris_building()
    CommuneFactory.create(aix=True)
    client = login(make_site_staff(departments))

    response = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "buildings",
            "model_name": "site",
            "field_name": "commune",
            "term": "",
        },
    )

    assert response.status_code == 200
    assert {result["id"] for result in response.json()["results"]} == offered
