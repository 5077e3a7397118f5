# factory_boy declarations are untyped.
# mypy: allow-untyped-calls, allow-untyped-decorators
"""Factories for the occupancy tests (and the buildings/organizations rows they need).

Defaults describe a realistic, lawful case modelled on Coco Velten (Marseille,
reference/domain.md §G): a State service of the Bouches-du-Rhône grants a non-profit
association, approved under ELAN art. 29 for the département, an agreement on an
available public-domain building whose next use is years away. Tests then change the
one field their rule is about.

Dates are relative to ``date.today()`` at build time unless a test passes its own, so
a default agreement starts next month and runs two years. Traits give the common
states: ``AgreementFactory.create(active=True)`` started two months ago and holds its
spaces (its ``AgreementSpace`` rows are live), ``signed=True``/``approved=True``
likewise. Call ``XFactory.create(...)`` rather than ``XFactory(...)``: it is the
spelling mypy types (it returns the model, not the factory).
Statuses set by a factory skip the services' guards: use
``occupancy.services.agreement_transition`` when the guard is what a test is about.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db.backends.postgresql.psycopg_any import DateRange
from factory.declarations import (
    LazyAttribute,
    LazyFunction,
    SelfAttribute,
    Sequence,
    SubFactory,
    Trait,
)
from factory.django import DjangoModelFactory
from factory.helpers import post_generation

from buildings.models import (
    Building,
    BuildingStatus,
    Department,
    Domaniality,
    NextUse,
    Site,
)
from occupancy.models import (
    LIVE_STATUSES,
    Agreement,
    AgreementSpace,
    AgreementStatus,
    Amendment,
    AmendmentKind,
    FeePeriod,
    InspectionKind,
    InspectionResult,
    InsuranceCertificate,
    Occupant,
    OccupantCategory,
    OccupantKind,
    Purpose,
    Regime,
    ResidenceContract,
    SafetyInspection,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StayStatus,
)
from organizations.models import LegalForm, Organization, OrganizationKind

# Coco Velten, 16 rue Bernard du Bois, Marseille 1er.
MARSEILLE = Point(5.3800, 43.3009, srid=4326)


def luhn_complete(digits: str) -> str:
    """``digits`` followed by the check digit that makes the whole pass Luhn."""
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char)
            if position % 2 == 1:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def siret_for(number: int) -> str:
    """A valid SIRET (and so SIREN) built from a sequence number."""
    siren = luhn_complete(f"{7_0000_000 + number:08d}")
    return luhn_complete(f"{siren}0001")


def today() -> date:
    return date.today()  # noqa: DTZ011 (a calendar date, as the services use)


def days(n: int) -> date:
    return today() + timedelta(days=n)


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = Sequence(lambda n: f"user-{n}")


# --- Organizations -----------------------------------------------------------------
class StateServiceFactory(DjangoModelFactory[Organization]):
    """A departmental State service (préfecture / DDFiP) of the Bouches-du-Rhône."""

    class Meta:
        model = Organization

    name = Sequence(lambda n: f"DDFiP des Bouches-du-Rhône {n}")
    kind = OrganizationKind.STATE_SERVICE
    legal_form = LegalForm.STATE
    territory_departments = LazyFunction(lambda: ["13"])


class OperatorFactory(DjangoModelFactory[Organization]):
    """A non-profit association approved under ELAN art. 29 for the Bouches-du-Rhône.

    ``OperatorFactory(company=True)`` is a for-profit ESUS company without approval.
    """

    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Yes We Camp {n}")
    kind = OrganizationKind.OPERATOR
    legal_form = LegalForm.ASSOCIATION
    is_non_profit = True
    siret = Sequence(siret_for)
    siren = LazyAttribute(lambda o: o.siret[:9])
    rna = Sequence(lambda n: f"W13{n:07d}")
    elan_approval_number = Sequence(lambda n: f"ELAN-13-{n:04d}")
    elan_approved_until = LazyFunction(lambda: days(5 * 365))
    elan_departments = LazyFunction(lambda: ["13"])

    class Params:
        company = Trait(
            legal_form=LegalForm.COMPANY,
            is_non_profit=False,
            rna="",
            elan_approval_number="",
            elan_approved_until=None,
            elan_departments=LazyFunction(list),
            esus_approved_until=LazyFunction(lambda: days(3 * 365)),
        )


class FunderFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = Sequence(lambda n: f"Caisse des Dépôts {n}")
    kind = OrganizationKind.FUNDER
    legal_form = LegalForm.PUBLIC_BODY


# --- Buildings -------------------------------------------------------------------
class DepartmentFactory(DjangoModelFactory[Department]):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = "13"
    name = "Bouches-du-Rhône"


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site

    code = Sequence(lambda n: f"SITE-{n:05d}")
    designation = Sequence(lambda n: f"Ancienne cité administrative {n}")


class BuildingFactory(DjangoModelFactory[Building]):
    """An available public-domain building, its next use (a sale) five years away."""

    class Meta:
        model = Building

    site = SubFactory(SiteFactory)
    inventory_id = Sequence(lambda n: f"INV-{n:07d}")
    designation = Sequence(lambda n: f"Ancien pôle emploi {n}")
    address = "16 rue Bernard du Bois"
    postal_code = "13001"
    city = "Marseille"
    department = SubFactory(DepartmentFactory)
    domaniality = Domaniality.PUBLIC
    point = MARSEILLE
    surface_m2 = Decimal("3800.00")
    status = BuildingStatus.AVAILABLE
    vacancy_since = LazyFunction(lambda: days(-400))
    next_use = NextUse.SALE
    next_use_date = LazyFunction(lambda: days(5 * 365))


# --- Spaces and safety -----------------------------------------------------------
class SpaceFactory(DjangoModelFactory[Space]):
    """A two-place bedroom; ``SpaceFactory(workshop=True)`` a 40 m² workshop."""

    class Meta:
        model = Space

    building = SubFactory(BuildingFactory)
    name = Sequence(lambda n: f"Chambre {n}")
    kind = SpaceKind.ROOM
    use = SpaceUse.SLEEPING
    floor = 1
    surface_m2 = Decimal("14.00")
    capacity = 2

    class Params:
        workshop = Trait(
            name=Sequence(lambda n: f"Atelier {n}"),
            kind=SpaceKind.WORKSHOP,
            use=SpaceUse.WORK,
            floor=0,
            surface_m2=Decimal("40.00"),
            capacity=6,
        )


class SafetyInspectionFactory(DjangoModelFactory[SafetyInspection]):
    """A favourable safety-commission opinion for 120 people on the building."""

    class Meta:
        model = SafetyInspection

    building = SubFactory(BuildingFactory)
    kind = InspectionKind.SAFETY_COMMISSION
    date = LazyFunction(lambda: days(-30))
    result = InspectionResult.FAVOURABLE
    max_headcount = 120


# --- Agreements ------------------------------------------------------------------
def _period(start_in_days: int, length_days: int) -> DateRange:
    start = days(start_in_days)
    return DateRange(start, start + timedelta(days=length_days))


class AgreementFactory(DjangoModelFactory[Agreement]):
    """A draft, paid occupation agreement on the public domain, for workspaces.

    ``spaces=[space, …]`` attaches spaces (same building) with the agreement's period;
    the rows are live when the status is (LIVE_STATUSES), as the services keep them.
    """

    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    reference = Sequence(lambda n: f"CONV-13-{n:05d}")
    building = SubFactory(BuildingFactory)
    grantor = SubFactory(StateServiceFactory)
    operator = SubFactory(OperatorFactory)
    regime = Regime.COT_PUBLIC_DOMAIN
    purposes = LazyFunction(lambda: [Purpose.WORKSPACES])
    period = LazyFunction(lambda: _period(30, 2 * 365))
    fee_amount = Decimal("12000.00")
    fee_period = FeePeriod.ANNUAL
    ddfip_opinion_reference = Sequence(lambda n: f"AVIS-DDFIP-2026-{n:04d}")
    ddfip_opinion_date = LazyFunction(lambda: days(-10))
    max_headcount = 40
    status = AgreementStatus.DRAFT

    class Params:
        free = Trait(
            free_of_charge=True,
            fee_amount=None,
            fee_period="",
            fee_exemption_basis="nonprofit_general_interest",
            waiver_justification=(
                "Association d'intérêt général : hébergement d'urgence et tiers-lieu."
            ),
        )
        elan = Trait(
            regime=Regime.ELAN_ART29,
            purposes=LazyFunction(lambda: [Purpose.TEMPORARY_RESIDENCE]),
            sleeping_allowed=True,
            prefect_notified_on=LazyFunction(lambda: days(-5)),
            mayor_notified_on=LazyFunction(lambda: days(-5)),
        )
        shelter = Trait(
            purposes=LazyFunction(
                lambda: [Purpose.EMERGENCY_SHELTER, Purpose.WORKSPACES]
            ),
            sleeping_allowed=True,
            max_headcount=80,
        )
        approved = Trait(status=AgreementStatus.APPROVED)
        signed = Trait(
            status=AgreementStatus.SIGNED,
            signed_on=LazyFunction(lambda: days(-3)),
        )
        active = Trait(
            status=AgreementStatus.ACTIVE,
            period=LazyFunction(lambda: _period(-60, 2 * 365)),
            signed_on=LazyFunction(lambda: days(-70)),
            entry_inventory_on=LazyFunction(lambda: days(-60)),
        )

    @post_generation
    def spaces(  # factory_boy passes the built agreement first
        agreement: Agreement,  # noqa: N805
        create: bool,
        extracted: list[Space] | None,
        **kwargs: Any,
    ) -> None:
        if not create or not extracted:
            return
        AgreementSpace.objects.bulk_create(
            AgreementSpace(
                agreement=agreement,
                space=space,
                period=agreement.period,
                is_live=agreement.status in LIVE_STATUSES,
            )
            for space in extracted
        )


class AgreementSpaceFactory(DjangoModelFactory[AgreementSpace]):
    class Meta:
        model = AgreementSpace

    agreement = SubFactory(AgreementFactory)
    space = SubFactory(SpaceFactory, building=SelfAttribute("..agreement.building"))
    period = LazyAttribute(lambda o: o.agreement.period)
    is_live = LazyAttribute(lambda o: o.agreement.status in LIVE_STATUSES)


class AmendmentFactory(DjangoModelFactory[Amendment]):
    """A signed one-year prorogation (the agreement's period is not moved)."""

    class Meta:
        model = Amendment

    agreement = SubFactory(AgreementFactory)
    kind = AmendmentKind.PROROGATION
    new_end = LazyAttribute(lambda o: o.agreement.period.upper + timedelta(days=365))
    owner_justification = "La cession prévue est reportée d'un an."
    signed_on = LazyFunction(today)


class InsuranceCertificateFactory(DjangoModelFactory[InsuranceCertificate]):
    """Civil liability and property cover over the agreement's whole period."""

    class Meta:
        model = InsuranceCertificate

    agreement = SubFactory(AgreementFactory)
    insurer = "MAIF"
    policy_number = Sequence(lambda n: f"POL-{n:06d}")
    valid_from = LazyAttribute(lambda o: o.agreement.period.lower)
    valid_until = LazyAttribute(lambda o: o.agreement.period.upper)


# --- Residents -------------------------------------------------------------------
class OccupantFactory(DjangoModelFactory[Occupant]):
    """A pseudonymous sheltered adult oriented by the SIAO (no identity stored)."""

    class Meta:
        model = Occupant

    operator = SubFactory(OperatorFactory)
    pseudonym = Sequence(lambda n: hashlib.sha256(f"dossier-{n}".encode()).hexdigest())
    kind = OccupantKind.PERSON
    category = OccupantCategory.SHELTERED
    household_size = 1
    age_band = "35_49"
    orientation_source = "siao_115"


class StayFactory(DjangoModelFactory[Stay]):
    """An ongoing stay (open end) in a space of an active agreement's building."""

    class Meta:
        model = Stay

    agreement = SubFactory(AgreementFactory, active=True)
    occupant = SubFactory(
        OccupantFactory, operator=SelfAttribute("..agreement.operator")
    )
    space = SubFactory(SpaceFactory, building=SelfAttribute("..agreement.building"))
    period = LazyFunction(lambda: DateRange(days(-20), None))
    places = 1
    household_size = SelfAttribute("occupant.household_size")
    status = StayStatus.ACTIVE


class ResidenceContractFactory(DjangoModelFactory[ResidenceContract]):
    """A six-month ELAN residence contract at 150 € a month, charges included."""

    class Meta:
        model = ResidenceContract

    agreement = SubFactory(AgreementFactory, active=True, elan=True)
    occupant = SubFactory(
        OccupantFactory,
        operator=SelfAttribute("..agreement.operator"),
        category=OccupantCategory.INHABITANT,
        orientation_source="",
    )
    start = LazyFunction(lambda: days(-30))
    initial_end = LazyAttribute(lambda o: o.start + timedelta(days=182))
    current_end = LazyAttribute(lambda o: o.initial_end)
    monthly_fee = Decimal("150.00")
