"""factory_boy factories for the inventory, with values of Marseille.

Reference rows are get-or-create on their INSEE code, so that many buildings share
one Marseille, and so that a test which loaded the real boundaries (``reference_13``)
gets them back rather than a bare copy. The default building is the former roads
directorate of the Marseille story, in use; traits give the other usual shapes.
``.create()`` is typed (it returns the model), the bare call is not::

    BuildingFactory.create(vacant=True)
    BuildingFactory.create(confidential=True, commune=CommuneFactory.create(aix=True))
"""

# factory_boy's declarations are untyped.
# mypy: allow-untyped-calls

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.gis.geos import Point
from factory.declarations import (
    LazyAttribute,
    LazyFunction,
    SelfAttribute,
    Sequence,
    SubFactory,
    Trait,
)
from factory.django import DjangoModelFactory

from buildings.models import (
    AssetType,
    Building,
    BuildingStatus,
    Commune,
    Condition,
    Department,
    Domaniality,
    NextUse,
    Region,
    Site,
    SurfaceKind,
    VacancyCause,
)

# The former roads directorate, 16 rue Bernard du Bois (13001): inside commune 13055.
MARSEILLE_POINT = (5.3838, 43.3023)
# Aix-en-Provence town centre: inside commune 13001, 20 km north of Marseille.
AIX_POINT = (5.4455, 43.5245)


def wgs84(longitude: float, latitude: float) -> Point:
    return Point(longitude, latitude, srid=4326)


# Saint-Pierre (Saint-Pierre-et-Miquelon, 97502), Gustavia (Saint-Barthélemy,
# 97701) and Marigot (Saint-Martin, 97801): collectivités d'outre-mer, communes
# without a département.
COLLECTIVITY_POINTS = {
    "97502": (-56.1773, 46.7811),
    "97701": (-62.8498, 17.8963),
    "97801": (-63.0822, 18.0676),
}
COLLECTIVITY_NAMES = {
    "97502": ("Saint-Pierre", "97500"),
    "97701": ("Saint-Barthélemy", "97133"),
    "97801": ("Saint-Martin", "97150"),
}


class RegionFactory(DjangoModelFactory[Region]):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "93"
    name = "Provence-Alpes-Côte d'Azur"


class DepartmentFactory(DjangoModelFactory[Department]):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = "13"
    name = "Bouches-du-Rhône"
    region = SubFactory(RegionFactory)


class CommuneFactory(DjangoModelFactory[Commune]):
    class Meta:
        model = Commune
        django_get_or_create = ("code",)

    class Params:
        aix = Trait(code="13001", name="Aix-en-Provence", population=149695)
        # Marseille 1er: its parent is the commune, created on demand.
        first_arrondissement = Trait(
            code="13201",
            name="Marseille 1er Arrondissement",
            population=37599,
            arrondissement_of=SubFactory("tests.buildings.factories.CommuneFactory"),
        )

    code = "13055"
    name = "Marseille"
    department = SubFactory(DepartmentFactory)
    population = 886040


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = Sequence(lambda n: f"TEST-SITE-{n:05d}")
    designation = Sequence(lambda n: f"Cité administrative {n}")
    commune = SubFactory(CommuneFactory)


class BuildingFactory(DjangoModelFactory[Building]):
    class Meta:
        model = Building

    class Params:
        vacant = Trait(
            status=BuildingStatus.VACANT,
            vacancy_since=date(2016, 1, 1),
            vacancy_cause=VacancyCause.RELOCATION,
            next_use=NextUse.SALE,
            next_use_date=date(2027, 6, 30),
            guarding_cost_monthly=Decimal("3800.00"),
        )
        available = Trait(
            vacant=True, status=BuildingStatus.AVAILABLE, erp=True, erp_type="W"
        )
        confidential = Trait(
            is_confidential=True,
            designation="Bien contrôlé par le ministère des Armées",
            ministry="Ministère des Armées",
        )
        unlocated = Trait(point=None)

    site = SubFactory(SiteFactory)
    inventory_id = Sequence(lambda n: f"TEST-{n:06d}")
    designation = "Ancienne Direction des routes"
    asset_type = AssetType.BUILDING
    function = "Bureaux"
    address = "16 rue Bernard du Bois"
    postal_code = "13001"
    city = "Marseille"
    commune = SelfAttribute("site.commune")
    department = LazyAttribute(
        lambda building: building.commune.department if building.commune else None
    )
    domaniality = Domaniality.PRIVATE
    ministry = "Ministère de la Transition écologique"
    point = LazyFunction(lambda: wgs84(*MARSEILLE_POINT))
    surface_m2 = Decimal("4000.00")
    surface_kind = SurfaceKind.SUB
    year_built = 1965
    condition = Condition.FAIR
    erp = False
    status = BuildingStatus.IN_USE


def collectivity_building(code: str, **fields: Any) -> Building:
    """A building of Saint-Pierre (97502), Saint-Barthélemy (97701) or
    Saint-Martin (97801), linked by its commune alone, as an import or a national
    editor records it."""
    name, postal_code = COLLECTIVITY_NAMES[code]
    commune = CommuneFactory.create(code=code, name=name, department=None)
    return BuildingFactory.create(
        site=SiteFactory.create(commune=commune),
        city=name,
        postal_code=postal_code,
        point=wgs84(*COLLECTIVITY_POINTS[code]),
        **fields,
    )
