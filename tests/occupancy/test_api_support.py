"""The world the occupancy API tests share (no tests here).

Two départements, three State services (the Bouches-du-Rhône's, Paris's and the
national DIE), two operators and a funder, one user each (editors). Operator A
holds an active ELAN agreement in the 13 with an occupant, a stay and a residence
contract, and a draft agreement there; operator B an active agreement in the 75
with its own resident. Dates are relative to today, as the services' "not in the
future" checks read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection, models
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from rest_framework.test import APIClient

from buildings.models import Building
from config.etag import etag_of
from occupancy.models import (
    Agreement,
    AgreementSpace,
    AgreementStatusChange,
    Amendment,
    Document,
    InsuranceCertificate,
    Occupant,
    OccupantCategory,
    ResidenceContract,
    SafetyInspection,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StructureType,
)
from occupancy.residents import pseudonym_for
from organizations.models import Membership, Organization, Role
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    DepartmentFactory,
    FunderFactory,
    InsuranceCertificateFactory,
    OccupantFactory,
    OperatorFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    StateServiceFactory,
    UserFactory,
)

PSEUDONYM_KEY = "k" * 64
PRINCIPALS = (
    "anonymous",
    "agent_13",
    "agent_75",
    "national",
    "operator_a",
    "operator_b",
    "funder",
)
# A minimal PDF: the header, one empty page, the trailer.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
# Rows the API may write; row counts before and after a refused request.
COUNTED: tuple[type[models.Model], ...] = (
    Agreement,
    AgreementSpace,
    AgreementStatusChange,
    Amendment,
    Document,
    InsuranceCertificate,
    Occupant,
    ResidenceContract,
    SafetyInspection,
    Space,
    Stay,
)


def today() -> date:
    return timezone.localdate()


def days(n: int) -> date:
    return today() + timedelta(days=n)


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in COUNTED}


def rows_containing(text: str) -> list[str]:
    """Every table whose rows, as text, contain ``text``: the whole database, the
    audit trail and its request contexts included."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT count(*) FROM {quoted} AS t WHERE t::text LIKE %s",
                [f"%{text}%"],
            )
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def member(organization: Organization, *, role: str = Role.EDITOR) -> User:
    user = UserFactory.create()
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


@dataclass
class World:
    services: dict[str, Organization]
    operator_a: Organization
    operator_b: Organization
    funder: Organization
    users: dict[str, User | None]
    building_13: Building
    building_75: Building
    room: Space
    room_2: Space
    draft_space: Space
    space_b: Space
    inspection: SafetyInspection
    active: Agreement
    draft: Agreement
    active_b: Agreement
    occupant: Occupant
    free_occupant: Occupant
    stay: Stay
    contract: ResidenceContract
    document: Document
    occupant_b: Occupant
    stay_b: Stay
    local_identifier: str = "dossier-A-0001"

    def client(self, principal: str) -> APIClient:
        client = APIClient()
        user = self.users[principal]
        if user is not None:
            client.force_authenticate(user)
        return client

    def organization_of(self, principal: str) -> Organization | None:
        return {
            "agent_13": self.services["13"],
            "agent_75": self.services["75"],
            "national": self.services["national"],
            "operator_a": self.operator_a,
            "operator_b": self.operator_b,
            "funder": self.funder,
        }.get(principal)


def if_match(instance: Any) -> dict[str, Any]:
    """The header that carries ``instance``'s current version, read from the
    database (the principal may not be able to GET it)."""
    instance.refresh_from_db()
    return {"HTTP_IF_MATCH": etag_of(instance)}


def build_world() -> World:
    d13 = DepartmentFactory.create(code="13", name="Bouches-du-Rhône")
    d75 = DepartmentFactory.create(code="75", name="Paris")
    services = {
        "13": StateServiceFactory.create(territory_departments=["13"]),
        "75": StateServiceFactory.create(
            name="DRFiP Île-de-France", territory_departments=["75"]
        ),
        "national": StateServiceFactory.create(
            name="Direction de l'immobilier de l'État", territory_departments=[]
        ),
    }
    operator_a = OperatorFactory.create(elan_departments=["13", "75"])
    operator_b = OperatorFactory.create(elan_departments=["13", "75"])
    funder = FunderFactory.create()
    users: dict[str, User | None] = {
        "anonymous": None,
        "agent_13": member(services["13"]),
        "agent_75": member(services["75"]),
        "national": member(services["national"]),
        "operator_a": member(operator_a),
        "operator_b": member(operator_b),
        "funder": member(funder),
    }

    building_13 = BuildingFactory.create(department=d13)
    building_75 = BuildingFactory.create(
        department=d75, postal_code="75012", city="Paris"
    )
    room = SpaceFactory.create(building=building_13, name="Chambre 1", capacity=4)
    room_2 = SpaceFactory.create(building=building_13, name="Chambre 2", capacity=4)
    draft_space = SpaceFactory.create(
        building=building_13, name="Atelier", kind=SpaceKind.WORKSHOP, use=SpaceUse.WORK
    )
    space_b = SpaceFactory.create(building=building_75, name="Dortoir", capacity=6)
    inspection = SafetyInspectionFactory.create(building=building_13, date=days(-30))
    SafetyInspectionFactory.create(building=building_75, date=days(-30))

    active = AgreementFactory.create(
        building=building_13,
        grantor=services["13"],
        operator=operator_a,
        elan=True,
        active=True,
        spaces=[room, room_2],
    )
    draft = AgreementFactory.create(
        building=building_13,
        grantor=services["13"],
        operator=operator_a,
        period=DateRange(days(30), days(30 + 2 * 365)),
        spaces=[draft_space],
    )
    active_b = AgreementFactory.create(
        building=building_75,
        grantor=services["75"],
        operator=operator_b,
        shelter=True,
        active=True,
        spaces=[space_b],
    )
    InsuranceCertificateFactory.create(agreement=active)

    local_identifier = "dossier-A-0001"
    occupant = OccupantFactory.create(
        operator=operator_a,
        pseudonym=pseudonym_for(
            operator_id=operator_a.pk, local_identifier=local_identifier
        ),
    )
    free_occupant = OccupantFactory.create(
        operator=operator_a, category=OccupantCategory.INHABITANT
    )
    stay = Stay.objects.create(
        occupant=occupant,
        space=room,
        agreement=active,
        period=DateRange(days(-20), None),
        structure_type=StructureType.INSERTION,
    )
    contract = ResidenceContract.objects.create(
        agreement=active,
        occupant=occupant,
        start=days(-30),
        initial_end=days(152),
        current_end=days(152),
        monthly_fee=Decimal("150.00"),
    )
    document = Document(
        agreement=active, kind="insurance", title="Attestation", size=len(PDF)
    )
    document.file.save("attestation.pdf", ContentFile(PDF), save=False)
    document.sha256 = "0" * 64
    document.save()

    occupant_b = OccupantFactory.create(operator=operator_b)
    stay_b = Stay.objects.create(
        occupant=occupant_b,
        space=space_b,
        agreement=active_b,
        period=DateRange(days(-10), None),
        structure_type=StructureType.EMERGENCY,
    )
    return World(
        services=services,
        operator_a=operator_a,
        operator_b=operator_b,
        funder=funder,
        users=users,
        building_13=building_13,
        building_75=building_75,
        room=room,
        room_2=room_2,
        draft_space=draft_space,
        space_b=space_b,
        inspection=inspection,
        active=active,
        draft=draft,
        active_b=active_b,
        occupant=occupant,
        free_occupant=free_occupant,
        stay=stay,
        contract=contract,
        document=document,
        occupant_b=occupant_b,
        stay_b=stay_b,
        local_identifier=local_identifier,
    )
