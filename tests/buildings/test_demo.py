"""``load_demo`` loads the inventory of the Marseille story, and loading it twice
changes no count."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from buildings.models import (
    Building,
    BuildingStatus,
    Commune,
    Department,
    Friche,
    Region,
    Site,
)


def counts() -> dict[str, int]:
    return {
        model.__name__: model._default_manager.count()
        for model in (Region, Department, Commune, Friche, Site, Building)
    }


@pytest.mark.slow
@pytest.mark.django_db
def test_load_demo_twice_gives_the_same_inventory(shared_data: Path) -> None:
    call_command("load_demo", stdout=StringIO())
    first = counts()

    call_command("load_demo", stdout=StringIO())

    assert counts() == first
    assert first["Commune"] == 34_924
    assert first["Friche"] == 332
    assert Commune.objects.filter(geometry__isnull=False).count() == 946
    demo = Building.objects.filter(inventory_id__startswith="DEMO-13-")
    assert demo.count() == 13
    assert {
        BuildingStatus.IN_USE,
        BuildingStatus.VACANT,
        BuildingStatus.ASSESSED,
        BuildingStatus.AVAILABLE,
        BuildingStatus.OCCUPIED,
    } <= set(demo.values_list("status", flat=True))
    assert demo.filter(is_confidential=True).count() == 1
    assert set(demo.values_list("commune", flat=True)) == {
        "13055",
        "13001",
        "13004",
        "13005",
    }
    # Every hand-placed point lies in its declared commune's real boundary.
    assert not demo.filter(outside_declared_commune=True).exists()
    roads = Building.objects.get(inventory_id="DEMO-13-0001")
    assert roads.address == "16 rue Bernard du Bois"
    assert roads.status == BuildingStatus.VACANT
    assert str(roads.vacancy_since) == "2016-01-01"
