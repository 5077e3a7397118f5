"""The occupancy administration: rows scoped to the staff member's territory,
agreements read-only with their status moved by the lifecycle service, spaces and
inspections written through the services, residents for superusers only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    InspectionKind,
    InspectionResult,
    SafetyInspection,
    Space,
)
from organizations.models import Membership, Organization, OrganizationKind, Role
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    DepartmentFactory,
    OccupantFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    StayFactory,
    days,
    today,
)

pytestmark = pytest.mark.django_db
_A = AgreementStatus
STAFF_PERMISSIONS = (
    "view_agreement",
    "view_agreementstatuschange",
    "view_agreementspace",
    "view_amendment",
    "view_insurancecertificate",
    "view_document",
    "view_space",
    "add_space",
    "change_space",
    "view_safetyinspection",
    "add_safetyinspection",
    # Granted on purpose: the admin must refuse them anyway.
    "view_occupant",
    "view_stay",
    "view_residencecontract",
)


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
                content_type__app_label__in=("occupancy", "buildings"),
                codename__in=(*STAFF_PERMISSIONS, "view_building"),
            )
        )
        return user

    return make


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def in_paris() -> Agreement:
    paris = DepartmentFactory.create(code="75", name="Paris")
    return AgreementFactory.create(
        reference="CONV-75", building=BuildingFactory.create(department=paris)
    )


def admin_url(name: str, *args: object) -> str:
    return reverse(f"admin:occupancy_{name}", args=args)


# --- Scope --------------------------------------------------------------------------
def test_staff_see_the_agreements_spaces_and_inspections_of_their_territory(
    make_staff: Callable[..., User],
) -> None:
    marseille = AgreementFactory.create(reference="CONV-13")
    paris = in_paris()
    SpaceFactory.create(building=marseille.building, name="Salle Marseille")
    SpaceFactory.create(building=paris.building, name="Salle Paris")
    SafetyInspectionFactory.create(building=marseille.building, max_headcount=113)
    SafetyInspectionFactory.create(building=paris.building, max_headcount=175)
    client = login(make_staff(["13"]))

    agreements = client.get(admin_url("agreement_changelist")).content.decode()
    spaces = client.get(admin_url("space_changelist")).content.decode()
    inspections = client.get(admin_url("safetyinspection_changelist")).content.decode()

    assert "CONV-13" in agreements
    assert "CONV-75" not in agreements
    assert "Salle Marseille" in spaces
    assert "Salle Paris" not in spaces
    assert "113" in inspections
    assert "175" not in inspections
    response = client.get(admin_url("agreement_change", paris.pk))
    assert response.status_code == 302  # "does not exist", back to the index


def test_a_national_service_sees_every_territory(
    make_staff: Callable[..., User],
) -> None:
    AgreementFactory.create(reference="CONV-13")
    in_paris()
    html = login(make_staff([])).get(admin_url("agreement_changelist")).content
    assert b"CONV-13" in html
    assert b"CONV-75" in html


# --- Agreements: read, and moved by the lifecycle service --------------------------
def test_agreements_are_read_only_in_the_admin(
    make_staff: Callable[..., User],
) -> None:
    agreement = AgreementFactory.create()
    client = login(make_staff(["13"]))

    page = client.get(admin_url("agreement_change", agreement.pk))

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(admin_url("agreement_add")).status_code == 403
    assert client.get(admin_url("agreement_delete", agreement.pk)).status_code == 403


def test_the_status_moves_through_the_service_from_the_change_page(
    make_staff: Callable[..., User],
) -> None:
    agreement = AgreementFactory.create()
    agreement.agreement_spaces.create(
        space=SpaceFactory.create(building=agreement.building, workshop=True),
        period=agreement.period,
    )
    staff = make_staff(["13"])
    client = login(staff)

    page = client.get(admin_url("agreement_change", agreement.pk)).content.decode()
    assert f'value="{_A.UNDER_REVIEW}"' in page
    assert 'value="active"' not in page  # not a move from a draft

    response = client.post(
        admin_url("agreement_transition", agreement.pk),
        {"to": _A.UNDER_REVIEW, "reason": "Complet"},
    )

    assert response.status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == _A.UNDER_REVIEW
    assert AgreementStatusChange.objects.get(agreement=agreement).changed_by == staff


def test_a_refused_move_in_the_admin_is_a_message_not_an_error(
    make_staff: Callable[..., User],
) -> None:
    agreement = AgreementFactory.create(approved=True)
    client = login(make_staff(["13"]))

    response = client.post(
        admin_url("agreement_transition", agreement.pk), {"to": _A.SIGNED}, follow=True
    )

    assert response.status_code == 200
    assert "date de signature" in response.content.decode()
    agreement.refresh_from_db()
    assert agreement.status == _A.APPROVED


def test_an_invalid_transition_form_in_the_admin_is_a_message_per_error(
    make_staff: Callable[..., User],
) -> None:
    agreement = AgreementFactory.create(approved=True)
    client = login(make_staff(["13"]))

    response = client.post(
        admin_url("agreement_transition", agreement.pk),
        {"to": "no-such-status", "signed_on": "not a date"},
    )

    assert response.status_code == 302
    assert response["Location"] == admin_url("agreement_change", agreement.pk)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(messages) == 2, messages
    agreement.refresh_from_db()
    assert agreement.status == _A.APPROVED


def test_viewers_and_other_territories_cannot_move_an_agreement(
    make_staff: Callable[..., User],
) -> None:
    agreement = AgreementFactory.create()
    viewer = login(make_staff(["13"], role=Role.VIEWER))
    assert (
        viewer.post(
            admin_url("agreement_transition", agreement.pk), {"to": _A.WITHDRAWN}
        ).status_code
        == 403
    )
    other = login(make_staff(["75"]))
    assert (
        other.post(
            admin_url("agreement_transition", agreement.pk), {"to": _A.WITHDRAWN}
        ).status_code
        == 404
    )
    agreement.refresh_from_db()
    assert agreement.status == _A.DRAFT


# --- Spaces and inspections through the services -------------------------------------
def test_a_space_is_created_and_changed_through_the_services(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create()
    client = login(make_staff(["13"]))

    response = client.post(
        admin_url("space_add"),
        {
            "building": building.pk,
            "name": "Chambre 12",
            "kind": "room",
            "use": "sleeping",
            "floor": 1,
            "surface_m2": "12",
            "capacity": 2,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    space = Space.objects.get(name="Chambre 12")
    assert space.capacity == 2
    response = client.post(
        admin_url("space_change", space.pk),
        {"name": "Chambre 12", "kind": "room", "use": "sleeping", "capacity": 3},
    )
    assert response.status_code == 302
    space.refresh_from_db()
    assert space.capacity == 3


def test_a_capacity_cut_below_tonight_is_a_form_error(
    make_staff: Callable[..., User],
) -> None:
    stay = StayFactory.create(places=2)
    space = stay.space
    client = login(make_staff(["13"]))

    response = client.post(
        admin_url("space_change", space.pk),
        {"name": space.name, "kind": space.kind, "use": space.use, "capacity": 1},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "errornote" in response.content.decode()
    space.refresh_from_db()
    assert space.capacity == 2


def test_a_space_cannot_be_added_to_a_building_of_another_territory(
    make_staff: Callable[..., User],
) -> None:
    paris = in_paris().building
    response = login(make_staff(["13"])).post(
        admin_url("space_add"),
        {"building": paris.pk, "name": "X", "kind": "room", "use": "sleeping",
         "capacity": 1},
    )  # fmt: skip
    assert response.status_code == 200
    assert not Space.objects.filter(name="X").exists()


def test_a_viewer_on_staff_records_no_space_and_no_inspection(
    make_staff: Callable[..., User],
) -> None:
    """Model permissions were the only check: a viewer of a State service added
    spaces and safety inspections (an inspection sets who may enter)."""
    space = SpaceFactory.create()
    client = login(make_staff(["13"], role=Role.VIEWER))

    added = client.post(
        admin_url("space_add"),
        {"building": space.building_id, "name": "X", "kind": "room",
         "use": "sleeping", "capacity": 1},
    )  # fmt: skip
    changed = client.post(
        admin_url("space_change", space.pk),
        {"name": space.name, "kind": space.kind, "use": space.use, "capacity": 99},
    )
    inspected = client.post(
        admin_url("safetyinspection_add"),
        {"building": space.building_id, "kind": InspectionKind.SAFETY_COMMISSION,
         "result": InspectionResult.FAVOURABLE, "max_headcount": 90,
         "date": days(-1).isoformat()},
    )  # fmt: skip

    assert (added.status_code, changed.status_code, inspected.status_code) == (
        403,
        403,
        403,
    )
    assert client.get(admin_url("space_change", space.pk)).status_code == 200
    assert not Space.objects.filter(name="X").exists()
    space.refresh_from_db()
    assert space.capacity != 99
    assert not SafetyInspection.objects.exists()


def test_an_editor_here_records_no_inspection_where_it_only_reads(
    make_staff: Callable[..., User],
) -> None:
    paris = in_paris().building
    user = make_staff(["13"])
    service = Organization.objects.create(
        name="DRFiP Île-de-France",
        kind=OrganizationKind.STATE_SERVICE,
        territory_departments=["75"],
    )
    Membership.objects.create(user=user, organization=service, role=Role.VIEWER)

    response = login(user).post(
        admin_url("safetyinspection_add"),
        {"building": paris.pk, "kind": InspectionKind.SAFETY_COMMISSION,
         "result": InspectionResult.FAVOURABLE, "max_headcount": 900,
         "date": days(-1).isoformat()},
    )  # fmt: skip

    assert response.status_code == 200
    assert "building" in response.context["adminform"].form.errors
    assert not SafetyInspection.objects.exists()


def test_an_inspection_is_recorded_through_the_service_and_not_rewritten(
    make_staff: Callable[..., User],
) -> None:
    building = BuildingFactory.create()
    client = login(make_staff(["13"]))
    fields = {
        "building": building.pk,
        "kind": InspectionKind.SAFETY_COMMISSION,
        "result": InspectionResult.FAVOURABLE,
        "max_headcount": 90,
    }

    future = client.post(
        admin_url("safetyinspection_add"),
        {**fields, "date": (today() + timedelta(days=3)).isoformat()},
    )
    assert future.status_code == 200  # "recorded once it has taken place"
    assert not SafetyInspection.objects.exists()

    response = client.post(
        admin_url("safetyinspection_add"), {**fields, "date": days(-1).isoformat()}
    )
    assert response.status_code == 302
    inspection = SafetyInspection.objects.get()
    page = client.get(admin_url("safetyinspection_change", inspection.pk))
    assert b'name="_save"' not in page.content


# --- Residents ----------------------------------------------------------------------
@pytest.mark.parametrize("model", ["occupant", "stay", "residencecontract"])
def test_staff_never_reach_residents_even_with_the_permission(
    make_staff: Callable[..., User], model: str
) -> None:
    StayFactory.create()
    client = login(make_staff([]))
    assert client.get(admin_url(f"{model}_changelist")).status_code == 403
    assert (
        b"/admin/occupancy/occupant/" not in client.get(reverse("admin:index")).content
    )


@pytest.mark.parametrize("model", ["occupant", "stay", "residencecontract"])
def test_superusers_read_residents_without_writing_them(model: str) -> None:
    stay = StayFactory.create(occupant=OccupantFactory.create())
    superuser = User.objects.create_superuser("root", "root@example.org", "x")
    client = login(superuser)

    assert client.get(admin_url(f"{model}_changelist")).status_code == 200
    assert client.get(admin_url(f"{model}_add")).status_code == 403
    if model == "occupant":
        page = client.get(admin_url("occupant_change", stay.occupant_id))
        assert page.status_code == 200
        html = page.content.decode()
        assert stay.occupant.pseudonym not in html
        assert b'name="_save"' not in page.content
