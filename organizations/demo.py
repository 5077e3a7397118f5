"""Demo organizations and accounts of the Marseille story (LabZéro, 2017–2021).

Identifiers are left blank where we hold no verified value: demo data never
invents a SIREN. Loading is idempotent (upserts by name or SIRET).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from organizations.models import LegalForm, Organization, OrganizationKind, Role
from organizations.services import membership_set, organization_upsert

PACA_DEPARTMENTS = ["04", "05", "06", "13", "83", "84"]
SGAR = "Préfecture de la région Provence-Alpes-Côte d'Azur — SGAR"
DDFIP_13 = "Direction départementale des finances publiques des Bouches-du-Rhône"

ORGANIZATIONS: list[dict[str, Any]] = [
    {
        "name": SGAR,
        "kind": OrganizationKind.STATE_SERVICE,
        "legal_form": LegalForm.STATE,
        "territory_departments": PACA_DEPARTMENTS,
    },
    {
        "name": DDFIP_13,
        "kind": OrganizationKind.STATE_SERVICE,
        "legal_form": LegalForm.STATE,
        "territory_departments": ["13"],
    },
    {
        "name": "Yes We Camp",
        "kind": OrganizationKind.OPERATOR,
        "legal_form": LegalForm.ASSOCIATION,
        "is_non_profit": True,
    },
    {
        "name": "Groupe SOS Solidarités",
        "kind": OrganizationKind.OPERATOR,
        "legal_form": LegalForm.ASSOCIATION,
        "is_non_profit": True,
        "esus_by_right": True,
    },
    {
        "name": "Plateau Urbain",
        "kind": OrganizationKind.OPERATOR,
        "legal_form": LegalForm.COOPERATIVE,
    },
    {
        "name": "Caisse des Dépôts",
        "kind": OrganizationKind.FUNDER,
        "legal_form": LegalForm.PUBLIC_BODY,
        "siren": "180020026",
    },
    {
        "name": "Établissement public d'aménagement Euroméditerranée",
        "kind": OrganizationKind.FUNDER,
        "legal_form": LegalForm.PUBLIC_BODY,
    },
    {
        "name": "Fonds de Solidarité Logement des Bouches-du-Rhône",
        "kind": OrganizationKind.FUNDER,
        "legal_form": LegalForm.LOCAL_AUTHORITY,
    },
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    persona: str
    organization: str | None


ACCOUNTS: list[tuple[str, str, str | None, Role | None]] = [
    # username, persona, organization name, role
    ("agent", "State real-estate agent", DDFIP_13, Role.EDITOR),
    ("agent-region", "State agent, regional", SGAR, Role.ADMIN),
    ("operateur", "Operator", "Yes We Camp", Role.ADMIN),
    ("operateur-sos", "Operator", "Groupe SOS Solidarités", Role.EDITOR),
    ("financeur", "Funder", "Caisse des Dépôts", Role.VIEWER),
    ("admin", "Platform administrator", None, None),
]


def load() -> list[DemoAccount]:
    organizations: dict[str, Organization] = {}
    for fields in ORGANIZATIONS:
        values = dict(fields)
        name = str(values.pop("name"))
        organizations[name] = organization_upsert(name=name, **values)
    user_model = get_user_model()
    accounts = []
    for username, persona, organization_name, role in ACCOUNTS:
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.intercalaire.fr"}
        )
        user.set_password(settings.DEMO_PASSWORD)
        user.is_staff = username in {"admin", "agent", "agent-region"}
        user.is_superuser = username == "admin"
        user.save()
        if organization_name and role:
            membership_set(
                user=user, organization=organizations[organization_name], role=role
            )
        accounts.append(DemoAccount(username, persona, organization_name))
    return accounts
