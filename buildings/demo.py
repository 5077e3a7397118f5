"""Demo inventory of the Marseille story: reference layers, Cartofriches sites of the
Bouches-du-Rhône, and a dozen State buildings. Idempotent (run by ``load_demo``).

Only the former roads directorate is a real building. Every other building is
ILLUSTRATIVE: designations end in "(exemple)", addresses name a real street but no
number, and the figures are plausible orders of magnitude, not facts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point

from buildings.friches import load_friches
from buildings.models import (
    Accessibility,
    AssetType,
    Building,
    BuildingStatus,
    Condition,
    Domaniality,
    NextUse,
    Site,
    SurfaceKind,
    VacancyCause,
)
from buildings.reference import flag_points_outside_commune, load_reference_layers

# Real public data shared by the checkouts (data/SOURCES.md); absent in a fresh clone.
SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
BOUNDARIES = SHARED_DATA / "boundaries"
CARTOFRICHES = SHARED_DATA / "cartofriches" / "cartofriches_france_20240310.gpkg"
DEMO_PREFIX = "DEMO-13-"

MARSEILLE = "13055"
AIX = "13001"
ARLES = "13004"
AUBAGNE = "13005"

SITES: list[dict[str, Any]] = [
    {"code": "DEMO-13-S01", "designation": "Ancienne Direction des routes"},
    {"code": "DEMO-13-S02", "designation": "Immeuble République (exemple)"},
    {"code": "DEMO-13-S03", "designation": "Ensemble Belle de Mai (exemple)"},
    {"code": "DEMO-13-S04", "designation": "Laboratoire Blancarde (exemple)"},
    {"code": "DEMO-13-S05", "designation": "Hôtel particulier Paradis (exemple)"},
    {"code": "DEMO-13-S06", "designation": "Centre de formation Prado (exemple)"},
    {
        "code": "DEMO-13-S07",
        "designation": "Cité administrative de Château-Gombert (exemple)",
    },
    {"code": "DEMO-13-S08", "designation": "Site Saint-Barthélemy (exemple)"},
    {"code": "DEMO-13-S09", "designation": "Bien contrôlé (exemple)"},
    {"code": "DEMO-13-S10", "designation": "Trésorerie d'Aix-en-Provence (exemple)"},
    {"code": "DEMO-13-S11", "designation": "Centre routier d'Aubagne (exemple)"},
    {"code": "DEMO-13-S12", "designation": "Centre médico-social d'Arles (exemple)"},
]

# Fields every demo building shares unless it says otherwise.
DEFAULTS: dict[str, Any] = {
    "asset_type": AssetType.BUILDING,
    "country": "France",
    "department_id": "13",
    "domaniality": Domaniality.PRIVATE,
    "surface_kind": SurfaceKind.SUB,
    "erp": False,
    "is_confidential": False,
}

BUILDINGS: list[dict[str, Any]] = [
    {
        # The building of the LabZéro story, which became the Coco Velten "lieu de
        # vie" in 2018. Address and surface (about 4,000 m²) from public accounts of
        # the project; the point is placed by hand (rue Bernard du Bois, 13001);
        # what we do not know (year, condition, next use) is left unknown.
        "inventory_id": "DEMO-13-0001",
        "site": "DEMO-13-S01",
        "designation": "Ancienne Direction des routes",
        "function": "Bureaux",
        "address": "16 rue Bernard du Bois",
        "postal_code": "13001",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de la Transition écologique",
        "point": (5.3838, 43.3023),
        "surface_m2": Decimal("4000"),
        "status": BuildingStatus.VACANT,
        "vacancy_since": date(2016, 1, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
    },
    {
        "inventory_id": "DEMO-13-0002",
        "site": "DEMO-13-S02",
        "designation": "Ancien centre des finances publiques (exemple)",
        "function": "Bureaux",
        "address": "rue de la République",
        "postal_code": "13002",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Économie et des Finances",
        "point": (5.3676, 43.3005),
        "surface_m2": Decimal("2350"),
        "year_built": 1905,
        "condition": Condition.FAIR,
        "erp": True,
        "erp_type": "W",
        "erp_category": 3,
        "accessibility": Accessibility.PARTIAL,
        "heating_type": "Chauffage urbain",
        "status": BuildingStatus.AVAILABLE,
        "vacancy_since": date(2021, 9, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.SALE,
        "next_use_date": date(2027, 6, 30),
        "guarding_cost_monthly": Decimal("3800.00"),
    },
    {
        "inventory_id": "DEMO-13-0003",
        "site": "DEMO-13-S03",
        "designation": "Logements de fonction de la Belle de Mai (exemple)",
        "function": "Logements",
        "address": "boulevard National",
        "postal_code": "13003",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Intérieur",
        "point": (5.3858, 43.3122),
        "surface_m2": Decimal("1180"),
        "year_built": 1962,
        "condition": Condition.FAIR,
        "accessibility": Accessibility.NOT_ACCESSIBLE,
        "heating_type": "Gaz",
        "status": BuildingStatus.ASSESSED,
        "vacancy_since": date(2022, 3, 1),
        "vacancy_cause": VacancyCause.AWAITING_WORKS,
        "next_use": NextUse.REASSIGNMENT,
        "next_use_date": date(2028, 1, 1),
        "guarding_cost_monthly": Decimal("1500.00"),
    },
    {
        "inventory_id": "DEMO-13-0004",
        "site": "DEMO-13-S04",
        "designation": "Ancien laboratoire départemental (exemple)",
        "function": "Laboratoire",
        "address": "boulevard de la Blancarde",
        "postal_code": "13004",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Agriculture et de la Souveraineté alimentaire",
        "point": (5.4040, 43.2975),
        "surface_m2": Decimal("860"),
        "year_built": 1974,
        "condition": Condition.POOR,
        "heating_type": "Fioul",
        "status": BuildingStatus.VACANT,
        "vacancy_since": date(2019, 6, 30),
        "vacancy_cause": VacancyCause.OBSOLESCENCE,
        "next_use": NextUse.SALE,
        "next_use_date": date(2026, 12, 31),
        "guarding_cost_monthly": Decimal("900.00"),
    },
    {
        "inventory_id": "DEMO-13-0005",
        "site": "DEMO-13-S05",
        "designation": "Hôtel particulier de la rue Paradis (exemple)",
        "function": "Bureaux",
        "address": "rue Paradis",
        "postal_code": "13006",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de la Culture",
        "point": (5.3785, 43.2855),
        "surface_m2": Decimal("1450"),
        "year_built": 1870,
        "condition": Condition.GOOD,
        "erp": True,
        "erp_type": "L",
        "erp_category": 5,
        "accessibility": Accessibility.PARTIAL,
        "heating_type": "Gaz",
        "status": BuildingStatus.OCCUPIED,
        "vacancy_since": date(2020, 1, 15),
        "vacancy_cause": VacancyCause.AWAITING_SALE,
        "next_use": NextUse.SALE,
        "next_use_date": date(2027, 9, 30),
    },
    {
        "inventory_id": "DEMO-13-0006",
        "site": "DEMO-13-S06",
        "designation": "Centre de formation du Prado (exemple)",
        "function": "Enseignement et formation",
        "address": "avenue du Prado",
        "postal_code": "13008",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Éducation nationale",
        "point": (5.3905, 43.2705),
        "surface_m2": Decimal("2700"),
        "year_built": 1979,
        "condition": Condition.FAIR,
        "erp": True,
        "erp_type": "R",
        "erp_category": 3,
        "accessibility": Accessibility.ACCESSIBLE,
        "heating_type": "Électricité",
        "status": BuildingStatus.AVAILABLE,
        "vacancy_since": date(2023, 1, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.URBAN_PROJECT,
        "next_use_date": date(2029, 6, 30),
        "guarding_cost_monthly": Decimal("2600.00"),
    },
    {
        "inventory_id": "DEMO-13-0007",
        "site": "DEMO-13-S07",
        "designation": "Bâtiment A, services déconcentrés (exemple)",
        "function": "Bureaux",
        "address": "avenue de Château-Gombert",
        "postal_code": "13013",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Intérieur",
        "point": (5.4385, 43.3545),
        "surface_m2": Decimal("5400"),
        "year_built": 1995,
        "condition": Condition.GOOD,
        "erp": True,
        "erp_type": "W",
        "erp_category": 2,
        "accessibility": Accessibility.ACCESSIBLE,
        "heating_type": "Pompe à chaleur",
        "status": BuildingStatus.IN_USE,
    },
    {
        "inventory_id": "DEMO-13-0008",
        "site": "DEMO-13-S07",
        "designation": "Bâtiment B, ateliers (exemple)",
        "function": "Ateliers",
        "address": "avenue de Château-Gombert",
        "postal_code": "13013",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Intérieur",
        "point": (5.4391, 43.3549),
        "surface_m2": Decimal("1100"),
        "year_built": 1995,
        "condition": Condition.POOR,
        "status": BuildingStatus.VACANT,
        "vacancy_since": date(2024, 4, 1),
        "vacancy_cause": VacancyCause.OBSOLESCENCE,
        "next_use": NextUse.DEMOLITION,
        "next_use_date": date(2027, 3, 31),
        "guarding_cost_monthly": Decimal("700.00"),
    },
    {
        "inventory_id": "DEMO-13-0009",
        "site": "DEMO-13-S08",
        "designation": "Ancienne caserne de gendarmerie (exemple)",
        "function": "Caserne et logements",
        "address": "avenue de Saint-Barthélemy",
        "postal_code": "13014",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère de l'Intérieur",
        "point": (5.3965, 43.3290),
        "surface_m2": Decimal("2300"),
        "year_built": 1972,
        "condition": Condition.FAIR,
        "accessibility": Accessibility.NOT_ACCESSIBLE,
        "heating_type": "Gaz",
        "status": BuildingStatus.VACANT,
        "vacancy_since": date(2022, 7, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.REASSIGNMENT,
        "next_use_date": date(2028, 9, 1),
        "guarding_cost_monthly": Decimal("2100.00"),
    },
    {
        # Confidential rows of the State inventory carry this kind of label and are
        # never public, whatever their status.
        "inventory_id": "DEMO-13-0010",
        "site": "DEMO-13-S09",
        "designation": "Bien contrôlé par le ministère des Armées (exemple)",
        "address": "chemin des Aygalades",
        "postal_code": "13015",
        "city": "Marseille",
        "commune_id": MARSEILLE,
        "ministry": "Ministère des Armées",
        "domaniality": Domaniality.PUBLIC,
        "point": (5.3660, 43.3540),
        "surface_m2": Decimal("2050"),
        "status": BuildingStatus.VACANT,
        "vacancy_since": date(2021, 1, 1),
        "is_confidential": True,
    },
    {
        "inventory_id": "DEMO-13-0011",
        "site": "DEMO-13-S10",
        "designation": "Ancienne trésorerie (exemple)",
        "function": "Bureaux",
        "address": "avenue des Belges",
        "postal_code": "13100",
        "city": "Aix-en-Provence",
        "commune_id": AIX,
        "ministry": "Ministère de l'Économie et des Finances",
        "point": (5.4455, 43.5245),
        "surface_m2": Decimal("640"),
        "year_built": 1958,
        "condition": Condition.FAIR,
        "erp": True,
        "erp_type": "W",
        "erp_category": 5,
        "accessibility": Accessibility.PARTIAL,
        "heating_type": "Gaz",
        "status": BuildingStatus.ASSESSED,
        "vacancy_since": date(2022, 10, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.SALE,
        "next_use_date": date(2026, 10, 1),
        "guarding_cost_monthly": Decimal("650.00"),
    },
    {
        "inventory_id": "DEMO-13-0012",
        "site": "DEMO-13-S11",
        "designation": "Ancien centre d'exploitation des routes (exemple)",
        "function": "Entrepôt et ateliers",
        "address": "avenue de la Fauchone",
        "postal_code": "13400",
        "city": "Aubagne",
        "commune_id": AUBAGNE,
        "ministry": "Ministère de la Transition écologique",
        "point": (5.5705, 43.2925),
        "surface_m2": Decimal("1900"),
        "year_built": 1968,
        "condition": Condition.POOR,
        "status": BuildingStatus.AVAILABLE,
        "vacancy_since": date(2020, 5, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.URBAN_PROJECT,
        "next_use_date": date(2028, 12, 31),
        "guarding_cost_monthly": Decimal("1200.00"),
    },
    {
        "inventory_id": "DEMO-13-0013",
        "site": "DEMO-13-S12",
        "designation": "Ancien centre médico-social (exemple)",
        "function": "Établissement sanitaire",
        "address": "boulevard des Lices",
        "postal_code": "13200",
        "city": "Arles",
        "commune_id": ARLES,
        "ministry": "Ministère du Travail, de la Santé et des Solidarités",
        "point": (4.6290, 43.6765),
        "surface_m2": Decimal("980"),
        "year_built": 1930,
        "condition": Condition.FAIR,
        "erp": True,
        "erp_type": "U",
        "erp_category": 5,
        "accessibility": Accessibility.PARTIAL,
        "heating_type": "Gaz",
        "status": BuildingStatus.UNDER_AGREEMENT,
        "vacancy_since": date(2021, 4, 1),
        "vacancy_cause": VacancyCause.RELOCATION,
        "next_use": NextUse.SALE,
        "next_use_date": date(2028, 4, 1),
    },
]


def load() -> None:
    """Reference layers, Cartofriches sites of dep 13 (when the shared data is
    there), then the demo sites and buildings."""
    if BOUNDARIES.is_dir():
        load_reference_layers(
            region_files=[BOUNDARIES / "regions.geojson"],
            department_files=[BOUNDARIES / "departements.geojson"],
            commune_files=[BOUNDARIES / "communes-paca.geojson"],
        )
    else:
        load_reference_layers()
    if CARTOFRICHES.is_file():
        load_friches(path=CARTOFRICHES, departments=["13"])
    _load_buildings()


def _load_buildings() -> None:
    sites = {}
    for fields in SITES:
        values = dict(fields)
        code = values.pop("code")
        commune_id = next(
            building["commune_id"] for building in BUILDINGS if building["site"] == code
        )
        sites[code], _ = Site.objects.update_or_create(
            code=code, defaults={**values, "commune_id": commune_id}
        )
    for fields in BUILDINGS:
        values = {**DEFAULTS, **fields}
        inventory_id = values.pop("inventory_id")
        longitude, latitude = values.pop("point")
        values["site"] = sites[values["site"]]
        values["point"] = Point(longitude, latitude, srid=4326)
        Building.objects.update_or_create(inventory_id=inventory_id, defaults=values)
    flag_points_outside_commune(
        queryset=Building.objects.filter(inventory_id__startswith=DEMO_PREFIX)
    )
