"""A small inventory with known places for the map tests.

Marseille (13): a vacant building, an available one in Aix, a confidential vacant
one and a building in use; Paris (75): a vacant building. Tiles are addressed by
``tile_of`` (the slippy-map formula), so that a test names the tile of a place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from django.contrib.gis.geos import Point

from buildings.models import Building, BuildingStatus
from tests.buildings.factories import (
    AIX_POINT,
    MARSEILLE_POINT,
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
)

PARIS_POINT = (2.3522, 48.8566)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_path(lon: float, lat: float, z: int, *, public: bool = False) -> str:
    z, x, y = tile_of(lon, lat, z)
    prefix = "/tiles/public/buildings" if public else "/tiles/buildings"
    return f"{prefix}/{z}/{x}/{y}.pbf"


@dataclass
class Inventory:
    vacant: Building  # Marseille, public
    available: Building  # Aix-en-Provence, public
    confidential: Building  # Marseille, vacant but confidential
    in_use: Building  # Marseille
    paris: Building  # Paris, vacant


def paris_site() -> object:
    paris = CommuneFactory.create(
        code="75056",
        name="Paris",
        department=DepartmentFactory.create(
            code="75", name="Paris", region=RegionFactory.create(code="11", name="IDF")
        ),
    )
    return SiteFactory.create(commune=paris)


@pytest.fixture
def inventory(db: None) -> Inventory:
    return make_inventory()


def make_inventory() -> Inventory:
    marseille = Point(*MARSEILLE_POINT, srid=4326)
    return Inventory(
        vacant=BuildingFactory.create(
            vacant=True, designation="Ancienne DDE", point=marseille
        ),
        available=BuildingFactory.create(
            available=True,
            designation="Caserne d'Aix",
            site=SiteFactory.create(commune=CommuneFactory.create(aix=True)),
            point=Point(*AIX_POINT, srid=4326),
            city="Aix-en-Provence",
            surface_m2=1234.4,
        ),
        confidential=BuildingFactory.create(
            vacant=True,
            confidential=True,
            point=Point(MARSEILLE_POINT[0] + 0.001, MARSEILLE_POINT[1], srid=4326),
        ),
        in_use=BuildingFactory.create(
            status=BuildingStatus.IN_USE,
            designation="Préfecture",
            point=Point(MARSEILLE_POINT[0], MARSEILLE_POINT[1] + 0.001, srid=4326),
        ),
        paris=BuildingFactory.create(
            vacant=True,
            designation="Hôtel de la Marine annexe",
            site=paris_site(),
            city="Paris",
            postal_code="75001",
            point=Point(*PARIS_POINT, srid=4326),
        ),
    )
