"""Profile ``die``: the State real-estate inventory, DIE / DGFiP open data.

"Parc de l'immobilier de l'État" on data.economie.gouv.fr (Licence Ouverte 2.0,
attribution "DGFiP – Direction de l'immobilier de l'État"): one ``;``-separated
UTF-8 CSV per vintage, 28 columns, about 17,000 rows. Quirks handled here
(data/SOURCES.md, reference/domain.md §C.3):

- identifiers are opaque: confidential rows carry hashed ``code_chorus``/``id``
  with ``;``, ``\\`` and quotes inside quoted fields; they are stored as they are;
- about half the rows have no coordinates (empty or ``-``): kept, not located;
- ``dept`` loses its leading zero (``2``) and reads ``N/A`` abroad;
- ``surface_m2`` is ``0.0`` when unknown, and has outliers;
- ``annee_de_construction`` can be ``0001``;
- ``date_de_reference`` reads 2021-12-31 in every vintage: the vintage comes from
  ``--vintage`` or the file name (…20231231…) instead;
- ``libelle_proprietaire`` can name a natural person: it is read to tell the
  public from the private domain, and never stored.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.utils.translation import gettext as _

from buildings.importers import values
from buildings.importers.base import (
    Candidate,
    FileContext,
    Profile,
    SiteSpec,
    check_key,
    check_surface,
    site_code,
)
from buildings.importers.readers import RawRow
from buildings.importers.shapes import Location, locate_point, wgs84
from buildings.importers.values import RowIssues
from buildings.models import (
    AssetType,
    BuildingStatus,
    Condition,
    Domaniality,
    Source,
    SurfaceKind,
)

COLUMNS: tuple[str, ...] = (
    "code_chorus", "id", "designation_site", "designation_batiment_terrain", "type",
    "fonction", "adresse", "ville", "dept", "code_postal", "code_insee",
    "libelle_nouvelle_region", "pays", "latitude", "longitude", "ministere",
    "libelle_gestionnaire", "type_gestionnaire", "libelle_proprietaire",
    "type_proprietaire", "surface_m2", "consommation_kwh_ef", "type_de_chauffage",
    "etat_de_sante", "annee_de_construction", "tri_des_dechets", "erp",
    "date_de_reference",
)  # fmt: skip
REQUIRED: tuple[str, ...] = (
    "code_chorus", "id", "designation_site", "designation_batiment_terrain", "type",
    "dept", "code_insee", "pays", "latitude", "longitude", "libelle_proprietaire",
    "surface_m2",
)  # fmt: skip
# Shapes of real identifiers; anything else is the hash of a confidential row.
CHORUS_CODE = re.compile(r"^[A-Z0-9]{4}/[0-9]+/[0-9]+$")
INVENTORY_ID = re.compile(r"^[A-Z]{2}[0-9]{11}$")
# The designation a ministry substitutes for the real one on confidential rows.
CONFIDENTIAL_LABEL = "bien controle par"
NATURAL_PERSON = "personne physique"
# ``type`` (folded) → asset type. Every "Bâtiment …" is a building.
LAND_TYPES = frozenset({"terrain", "espace naturel", "terrain nu", "foret"})
BUILDING_TYPES = frozenset(
    {
        "logement", "bureau", "monument et memorial", "edifice du culte",
        "ouvrage d'art", "installation technique", "equipement sportif",
    }
)  # fmt: skip
CONDITIONS = {
    "satisfaisant": Condition.GOOD,
    "bon": Condition.GOOD,
    "peu satisfaisant": Condition.FAIR,
    "moyen": Condition.FAIR,
    "pas satisfaisant": Condition.POOR,
    "mauvais": Condition.POOR,
    "tres degrade": Condition.RUINOUS,
}
ABROAD_REGION = "etranger"


class DieProfile(Profile):
    name = "die"
    source = Source.DIE
    kinds: ClassVar[frozenset[str]] = frozenset({"csv"})
    delimiter = ";"
    vintage_required = True
    required = REQUIRED
    known = COLUMNS
    key_column = "id"

    def key(self, row: RawRow) -> str | None:
        # Kept exactly as written: a hash may end with a space.
        return row.values.get("id") or None

    def normalise(
        self, row: RawRow, issues: RowIssues, context: FileContext
    ) -> Candidate | None:
        cells = row.values
        key = check_key(issues, "id", self.key(row))
        code_chorus = cells.get("code_chorus", "")
        if len(code_chorus) > 100:
            issues.error("code_chorus", _("The value is longer than 100 characters."))
        designation_site = values.text(
            issues, "designation_site", cells["designation_site"], max_length=300
        )
        designation = values.text(
            issues,
            "designation_batiment_terrain",
            cells["designation_batiment_terrain"],
            max_length=300,
        )
        designation = designation or designation_site
        if not designation:
            issues.error(
                "designation_batiment_terrain",
                _("The building has no designation (nor its site)."),
            )
        country = values.text(issues, "pays", cells["pays"], max_length=100)
        abroad = self._abroad(cells, country)
        department = None
        if not abroad:
            department = values.department_code(issues, "dept", cells["dept"])
        owner_kind = values.fold(cells.get("type_proprietaire", ""))
        confidential = (
            values.fold(designation).startswith(CONFIDENTIAL_LABEL)
            or values.fold(designation_site).startswith(CONFIDENTIAL_LABEL)
            or not CHORUS_CODE.match(code_chorus)
            or not INVENTORY_ID.match(key or "")
            # Housing a ministry rents from a private person: never on a public map.
            or owner_kind == NATURAL_PERSON
        )
        commune = None
        if not abroad:
            commune = values.commune_code(issues, "code_insee", cells["code_insee"])
        location = self._location(issues, cells, abroad, department)
        asset_type = self._asset_type(issues, cells["type"])
        surface = values.decimal(issues, "surface_m2", cells["surface_m2"])
        if surface == 0:
            surface = None  # "0.0" is how the inventory writes "not measured"
        check_surface(issues, "surface_m2", surface)
        fields: dict[str, Any] = {
            "code_chorus": code_chorus,
            "designation": designation,
            "asset_type": asset_type,
            "function": values.text(
                issues, "fonction", cells.get("fonction", ""), max_length=200
            ),
            "address": values.text(
                issues, "adresse", cells.get("adresse", ""), max_length=300
            ),
            "postal_code": self._postal_code(issues, cells.get("code_postal", "")),
            "city": values.text(
                issues, "ville", cells.get("ville", ""), max_length=200
            ),
            # Abroad rows without a country ("pays" empty) still say where they are.
            "country": country or ("Étranger" if abroad else "France"),
            "commune_id": context.commune(issues, "code_insee", commune),
            "department_id": context.department(issues, "dept", department),
            "domaniality": self._domaniality(cells["libelle_proprietaire"]),
            "ministry": values.text(
                issues, "ministere", cells.get("ministere", ""), max_length=200
            ),
            "manager_label": values.text(
                issues,
                "libelle_gestionnaire",
                cells.get("libelle_gestionnaire", ""),
                max_length=300,
            ),
            "manager_type": values.text(
                issues,
                "type_gestionnaire",
                cells.get("type_gestionnaire", ""),
                max_length=100,
            ),
            # The owner's kind ("Etat", "Personne Physique"), never its name.
            "owner_type": values.text(
                issues,
                "type_proprietaire",
                cells.get("type_proprietaire", ""),
                max_length=100,
            ),
            "surface_m2": surface,
            "surface_kind": self._surface_kind(asset_type, surface),
            "year_built": values.year(
                issues,
                "annee_de_construction",
                cells.get("annee_de_construction", ""),
                latest=context.latest_year,
            ),
            "condition": self._condition(issues, cells.get("etat_de_sante", "")),
            "energy_kwh_ef": values.decimal(
                issues,
                "consommation_kwh_ef",
                cells.get("consommation_kwh_ef", ""),
                max_digits=14,
            ),
            "heating_type": values.text(
                issues,
                "type_de_chauffage",
                cells.get("type_de_chauffage", ""),
                max_length=100,
            ),
            "erp": values.boolean(issues, "erp", cells.get("erp", "")),
            "is_confidential": confidential,
        }
        if location is not None:
            # A row without coordinates leaves a point placed by hand alone.
            fields["point"] = location.point
        if issues.errors or key is None:
            return None
        place = self._place(department, commune, abroad, country, confidential)
        return Candidate(
            row=row.number,
            key=key,
            fields=fields,
            site=SiteSpec(
                code=site_code("die", place, designation_site or designation),
                designation=designation_site or designation,
                commune_id=fields["commune_id"] if place == commune else None,
            ),
            # The inventory lists assets, not vacancy (domain.md §C.3).
            on_create={"status": BuildingStatus.IN_USE},
        )

    @staticmethod
    def _abroad(cells: dict[str, str], country: str) -> bool:
        postal = cells.get("code_postal", "").strip()
        return (
            (bool(country) and values.fold(country) != "france")
            or cells["dept"].strip().upper() == "N/A"
            or (len(postal) == 5 and postal.startswith("99"))
            or values.fold(cells.get("libelle_nouvelle_region", "")) == ABROAD_REGION
        )

    @staticmethod
    def _location(
        issues: RowIssues,
        cells: dict[str, str],
        abroad: bool,
        department: str | None,
    ) -> Location | None:
        latitude = values.coordinate(issues, "latitude", cells["latitude"])
        longitude = values.coordinate(issues, "longitude", cells["longitude"])
        if latitude is None and longitude is None:
            return None
        if latitude is None or longitude is None:
            issues.warn(
                "latitude" if latitude is None else "longitude",
                _("Only one coordinate is given: the building is not located."),
            )
            return None
        metropolitan: bool | None = None
        if abroad:
            metropolitan = False
        elif department is not None:
            metropolitan = not department.startswith("97")
        return locate_point(
            issues, "latitude", longitude, latitude, wgs84(), metropolitan=metropolitan
        )

    @staticmethod
    def _asset_type(issues: RowIssues, value: str) -> str:
        kind = values.fold(value)
        if not kind:
            return AssetType.UNKNOWN
        if kind in LAND_TYPES or kind.startswith("terrain"):
            return AssetType.LAND
        if kind.startswith("batiment") or kind in BUILDING_TYPES:
            return AssetType.BUILDING
        issues.warn("type", _("Unknown type “%(value)s”.") % {"value": value})
        return AssetType.UNKNOWN

    @staticmethod
    def _surface_kind(asset_type: str, surface: object) -> str:
        if surface is None or asset_type == AssetType.UNKNOWN:
            return SurfaceKind.UNKNOWN
        return SurfaceKind.LAND if asset_type == AssetType.LAND else SurfaceKind.SUB

    @staticmethod
    def _domaniality(owner_label: str) -> str:
        label = values.fold(owner_label)
        if "domaine public" in label:
            return Domaniality.PUBLIC
        if "domaine prive" in label:
            return Domaniality.PRIVATE
        return Domaniality.UNKNOWN

    @staticmethod
    def _condition(issues: RowIssues, value: str) -> str:
        state = values.fold(value)
        if not state:
            return Condition.UNKNOWN
        if state in CONDITIONS:
            return CONDITIONS[state]
        issues.warn(
            "etat_de_sante",
            _("Unknown condition “%(value)s”: recorded as unknown.") % {"value": value},
        )
        return Condition.UNKNOWN

    @staticmethod
    def _postal_code(issues: RowIssues, value: str) -> str:
        code = value.strip()
        if values.is_digits(code) and len(code) == 4:
            code = "0" + code
        if code and not (values.is_digits(code) and len(code) == 5):
            issues.warn(
                "code_postal",
                _("“%(value)s” is not a postal code: left out.") % {"value": value},
            )
            return ""
        return code

    @staticmethod
    def _place(
        department: str | None,
        commune: str | None,
        abroad: bool,
        country: str,
        confidential: bool,
    ) -> str:
        """Where the site is, in its code: confidential rows only by département."""
        if abroad:
            return "abroad-" + values.slug(country or "unknown", max_length=40)
        if confidential:
            return department or "unknown"
        return commune or department or "unknown"
