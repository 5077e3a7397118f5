"""Profile ``cnig-friches``: sites in the CNIG "Friches" standard (Cartofriches).

Read as a GeoPackage (layer ``friches``, as the Cartofriches export of Cerema,
Licence Ouverte) or as a CSV with the same column names and the geometry as WKT in
``geometry``, ``geom`` or ``wkt`` (EPSG:4326 unless --srid says otherwise).
Quirks: ``NA`` for missing values, ``{a,b}`` lists of parcel ids, dates as
DD/MM/YYYY or ISO (GeoPackage dates as YYYY/MM/DD).

Decisions:
- a friche is vacant by definition: new rows get status ``vacant`` with
  ``vacancy_since`` = ``site_identif_date`` when known (the database allows none),
  except "friche reconvertie" sites, which have a new use: ``in_use``;
- a malformed parcel id is reported and left out; the row is kept;
- the natural key is ``cnig:<site_id>``, and every friche is its own site.
"""

from __future__ import annotations

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
)
from buildings.importers.files import FileRefused
from buildings.importers.readers import RawRow, Table
from buildings.importers.shapes import locate, parse_wkt
from buildings.importers.values import RowIssues
from buildings.models import (
    AssetType,
    BuildingStatus,
    Condition,
    Source,
    SurfaceKind,
)

COLUMNS: tuple[str, ...] = (
    "id", "site_id", "site_nom", "site_type", "site_adresse", "site_identif_date",
    "site_actu_date", "site_occupation", "site_statut", "site_surface",
    "site_reconv_type", "site_projet", "activite_libelle", "comm_nom", "comm_insee",
    "dep", "bati_type", "bati_nombre", "bati_surface", "bati_vacance",
    "bati_patrimoine", "bati_etat", "proprio_type", "proprio_personne", "l_idpar",
    "unite_fonciere_surface", "l_catpro3txt", "urba_zone_type", "urba_doc_type",
    "source_nom", "nature", "is_observatoire", "checked",
)  # fmt: skip
# The columns this profile reads: a GeoPackage layer is read for these only.
READ: tuple[str, ...] = (
    "site_id", "site_nom", "site_type", "site_adresse", "site_identif_date",
    "site_statut", "site_surface", "comm_nom", "comm_insee", "dep", "bati_nombre",
    "bati_etat", "proprio_personne", "l_idpar",
)  # fmt: skip
GEOMETRY_COLUMNS = ("geometry", "geom", "wkt", "the_geom", "WKT")
KEY_PREFIX = "cnig:"
UNKNOWN_WORDS = frozenset({"inconnu", "sans objet", "non renseigne"})
REUSED_STATUS = "friche reconvertie"
CONDITIONS = {
    "degradation inexistante ou faible": Condition.GOOD,
    "degradation moyenne": Condition.FAIR,
    "degradation heterogene": Condition.FAIR,
    "degradation tres importante": Condition.POOR,
}


class CnigFrichesProfile(Profile):
    name = "cnig-friches"
    source = Source.CNIG_FRICHES
    kinds: ClassVar[frozenset[str]] = frozenset({"csv", "gpkg", "geojson"})
    layer = "friches"
    required = ("site_id",)
    known = COLUMNS
    reads = READ
    key_column = "site_id"

    def __init__(self) -> None:
        self.wkt_column: str | None = None

    def prepare(self, table: Table, context: FileContext) -> None:
        if not table.spatial:
            self.wkt_column = next(
                (name for name in GEOMETRY_COLUMNS if name in table.columns), None
            )
            if self.wkt_column is None:
                raise FileRefused(
                    _("The file has no geometry column (%(names)s).")
                    % {"names": ", ".join(GEOMETRY_COLUMNS[:3])},
                    row=1,
                )
            self.known = (*COLUMNS, self.wkt_column)
        super().prepare(table, context)

    def key(self, row: RawRow) -> str | None:
        site_id = row.values.get("site_id", "").strip()
        return KEY_PREFIX + site_id if site_id else None

    def normalise(
        self, row: RawRow, issues: RowIssues, context: FileContext
    ) -> Candidate | None:
        cells = row.values
        key = check_key(issues, "site_id", self.key(row))

        def text(column: str, max_length: int) -> str:
            value = values.text(
                issues, column, cells.get(column, ""), max_length=max_length
            )
            return "" if values.fold(value) in UNKNOWN_WORDS else value

        department = values.department_code(issues, "dep", cells.get("dep", ""))
        commune = values.commune_code(issues, "comm_insee", cells.get("comm_insee", ""))
        surface = values.decimal(issues, "site_surface", cells.get("site_surface", ""))
        check_surface(issues, "site_surface", surface)
        identified = values.parse_date(
            issues, "site_identif_date", cells.get("site_identif_date", "")
        )
        buildings = values.integer(issues, "bati_nombre", cells.get("bati_nombre", ""))
        fields: dict[str, Any] = {
            "designation": text("site_nom", 300)
            or _("Friche %(id)s") % {"id": cells.get("site_id", "").strip()},
            "function": text("site_type", 200),
            "address": text("site_adresse", 300),
            "city": text("comm_nom", 200),
            "country": "France",
            "commune_id": context.commune(issues, "comm_insee", commune),
            "department_id": context.department(issues, "dep", department),
            "surface_m2": surface,
            "surface_kind": SurfaceKind.LAND
            if surface is not None
            else SurfaceKind.UNKNOWN,
            "asset_type": (
                AssetType.UNKNOWN
                if buildings is None
                else AssetType.BUILDING
                if buildings > 0
                else AssetType.LAND
            ),
            "condition": CONDITIONS.get(
                values.fold(cells.get("bati_etat", "")), Condition.UNKNOWN
            ),
            # The owner's kind ("personne morale"), never a name.
            "owner_type": text("proprio_personne", 100),
            "parcel_ids": values.parcel_ids(
                issues, "l_idpar", cells.get("l_idpar", "")
            ),
            "is_confidential": False,
        }
        geometry = row.geometry
        column = "geometry"
        if self.wkt_column is not None and context.projection is not None:
            column = self.wkt_column
            geometry = parse_wkt(
                issues, column, cells.get(column, ""), context.projection
            )
        if geometry is not None and context.projection is not None:
            location = locate(
                issues,
                column,
                geometry,
                context.projection,
                metropolitan=None if department is None else department[:2] != "97",
            )
            if location is not None:
                fields.update(location.fields())
        if issues.errors or key is None:
            return None
        reused = values.fold(cells.get("site_statut", "")) == REUSED_STATUS
        on_create: dict[str, Any] = (
            {"status": BuildingStatus.IN_USE}
            if reused
            else {"status": BuildingStatus.VACANT, "vacancy_since": identified}
        )
        return Candidate(
            row=row.number,
            key=key,
            fields=fields,
            site=SiteSpec(
                code=key,
                designation=fields["designation"],
                commune_id=fields["commune_id"],
            ),
            on_create=on_create,
        )
