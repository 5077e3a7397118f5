"""An inventory small enough to reason about, shaped for the OGC abstract tests.

Marseille and Aix (13) and Paris (75), each with a boundary drawn clockwise (as
the IGN files are: RFC 7946 wants them counter-clockwise on output). The public
stock has every temporal shape the datetime parameter must handle: a closed
vacancy period, an open start, an open end, none at all. Beside it lie the
buildings the public must never see (confidential, in use, occupied).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.cache import cache

from buildings.models import (
    Accessibility,
    AssetType,
    Building,
    BuildingStatus,
    Commune,
    Department,
)
from tests.buildings.factories import (
    AIX_POINT,
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    SiteFactory,
    wgs84,
)

MARSEILLE_BOX = (5.20, 43.17, 5.55, 43.40)
AIX_BOX = (5.27, 43.45, 5.62, 43.62)
DEPARTMENT_13_BOX = (4.23, 43.16, 5.81, 43.93)
PARIS_BOX = (2.22, 48.81, 2.47, 48.91)
PARIS_POINT = (2.3488, 48.8534)
AJACCIO = (8.7369, 41.9192)
TOULOUSE = (1.4442, 43.6047)
GEOJSON_SCHEMAS = Path(settings.BASE_DIR) / "node_modules" / "geojson-schema"


def clockwise(box: tuple[float, float, float, float]) -> MultiPolygon:
    """A box whose exterior ring runs clockwise (west edge up, then east)."""
    west, south, east, north = box
    ring = ((west, south), (west, north), (east, north), (east, south), (west, south))
    return MultiPolygon(Polygon(ring), srid=4326)


@dataclass
class Inventory:
    public: list[Building] = field(default_factory=list)
    hidden: list[Building] = field(default_factory=list)
    by_name: dict[str, Building] = field(default_factory=dict)

    @property
    def located(self) -> list[Building]:
        """The buildings collection: the public stock that has a location."""
        return [building for building in self.public if building.point is not None]

    @property
    def located_ids(self) -> set[int]:
        return {building.pk for building in self.located}


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    # The anonymous throttle counts per address in the cache; tests share one.
    cache.clear()
    yield
    cache.clear()


def make_inventory() -> Inventory:
    department_13 = DepartmentFactory.create()
    Department.objects.filter(code="13").update(geometry=clockwise(DEPARTMENT_13_BOX))
    department_75 = DepartmentFactory.create(code="75", name="Paris", region=None)
    Department.objects.filter(code="75").update(geometry=clockwise(PARIS_BOX))
    DepartmentFactory.create(code="2A", name="Corse-du-Sud", region=None)  # no boundary
    marseille = CommuneFactory.create()
    aix = CommuneFactory.create(aix=True)
    first = CommuneFactory.create(first_arrondissement=True)
    paris = CommuneFactory.create(code="75056", name="Paris", department=department_75)
    for commune, box in (
        (marseille, MARSEILLE_BOX),
        (aix, AIX_BOX),
        (paris, PARIS_BOX),
    ):
        Commune.objects.filter(code=commune.code).update(geometry=clockwise(box))
    assert department_13.code == "13"

    inventory = Inventory()

    def add(name: str, *, public: bool = True, **fields: Any) -> Building:
        commune = fields.pop("commune", marseille)
        building = BuildingFactory.create(
            designation=name, site=SiteFactory.create(commune=commune), **fields
        )
        (inventory.public if public else inventory.hidden).append(building)
        inventory.by_name[name] = building
        return building

    # Vacancy periods (vacancy_since … next_use_date): closed, open end, open
    # start, none, a recent closed one.
    add("Closed period", vacant=True)
    add("Open end", vacant=True, vacancy_since=date(2020, 5, 1), next_use_date=None)
    add(
        "Open start",
        vacant=True,
        status=BuildingStatus.ASSESSED,
        vacancy_since=None,
        next_use_date=date(2022, 12, 31),
    )
    add("No dates", vacant=True, vacancy_since=None, next_use_date=None)
    add(
        "Recent period",
        available=True,
        vacancy_since=date(2024, 3, 1),
        next_use_date=date(2024, 9, 30),
        accessibility=Accessibility.ACCESSIBLE,
    )
    for number in range(1, 6):
        add(f"Marseille {number}", vacant=True, surface_m2=Decimal(100 * number))
    add(
        "Land in Marseille",
        vacant=True,
        asset_type=AssetType.LAND,
        surface_m2=Decimal("12500.50"),
    )
    add(
        "In the 1st arrondissement",
        vacant=True,
        commune=first,
        surface_m2=Decimal("250.00"),
    )
    for number in range(1, 4):
        add(
            f"Aix {number}",
            available=True,
            commune=aix,
            point=wgs84(*AIX_POINT),
            surface_m2=Decimal(1000 + number),
        )
    add(
        "Paris",
        vacant=True,
        commune=paris,
        point=wgs84(*PARIS_POINT),
        postal_code="75004",
        surface_m2=None,
    )
    add("Not located", vacant=True, unlocated=True)
    # Never public: confidential, in use, occupied.
    # Never public: confidential, in use, occupied; each far from the public
    # stock, so that an extent or a bbox that counted them would show it.
    add("Secret", public=False, vacant=True, confidential=True, point=wgs84(*AJACCIO))
    add("Still in use", public=False, point=wgs84(*TOULOUSE))
    add(
        "Occupied",
        public=False,
        vacant=True,
        status=BuildingStatus.OCCUPIED,
        point=wgs84(*TOULOUSE),
    )
    return inventory


@pytest.fixture
def inventory(db: None) -> Inventory:
    return make_inventory()


@pytest.fixture
def live_inventory(transactional_db: None) -> Inventory:
    return make_inventory()


@pytest.fixture(scope="session")
def geojson_validators() -> dict[str, jsonschema.protocols.Validator]:
    """Validators of the npm package geojson-schema (draft-07), by file name."""
    if not GEOJSON_SCHEMAS.is_dir():
        pytest.fail("node_modules/geojson-schema is missing: run scripts/bootstrap.sh")
    validators = {}
    for name in ("FeatureCollection", "Feature"):
        schema = json.loads((GEOJSON_SCHEMAS / f"{name}.json").read_text("utf-8"))
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validators[name] = validator_class(schema)
    return validators
