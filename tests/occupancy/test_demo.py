"""The occupancy demo: the Coco Velten story through the services, its first two
years near the published figures, and a second load that changes nothing."""

from __future__ import annotations

import functools
import statistics
from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone
from pytest_django.fixtures import Settings

from buildings import demo as buildings_demo
from buildings.models import Building, BuildingStatus, BuildingStatusChange
from buildings.reference import load_reference_layers
from occupancy import demo
from occupancy.indicators import indicators_get
from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    AmendmentKind,
    ExitDestination,
    InsuranceCertificate,
    OccupantCategory,
    SafetyInspection,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.selectors import AlertKind, alerts
from organizations.demo import DDFIP_13
from organizations.models import Organization
from organizations.selectors import Persona, Scope

NATIONAL_AGENT = Scope(user_id=1, persona=Persona.STATE_AGENT, departments=None)
_A = AgreementStatus


# --- The plan, without a database ---------------------------------------------------
def test_the_plan_is_the_same_draw_every_time() -> None:
    assert demo.plan() == demo.plan()
    assert demo.plan(seed=1) != demo.plan()


def test_the_rooms_give_about_80_places_40_workspaces_and_a_hostel() -> None:
    rooms = demo.rooms()
    shelter = [r for r in rooms if r.use == SpaceUse.SLEEPING]
    hostel = [r for r in shelter if r.kind == SpaceKind.HOSTEL_ROOM]
    work = [r for r in rooms if r.use == SpaceUse.WORK]
    assert sum(r.capacity for r in shelter if r not in hostel) == 80
    assert len(work) == 40
    assert {r.capacity for r in work} == {1}
    assert 18 <= statistics.mean(float(r.surface_m2) for r in work) <= 24
    assert 0 < len(hostel) <= 8


def test_the_plan_keeps_emergency_stays_open_ended_until_an_exit() -> None:
    stays = demo.plan()
    emergency = [s for s in stays if s.structure_type == StructureType.EMERGENCY]
    assert emergency
    # Every planned stay ends by a recorded exit with a destination, by the end.
    assert all(s.destination for s in stays)
    assert max(s.exit for s in stays) == demo.PROJECT_END
    assert min(s.entry for s in stays) >= demo.OPENING


# --- Loaded -------------------------------------------------------------------------
@pytest.fixture
def light_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The buildings demo on the code list of the Bouches-du-Rhône only, without
    boundaries nor Cartofriches: what the occupancy demo needs, in a second."""
    missing = Path("/nonexistent")
    monkeypatch.setattr(buildings_demo, "BOUNDARIES", missing)
    monkeypatch.setattr(buildings_demo, "CARTOFRICHES", missing / "friches.gpkg")
    monkeypatch.setattr(
        buildings_demo,
        "load_reference_layers",
        functools.partial(load_reference_layers, departments=["13"]),
    )


def _events() -> dict[str, int]:
    return {
        model.__name__: model._default_manager.count()
        for model in apps.get_app_config("occupancy").get_models()
        if model.__name__.endswith("Event")
    }


def snapshot() -> dict[str, Any]:
    """Everything the occupancy demo writes, and when it last wrote it."""
    tables = (
        Agreement, AgreementStatusChange, InsuranceCertificate, Space,
        SafetyInspection, Stay, BuildingStatusChange, Organization,
    )  # fmt: skip
    return {
        "counts": {m.__name__: m._default_manager.count() for m in tables},
        "events": _events(),
        "written": [
            m._default_manager.aggregate(last=Max("updated_at"))["last"]
            for m in (Agreement, Space, Stay)
        ],
        "statuses": sorted(
            Building.objects.filter(inventory_id__startswith="DEMO-13-").values_list(
                "inventory_id", "status"
            )
        ),
    }


@pytest.fixture
def loaded(db: None, settings: Settings, light_inventory: None) -> dict[str, Any]:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64
    call_command("load_demo", stdout=StringIO())
    return snapshot()


@pytest.mark.slow
def test_load_demo_tells_the_story_and_a_second_run_changes_nothing(
    loaded: dict[str, Any],
) -> None:
    agreement = Agreement.objects.select_related("building", "operator").get(
        reference=demo.REFERENCE
    )
    building = agreement.building
    # The building went through its lifecycle and was handed back empty.
    assert building.inventory_id == demo.ROADS_DIRECTORATE
    assert list(
        BuildingStatusChange.objects.filter(building=building)
        .order_by("changed_at", "pk")
        .values_list("to_status", flat=True)
    ) == [
        BuildingStatus.ASSESSED,
        BuildingStatus.AVAILABLE,
        BuildingStatus.UNDER_AGREEMENT,
        BuildingStatus.OCCUPIED,
        BuildingStatus.RELEASING,
        BuildingStatus.VACANT,
    ]
    assert building.status == BuildingStatus.VACANT
    assert building.next_use_date is not None
    assert building.next_use_date >= demo.PROJECT_END
    # The agreement, through its lifecycle on the days it happened.
    assert agreement.operator.name == "Yes We Camp"
    assert agreement.grantor.name == DDFIP_13
    assert agreement.status == _A.CLOSED
    assert agreement.period.lower == date(2018, 5, 1)
    assert agreement.period.upper == demo.PROJECT_END
    changes = AgreementStatusChange.objects.filter(agreement=agreement)
    assert timezone.localdate(changes.get(to_status=_A.ACTIVE).changed_at) == date(
        2019, 3, 22
    )
    prorogation = agreement.amendments.get()
    assert prorogation.kind == AmendmentKind.PROROGATION
    assert prorogation.new_end == demo.PROJECT_END
    assert agreement.insurance_certificates.exists()
    assert SafetyInspection.objects.filter(
        building=building, kind="safety_commission", result="favourable"
    ).exists()
    # Everyone left by the end, to a recorded destination.
    stays = Stay.objects.filter(agreement=agreement)
    assert not stays.exclude(status=StayStatus.EXITED).exists()
    assert stays.filter(
        exit_destination__in=[
            ExitDestination.SOCIAL_HOUSING,
            ExitDestination.ADAPTED_HOUSING,
        ]
    ).exists()
    assert stays.filter(
        space__kind=SpaceKind.FAMILY_ROOM, occupant__household_size__gt=1
    ).exists()
    assert stays.filter(
        structure_type=StructureType.NOT_SHELTER,
        occupant__category=OccupantCategory.HOSTED_ORGANIZATION,
        space__use=SpaceUse.WORK,
    ).exists()

    # The first two years, against the published figures.
    start, end = demo.FIRST_TWO_YEARS
    report = indicators_get(
        agreements=Agreement.objects.filter(reference=demo.REFERENCE),
        start=start,
        end=end,
        for_scope=NATIONAL_AGENT,
    )
    row = report.rows[0]
    # Published: 135 people housed, 273 days on average (domain.md §G).
    assert row.persons_housed.value is not None
    assert 130 <= row.persons_housed.value <= 140
    assert row.length_of_stay_mean_days.value is not None
    assert 255 <= row.length_of_stay_mean_days.value <= 290
    # About 80 places of shelter, most of them occupied.
    assert row.occupancy_rate.value is not None
    assert row.occupancy_rate.value > 0.5

    # The illustrative live site gives the alerts and "tonight" something to show.
    today = timezone.localdate()
    live = Agreement.objects.filter(reference=demo.LIVE_REFERENCE).first()
    building = Building.objects.get(inventory_id=demo.LIVE_BUILDING)
    if building.next_use_date and today + timedelta(days=75) > building.next_use_date:
        assert live is None  # the inventory's sale date leaves no room for it
    else:
        assert live is not None
        assert live.status == _A.ACTIVE
        assert Stay.objects.filter(agreement=live, period__contains=today).exists()
        kinds = {a.kind for a in alerts(scope=NATIONAL_AGENT, today=today)}
        assert {AlertKind.AGREEMENT_ENDING, AlertKind.INSURANCE_EXPIRING} <= kinds

    # A second load changes nothing.
    call_command("load_demo", stdout=StringIO())

    assert snapshot() == loaded
