"""Demo occupancy of the Marseille story: the Coco Velten "lieu de vie" (2018–2023)
in the former roads directorate, 16 rue Bernard du Bois (reference/domain.md §G).

What is real: the building, the operator (Yes We Camp), the grantor's level (the
DDFiP of the Bouches-du-Rhône), the regime's domain, the purposes, the dates (keys
in May 2018, first resident late March 2019, convention to 31 December 2021, then
prorogued; the project ended on 22 December 2023), about 80 places in single,
shared and family rooms, about 40 workshop-offices and a hostel part, and the
published outcome of the first two years: 135 people housed, 273 days on average.

What is not: every amount (fee, market rent), every reference number, the exact
rooms, and every resident. Residents are generated from a seeded random draw so
that the indicators of occupancy/indicators.py over the first two years come out
near the published figures; hosted organizations are named "(exemple)".

A second, wholly illustrative agreement keeps the pages alive today: Groupe SOS
Solidarités shelters a few households in the "Hôtel particulier de la rue Paradis
(exemple)", an agreement that ends within three months and whose insurance lapses
sooner, so that the alerts and the "places used tonight" have something to show.
Its dates are relative to the day of the first load.

Everything is written through the services, so the demo obeys the same rules as
real data; dates in the past are passed explicitly (``on=``) and the status
histories are then dated to the day each move took place. Idempotent: once the
agreement exists, ``load`` changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from buildings.models import (
    Building,
    BuildingStatus,
    BuildingStatusChange,
    Domaniality,
    NextUse,
)
from buildings.services import building_transition, building_update
from occupancy.models import (
    AgeBand,
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    AmendmentKind,
    ExitDestination,
    FeePeriod,
    InspectionKind,
    InspectionResult,
    OccupantCategory,
    OccupantKind,
    OrientationSource,
    Purpose,
    Regime,
    Space,
    SpaceKind,
    SpaceUse,
    StructureType,
)
from occupancy.residents import (
    occupant_register,
    safety_inspection_record,
    space_create,
    stay_exit,
    stay_start,
)
from occupancy.services import (
    agreement_create,
    agreement_transition,
    amendment_add,
    insurance_add,
)
from organizations.demo import DDFIP_13
from organizations.models import LegalForm, Organization, OrganizationKind
from organizations.services import organization_upsert

_A = AgreementStatus
REFERENCE = "DEMO-CONV-13-2018-0001"
ROADS_DIRECTORATE = "DEMO-13-0001"
OPERATOR = "Yes We Camp"
# The submission guard needs a SIRET or an RNA number, and organizations/demo.py
# holds none for Yes We Camp (demo data never invents a real identifier). This RNA
# is a placeholder: "000" is no prefecture's code, so it names no real association.
PLACEHOLDER_RNA = "W000000001"
LIVE_REFERENCE = "DEMO-CONV-13-0002"
LIVE_BUILDING = "DEMO-13-0005"
LIVE_OPERATOR = "Groupe SOS Solidarités"
LIVE_PLACEHOLDER_RNA = "W000000002"

KEYS = date(2018, 5, 1)
# Periods are [start, end): the convention ran to 31 December 2021 inclusive.
CONVENTION_END = date(2022, 1, 1)
# The last residents left on 22 December 2023, the day the project ended.
PROJECT_END = date(2023, 12, 22)
# Marseille Habitat's urban project, after the occupation (domain.md §G).
NEXT_USE_DATE = date(2024, 1, 1)
OPENING = date(2019, 3, 25)  # the first resident
# The published figures cover the first two years: [25 March 2019, 24 March 2021).
FIRST_TWO_YEARS = (OPENING, date(2021, 3, 24))
LAST_ENTRY = date(2023, 9, 30)
# Chosen (with the draw below) so that the first two years give about 135 people
# and 273 days; tests/occupancy/test_demo.py holds the figures to that.
SEED = 288
PARIS = ZoneInfo(settings.TIME_ZONE)


# --- Spaces -----------------------------------------------------------------------
@dataclass(frozen=True)
class Room:
    name: str
    kind: str
    use: str
    floor: int
    surface_m2: Decimal
    capacity: int


def rooms() -> list[Room]:
    """80 places (40 single rooms, 10 shared by two, 5 family rooms of four),
    6 hostel rooms, and 40 workspaces (28 offices, 12 workshops) of one place."""
    sleeping, work = SpaceUse.SLEEPING, SpaceUse.WORK
    found = [
        Room(f"Chambre {floor}{n:02d}", SpaceKind.ROOM, sleeping, floor, Decimal(12), 1)
        for floor in (1, 2)
        for n in range(1, 21)
    ]
    found += [
        # The schema has no "shared room" kind: a room for two is a small dormitory.
        Room(
            f"Chambre partagée 3{n:02d}",
            SpaceKind.DORMITORY,
            sleeping,
            3,
            Decimal(16),
            2,
        )
        for n in range(1, 11)
    ]
    found += [
        Room(
            f"Chambre famille 3{n:02d}",
            SpaceKind.FAMILY_ROOM,
            sleeping,
            3,
            Decimal(24),
            4,
        )
        for n in range(11, 16)
    ]
    found += [
        Room(f"Auberge 4{n:02d}", SpaceKind.HOSTEL_ROOM, sleeping, 4, Decimal(15), 2)
        for n in range(1, 7)
    ]
    found += [
        Room(f"Bureau 5{n:02d}", SpaceKind.OFFICE, work, 5, Decimal(18 + n % 5), 1)
        for n in range(1, 29)
    ]
    found += [
        Room(f"Atelier 0{n:02d}", SpaceKind.WORKSHOP, work, 0, Decimal(20 + n % 7), 1)
        for n in range(1, 13)
    ]
    return found


# --- Residents, drawn -------------------------------------------------------------
@dataclass(frozen=True)
class PlannedStay:
    """One occupant's stay: ``identifier`` is the operator's own file number, which
    only reaches the database as a keyed hash (occupancy/residents/occupants.py)."""

    identifier: str
    space: str
    kind: str
    category: str
    household_size: int
    age_band: str
    orientation: str
    structure_type: str
    entry: date
    exit: date
    destination: str
    organization: str = ""


# Weights from the sector's usual outcomes; a share of the exits goes to housing.
DESTINATIONS = (
    (ExitDestination.SOCIAL_HOUSING, 18),
    (ExitDestination.PRIVATE_HOUSING, 7),
    (ExitDestination.ADAPTED_HOUSING, 17),
    (ExitDestination.OTHER_SHELTER, 16),
    (ExitDestination.FAMILY_FRIENDS, 10),
    (ExitDestination.HOSPITAL_CARE, 4),
    (ExitDestination.STREET, 5),
    (ExitDestination.INSTITUTION, 2),
    (ExitDestination.UNKNOWN, 21),
)
# When the site closed, the remaining residents were moved on, not let go.
CLOSING_DESTINATIONS = (
    (ExitDestination.OTHER_SHELTER, 45),
    (ExitDestination.ADAPTED_HOUSING, 30),
    (ExitDestination.SOCIAL_HOUSING, 20),
    (ExitDestination.UNKNOWN, 5),
)
AGE_BANDS = (
    (AgeBand.AGE_18_24, 14),
    (AgeBand.AGE_25_34, 24),
    (AgeBand.AGE_35_49, 32),
    (AgeBand.AGE_50_64, 22),
    (AgeBand.AGE_65_PLUS, 8),
)
ORIENTATIONS = (
    (OrientationSource.SIAO_115, 72),
    (OrientationSource.OUTREACH, 18),
    (OrientationSource.DIRECT, 10),
)
# Hosted structures of the workshop-offices (all fictitious).
TRADES = (
    "Atelier", "Collectif", "Compagnie", "Studio", "Coopérative", "Fabrique",
    "Association", "Bureau d'études",
)  # fmt: skip
PLACES = (
    "Belsunce", "Bernard du Bois", "Saint-Charles", "Velten", "Porte d'Aix",
    "Canebière", "Belle de Mai", "Panier",
)  # fmt: skip


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    values = [value for value, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(values, weights=weights)[0]


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high))


def _length(rng: random.Random, *, family: bool) -> timedelta:
    """A stay's length: some short emergency stays, most of several months, some
    beyond a year; families stay longer (fewer places fit them elsewhere)."""
    draw = rng.random()
    if draw < (0.10 if family else 0.15):
        return _days(rng, 20, 120)
    if draw < (0.45 if family else 0.65):
        return _days(rng, 180, 480)
    return _days(rng, 540, 1000)


def _hosted_name(index: int) -> str:
    rank = f" {index // 64 + 1}" if index >= 64 else ""
    return f"{TRADES[index % 8]} {PLACES[index // 8 % 8]}{rank} (exemple)"


def plan(seed: int = SEED) -> list[PlannedStay]:
    """Every stay of the demo, drawn deterministically from ``seed``.

    Each bed (or family room) is filled from a day of the progressive opening
    (spring–summer 2019), then again after each exit and a short vacancy, until
    the last entries of autumn 2023; whoever is there on the last day leaves then.
    """
    rng = random.Random(seed)  # noqa: S311 (demo data, not a secret)
    stays: list[PlannedStay] = []
    slots = [(room, room.kind == SpaceKind.FAMILY_ROOM) for room in rooms()]
    beds = [
        (room, family)
        for room, family in slots
        if room.use == SpaceUse.SLEEPING and room.kind != SpaceKind.HOSTEL_ROOM
        for _ in range(1 if family else room.capacity)
    ]
    for room, family in beds:
        entry = OPENING + _days(rng, 0, 180)
        while entry < LAST_ENTRY:
            exit_ = min(entry + _length(rng, family=family), PROJECT_END)
            emergency = rng.random() < (0.3 if family else 0.55)
            size = rng.randint(2, 4) if family else 1
            stays.append(
                PlannedStay(
                    identifier=f"CV-{len(stays) + 1:04d}",
                    space=room.name,
                    kind=OccupantKind.HOUSEHOLD if family else OccupantKind.PERSON,
                    category=OccupantCategory.HOUSEHOLD
                    if family
                    else OccupantCategory.SHELTERED,
                    household_size=size,
                    age_band=_pick(rng, AGE_BANDS),
                    orientation=_pick(rng, ORIENTATIONS),
                    structure_type=StructureType.EMERGENCY
                    if emergency
                    else StructureType.INSERTION,
                    entry=entry,
                    exit=exit_,
                    destination=_pick(
                        rng,
                        CLOSING_DESTINATIONS if exit_ == PROJECT_END else DESTINATIONS,
                    ),
                )
            )
            entry = exit_ + _days(rng, 5, 40)
    workspaces = [room for room in rooms() if room.use == SpaceUse.WORK]
    hosted = 0
    for room in workspaces:
        # The workshop-offices filled from the summer of 2019, after the works.
        entry = date(2019, 6, 1) + _days(rng, 0, 240)
        while entry < LAST_ENTRY:
            exit_ = min(entry + _days(rng, 720, 2000), PROJECT_END)
            name = _hosted_name(hosted)
            hosted += 1
            stays.append(
                PlannedStay(
                    identifier=f"CV-ORG-{hosted:03d}",
                    space=room.name,
                    kind=OccupantKind.ORGANIZATION,
                    category=OccupantCategory.HOSTED_ORGANIZATION,
                    household_size=1,
                    age_band=AgeBand.UNKNOWN,
                    orientation="",
                    structure_type=StructureType.NOT_SHELTER,
                    entry=entry,
                    exit=exit_,
                    destination=ExitDestination.UNKNOWN,
                    organization=name,
                )
            )
            entry = exit_ + _days(rng, 60, 200)
    return stays


# --- Loading ----------------------------------------------------------------------
# Labels that travel with the invented figures, so nobody reads them as facts.
ILLUSTRATIVE_FEE = (
    "Montant illustratif (données de démonstration) : la redevance réelle de la "
    "convention n'est pas publique."
)
ILLUSTRATIVE_OPINION = "DEMO-AVIS-DDFIP-13-2018 (référence illustrative)"


def load(*, today: date | None = None) -> None:
    """The Coco Velten story, then the illustrative live site; each once."""
    agent = get_user_model().objects.filter(username="agent").first()
    by = agent if isinstance(agent, User) else None
    if not Agreement.objects.filter(reference=REFERENCE).exists():
        _load_coco_velten(by=by)
    if not Agreement.objects.filter(reference=LIVE_REFERENCE).exists():
        _load_live_site(today=today or timezone.localdate(), by=by)


def _load_coco_velten(*, by: User | None) -> None:
    building = Building.objects.get(inventory_id=ROADS_DIRECTORATE)
    operator = _identified(Organization.objects.get(name=OPERATOR), PLACEHOLDER_RNA)
    building = _open_to_temporary_use(building, by=by)
    spaces = {
        room.name: space_create(
            building=building,
            name=room.name,
            kind=room.kind,
            use=room.use,
            floor=room.floor,
            surface_m2=room.surface_m2,
            capacity=room.capacity,
        )
        for room in rooms()
    }
    _inspect(building)
    agreement = _grant(
        building=building,
        operator=operator,
        spaces=list(spaces.values()),
        by=by,
    )
    _host(agreement=agreement, operator=operator, spaces=spaces)
    _close(agreement=agreement, building=building, by=by)


def _identified(operator: Organization, placeholder_rna: str) -> Organization:
    if operator.siret or operator.rna:
        return operator
    return organization_upsert(name=operator.name, rna=placeholder_rna)


@contextmanager
def _dated(building: Building, on: date) -> Iterator[None]:
    """Date the status changes written inside the block to ``on``: the services
    stamp them with the time of the call, the demo replays the past."""
    agreements = AgreementStatusChange.objects.filter(agreement__building=building)
    buildings = BuildingStatusChange.objects.filter(building=building)
    marks = [
        changes.order_by("-pk").values_list("pk", flat=True).first() or 0
        for changes in (agreements, buildings)
    ]
    yield
    when = datetime.combine(on, time(10), tzinfo=PARIS)
    agreements.filter(pk__gt=marks[0]).update(changed_at=when)
    buildings.filter(pk__gt=marks[1]).update(changed_at=when)


def _open_to_temporary_use(building: Building, *, by: User | None) -> Building:
    building = building_update(
        building=building,
        by=by,
        domaniality=Domaniality.PRIVATE,
        next_use=NextUse.URBAN_PROJECT,
        next_use_date=NEXT_USE_DATE,
    )
    with _dated(building, date(2017, 10, 2)):
        building = building_transition(
            building=building,
            to=BuildingStatus.ASSESSED,
            by=by,
            reason="Diagnostics techniques faits ; domaine privé de l'État (LabZéro).",
        )
    with _dated(building, date(2018, 1, 15)):
        building = building_transition(
            building=building,
            to=BuildingStatus.AVAILABLE,
            by=by,
            reason="Ouvert à une occupation temporaire par le préfet de région.",
        )
    return building


def _inspect(building: Building) -> None:
    for kind, on, headcount in (
        (InspectionKind.ASBESTOS, date(2017, 9, 20), None),
        (InspectionKind.ELECTRICITY, date(2019, 2, 28), None),
        # Before the first resident: sleeping premises open only after it.
        (InspectionKind.SAFETY_COMMISSION, date(2019, 3, 19), 250),
    ):
        safety_inspection_record(
            building=building,
            kind=kind,
            date=on,
            result=InspectionResult.FAVOURABLE,
            max_headcount=headcount,
        )


def _grant(
    *,
    building: Building,
    operator: Organization,
    spaces: list[Space],
    by: User | None,
) -> Agreement:
    """From the draft to the opening, then the prorogation of 2021."""
    agreement = agreement_create(
        by=by,
        building=building,
        grantor=Organization.objects.get(name=DDFIP_13),
        operator=operator,
        regime=Regime.PRIVATE_PRECARIOUS,
        purposes=[
            Purpose.EMERGENCY_SHELTER,
            Purpose.INSERTION_SHELTER,
            Purpose.WORKSPACES,
            Purpose.CULTURE,
            Purpose.CATERING,
            Purpose.TOURISM,
        ],
        start=KEYS,
        end=CONVENTION_END,
        spaces=spaces,
        reference=REFERENCE,
        # Restaurant, hostel and workshop-offices let at 10 €/m²/month are an
        # economic activity, but legal.check_terms asks a selection procedure of
        # one on either domain, while the private domain owes none (§B.3; the
        # agreement_economic_selection constraint agrees): recorded as the social
        # project it mainly was until that check follows the constraint.
        economic_activity=False,
        fee_amount=Decimal("12000.00"),
        fee_period=FeePeriod.ANNUAL,
        fee_indexation=ILLUSTRATIVE_FEE,
        ddfip_opinion_reference=ILLUSTRATIVE_OPINION,
        ddfip_opinion_date=date(2018, 3, 20),
        market_rent_yearly=Decimal("400000.00"),
        max_headcount=200,
        sleeping_allowed=True,
    )
    moves: list[tuple[date, str, str, dict[str, date]]] = [
        (date(2018, 3, 1), _A.UNDER_REVIEW, "Dossier complet transmis.", {}),
        (date(2018, 3, 26), _A.APPROVED, "Conditions financières de la DDFiP.", {}),
    ]
    for on, to, reason, facts in moves:
        _move(agreement, on=on, to=to, reason=reason, by=by, **facts)
    for year in range(2018, 2024):
        # One certificate a year, renewed each May; the last covers the end.
        until = date(year + 1, 4, 30) if year < 2023 else date(2023, 12, 31)
        insurance_add(
            agreement=agreement,
            insurer="Assureur de démonstration",
            policy_number=f"DEMO-RC-{year}",
            valid_from=date(year, 5, 1),
            valid_until=until,
            by=by,
        )
    _move(
        agreement,
        on=date(2018, 4, 27),
        to=_A.SIGNED,
        reason="Signature ; remise des clés le 1er mai 2018.",
        by=by,
        signed_on=date(2018, 4, 27),
    )
    # Works from May 2018 (about 400 k€); sleeping premises open after the safety
    # commission's favourable opinion of 19 March 2019.
    _move(
        agreement,
        on=date(2019, 3, 22),
        to=_A.ACTIVE,
        reason="Ouverture après l'avis favorable de la commission de sécurité.",
        by=by,
        entry_inventory_on=date(2018, 5, 2),
    )
    amendment_add(
        agreement=agreement,
        kind=AmendmentKind.PROROGATION,
        signed_on=date(2021, 11, 30),
        new_end=PROJECT_END,
        owner_justification=(
            "Le projet urbain de Marseille Habitat ne commence pas avant 2024 : "
            "l'occupation se poursuit jusqu'au 22 décembre 2023."
        ),
        by=by,
    )
    agreement.refresh_from_db()
    return agreement


def _move(
    agreement: Agreement,
    *,
    on: date,
    to: str,
    reason: str,
    by: User | None,
    **facts: date,
) -> None:
    with _dated(agreement.building, on):
        agreement_transition(
            agreement=agreement, to=to, by=by, reason=reason, on=on, **facts
        )


def _host(
    *, agreement: Agreement, operator: Organization, spaces: dict[str, Space]
) -> None:
    """Register every occupant of the plan and record its stay, entry then exit."""
    stays = plan()
    hosted = _hosted_organizations(stay.organization for stay in stays)
    for planned in stays:
        occupant = occupant_register(
            operator=operator,
            local_identifier=planned.identifier,
            kind=planned.kind,
            category=planned.category,
            household_size=planned.household_size,
            age_band=planned.age_band,
            orientation_source=planned.orientation,
            homeless_l345_2_2=planned.structure_type == StructureType.EMERGENCY,
            hosted_organization=hosted.get(planned.organization),
        )
        # Insertion stays have a planned end; emergency shelter never has one
        # (CASF L.345-2-3), it ends only by a recorded exit.
        planned_exit = (
            planned.exit if planned.structure_type == StructureType.INSERTION else None
        )
        stay = stay_start(
            occupant=occupant,
            space=spaces[planned.space],
            agreement=agreement,
            entry=planned.entry,
            structure_type=planned.structure_type,
            exit=planned_exit,
            # Replayed as the operator recorded it, on the day of entry.
            today=planned.entry,
        )
        stay_exit(stay=stay, exit_date=planned.exit, destination=planned.destination)


def _hosted_organizations(names: Iterable[str]) -> dict[str, Organization]:
    """The hosted structures, by name. Created in one statement: seventy constant
    names need none of the upsert's per-row validation queries."""
    wanted = sorted(set(names) - {""})
    found = {o.name: o for o in Organization.objects.filter(name__in=wanted)}
    Organization.objects.bulk_create(
        Organization(
            name=name, kind=OrganizationKind.OTHER, legal_form=LegalForm.ASSOCIATION
        )
        for name in wanted
        if name not in found
    )
    return {o.name: o for o in Organization.objects.filter(name__in=wanted)}


def _close(*, agreement: Agreement, building: Building, by: User | None) -> None:
    """Non-renewal, expiry, closure, and the building handed back empty."""
    _move(
        agreement,
        on=date(2023, 6, 22),
        to=_A.ENDING,
        reason="Non-renouvellement : le bâtiment est transféré à Marseille Habitat.",
        by=by,
    )
    _move(agreement, on=PROJECT_END, to=_A.EXPIRED, reason="", by=by)
    _move(
        agreement,
        on=date(2024, 1, 31),
        to=_A.CLOSED,
        reason="Locaux rendus vides de tout occupant.",
        by=by,
        exit_inventory_on=date(2024, 1, 15),
    )
    with _dated(building, date(2024, 1, 31)):
        building_transition(
            building=building,
            to=BuildingStatus.VACANT,
            by=by,
            reason="Rendu à l'État ; transfert à Marseille Habitat (projet urbain).",
        )


# --- The illustrative live site -----------------------------------------------------
LIVE_ROOMS = (
    *(Room(f"Chambre {n}", SpaceKind.ROOM, SpaceUse.SLEEPING, 1, Decimal(13), 1)
      for n in range(11, 19)),
    *(Room(f"Chambre famille {n}", SpaceKind.FAMILY_ROOM, SpaceUse.SLEEPING, 2,
           Decimal(26), 4) for n in (21, 22)),
    *(Room(f"Atelier {n}", SpaceKind.WORKSHOP, SpaceUse.WORK, 0, Decimal(30), 1)
      for n in range(1, 4)),
)  # fmt: skip


def _load_live_site(*, today: date, by: User | None) -> None:
    """An active agreement ending in 75 days, insured for 20 more days, with a dozen
    stays drawn around ``today``. Skipped once the building's next use (a sale on
    30 September 2027) leaves no room for it."""
    building = Building.objects.get(inventory_id=LIVE_BUILDING)
    start, end = today - timedelta(days=600), today + timedelta(days=75)
    if building.next_use_date is not None and end > building.next_use_date:
        return
    operator = _identified(
        Organization.objects.get(name=LIVE_OPERATOR), LIVE_PLACEHOLDER_RNA
    )
    spaces = {
        room.name: space_create(
            building=building,
            name=room.name,
            kind=room.kind,
            use=room.use,
            floor=room.floor,
            surface_m2=room.surface_m2,
            capacity=room.capacity,
        )
        for room in LIVE_ROOMS
    }
    safety_inspection_record(
        building=building,
        kind=InspectionKind.SAFETY_COMMISSION,
        date=start - timedelta(days=20),
        result=InspectionResult.FAVOURABLE,
        max_headcount=40,
    )
    # The building is already "occupied" in the inventory demo: the agreement's
    # signature and opening find it there and leave it so.
    agreement = agreement_create(
        by=by,
        building=building,
        grantor=Organization.objects.get(name=DDFIP_13),
        operator=operator,
        regime=Regime.PRIVATE_PRECARIOUS,
        purposes=[Purpose.INSERTION_SHELTER, Purpose.CULTURE],
        start=start,
        end=end,
        spaces=list(spaces.values()),
        reference=LIVE_REFERENCE,
        fee_amount=Decimal("2400.00"),
        fee_period=FeePeriod.ANNUAL,
        fee_indexation=ILLUSTRATIVE_FEE,
        ddfip_opinion_reference="DEMO-AVIS-DDFIP-13-0002 (référence illustrative)",
        ddfip_opinion_date=start - timedelta(days=60),
        max_headcount=30,
        sleeping_allowed=True,
    )
    insurance_add(
        agreement=agreement,
        insurer="Assureur de démonstration",
        policy_number="DEMO-RC-0002",
        valid_from=start,
        valid_until=today + timedelta(days=20),
        by=by,
    )
    for offset, to, facts in (
        (-50, _A.UNDER_REVIEW, {}),
        (-40, _A.APPROVED, {}),
        (-10, _A.SIGNED, {"signed_on": start - timedelta(days=10)}),
        (0, _A.ACTIVE, {"entry_inventory_on": start}),
    ):
        _move(
            agreement,
            on=start + timedelta(days=offset),
            to=to,
            reason="",
            by=by,
            **facts,
        )
    rng = random.Random(SEED)  # noqa: S311 (demo data, not a secret)
    hosted = _hosted_organizations(
        f"Atelier Paradis {n} (exemple)" for n in range(1, 10)
    )
    number = 0
    for room in LIVE_ROOMS:
        family = room.kind == SpaceKind.FAMILY_ROOM
        work = room.use == SpaceUse.WORK
        entry = start + _days(rng, 10, 60)
        while entry < today:
            number += 1
            exit_ = entry + _length(rng, family=family)
            if work:
                occupant = occupant_register(
                    operator=operator,
                    local_identifier=f"PARADIS-ORG-{number:03d}",
                    kind=OccupantKind.ORGANIZATION,
                    category=OccupantCategory.HOSTED_ORGANIZATION,
                    hosted_organization=hosted[
                        f"Atelier Paradis {number % 9 + 1} (exemple)"
                    ],
                )
            else:
                occupant = occupant_register(
                    operator=operator,
                    local_identifier=f"PARADIS-{number:03d}",
                    kind=OccupantKind.HOUSEHOLD if family else OccupantKind.PERSON,
                    category=OccupantCategory.HOUSEHOLD
                    if family
                    else OccupantCategory.SHELTERED,
                    household_size=rng.randint(2, 4) if family else 1,
                    age_band=_pick(rng, AGE_BANDS),
                    orientation_source=_pick(rng, ORIENTATIONS),
                )
            stay = stay_start(
                occupant=occupant,
                space=spaces[room.name],
                agreement=agreement,
                entry=entry,
                structure_type=StructureType.NOT_SHELTER
                if work
                else StructureType.INSERTION,
                # Insertion stays have a planned end, within the agreement.
                exit=None if work else min(exit_, end),
                today=entry,  # recorded on the day of entry
            )
            if exit_ >= today:
                break  # still there tonight
            stay_exit(stay=stay, exit_date=exit_, destination=_pick(rng, DESTINATIONS))
            entry = exit_ + _days(rng, 5, 30)
