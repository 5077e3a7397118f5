"""Profile ``generic``: any GeoPackage, zipped Shapefile, GeoJSON, CSV or XLSX, with
a declared column mapping.

The mapping is a JSON object from the file's column names to Building fields,
plus ``geometry`` (a WKT column, in CSV or XLSX), ``lon``/``lat`` (coordinate
columns, in the file's CRS), ``site`` (the site's designation) and ``status``
(for new buildings only). ``inventory_id`` and ``designation`` are required.
A re-import overwrites the mapped fields only, and a row without a geometry
leaves the building's point alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db import models
from django.utils import translation
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
from buildings.importers.files import FileRefused
from buildings.importers.readers import RawRow, Table
from buildings.importers.shapes import Location, locate, locate_point, parse_wkt
from buildings.importers.values import RowIssues
from buildings.models import (
    AGREEMENT_DRIVEN_STATUSES,
    Building,
    BuildingStatus,
    Source,
)
from buildings.services import EDITABLE_FIELDS

# Mapped to something other than a plain Building field.
SPECIAL_TARGETS = frozenset({"geometry", "lon", "lat", "site", "status"})
# Geometry comes from "geometry" or lon/lat; the site from "site".
TARGETS = (EDITABLE_FIELDS - {"site", "point", "footprint"}) | SPECIAL_TARGETS
REQUIRED_TARGETS = ("inventory_id", "designation")
MAX_MAPPING_ENTRIES = 200


class GenericProfile(Profile):
    name = "generic"
    source = Source.FILE
    kinds: ClassVar[frozenset[str]] = frozenset(
        {"csv", "xlsx", "gpkg", "geojson", "shapefile"}
    )

    def __init__(self, mapping: Mapping[str, str] | None) -> None:
        if not mapping:
            raise FileRefused(
                _("The “generic” format needs a column mapping (--mapping FILE).")
            )
        if len(mapping) > MAX_MAPPING_ENTRIES or not all(
            isinstance(column, str) and isinstance(target, str)
            for column, target in mapping.items()
        ):
            raise FileRefused(
                _("The mapping must be an object of column names to field names.")
            )
        unknown = sorted(set(mapping.values()) - TARGETS)
        if unknown:
            raise FileRefused(
                _("The mapping names fields that cannot be imported: %(fields)s.")
                % {"fields": ", ".join(unknown)}
            )
        targets = list(mapping.values())
        twice = sorted({target for target in targets if targets.count(target) > 1})
        if twice:
            raise FileRefused(
                _("Several columns are mapped to %(fields)s.")
                % {"fields": ", ".join(twice)}
            )
        missing = [target for target in REQUIRED_TARGETS if target not in targets]
        if missing:
            raise FileRefused(
                _("The mapping must map a column to %(fields)s.")
                % {"fields": ", ".join(missing)}
            )
        if ("lon" in targets) != ("lat" in targets):
            raise FileRefused(_("The mapping must give both lon and lat, or neither."))
        self.mapping = dict(mapping)
        self.column_of = {target: column for column, target in mapping.items()}
        self.key_column = self.column_of["inventory_id"]
        self.required = self.known = self.reads = tuple(mapping)
        self.choices = {
            target: _choice_lookup(Building._meta.get_field(target))
            for target in targets
            if target not in SPECIAL_TARGETS
            and getattr(Building._meta.get_field(target), "choices", None)
        }
        self.choices["status"] = {
            key: value
            for key, value in _choice_lookup(Building._meta.get_field("status")).items()
            if value not in AGREEMENT_DRIVEN_STATUSES
        }

    def prepare(self, table: Table, context: FileContext) -> None:
        super().prepare(table, context)
        if "geometry" in self.column_of and table.spatial:
            raise FileRefused(
                _("This file carries its own geometry: do not map a geometry column.")
            )

    def key(self, row: RawRow) -> str | None:
        return row.values.get(self.key_column, "").strip() or None

    def normalise(
        self, row: RawRow, issues: RowIssues, context: FileContext
    ) -> Candidate | None:
        key = check_key(issues, self.key_column, self.key(row))
        fields: dict[str, Any] = {}
        for column, target in self.mapping.items():
            if target in SPECIAL_TARGETS or target == "inventory_id":
                continue
            name, value = self._parse(
                issues, column, target, row.values.get(column, ""), context
            )
            fields[name] = value
        if not fields.get("designation"):
            issues.error(self.column_of["designation"], _("The designation is empty."))
        check_surface(
            issues, self.column_of.get("surface_m2", ""), fields.get("surface_m2")
        )
        department = fields.get("department_id")
        location = self._locate(
            issues,
            row,
            context,
            metropolitan=None if department is None else department[:2] != "97",
        )
        if location is not None:
            fields.update(location.fields())
        status = BuildingStatus.IN_USE
        if "status" in self.column_of:
            column = self.column_of["status"]
            status = self._choice(issues, column, "status", row.values.get(column, ""))
        site = self._site(issues, row, fields)
        if issues.errors or key is None:
            return None
        return Candidate(
            row=row.number,
            key=key,
            fields=fields,
            site=site
            or SiteSpec(code=f"file:{key}", designation=fields["designation"]),
            on_create={"status": status or BuildingStatus.IN_USE},
        )

    def _parse(
        self,
        issues: RowIssues,
        column: str,
        target: str,
        raw: str,
        context: FileContext,
    ) -> tuple[str, Any]:
        if target == "commune":
            code = values.commune_code(issues, column, raw)
            return "commune_id", context.commune(issues, column, code)
        if target == "department":
            code = values.department_code(issues, column, raw)
            return "department_id", context.department(issues, column, code)
        if target == "year_built":
            return target, values.year(issues, column, raw, latest=context.latest_year)
        if target == "parcel_ids":
            return target, values.parcel_ids(issues, column, raw)
        if target == "rnb_ids":
            return target, values.rnb_ids(issues, column, raw)
        if target == "postal_code":
            code = raw.strip()
            if code and not (values.is_digits(code) and len(code) == 5):
                issues.error(column, _("A postal code has five digits."))
            return target, code
        if target == "erp_category":
            category = values.integer(issues, column, raw)
            if category is not None and not 1 <= category <= 5:
                issues.error(column, _("An ERP category is between 1 and 5."))
            return target, category
        if target in self.choices:
            return target, self._choice(issues, column, target, raw)
        field = _model_field(target)
        if isinstance(field, models.DecimalField):
            return target, values.decimal(
                issues,
                column,
                raw,
                max_digits=field.max_digits or 14,
                places=field.decimal_places or 0,
            )
        if isinstance(field, models.DateField):
            return target, values.parse_date(issues, column, raw)
        if isinstance(field, models.BooleanField):
            flag = values.boolean(issues, column, raw)
            return target, flag if field.null else bool(flag)
        max_length = getattr(field, "max_length", None) or 300
        return target, values.text(issues, column, raw, max_length=max_length)

    def _choice(self, issues: RowIssues, column: str, target: str, raw: str) -> Any:
        lookup = self.choices[target]
        word = values.fold(raw)
        if not word:
            return _model_field(target).get_default()
        if word in lookup:
            return lookup[word]
        issues.error(
            column,
            _("“%(value)s” is not one of: %(choices)s.")
            % {"value": raw, "choices": ", ".join(sorted(set(lookup.values())))},
        )
        return None

    def _locate(
        self,
        issues: RowIssues,
        row: RawRow,
        context: FileContext,
        *,
        metropolitan: bool | None,
    ) -> Location | None:
        projection = context.projection
        if projection is None:
            return None
        if "lon" in self.column_of:
            lon_column, lat_column = self.column_of["lon"], self.column_of["lat"]
            x = values.coordinate(issues, lon_column, row.values.get(lon_column, ""))
            y = values.coordinate(issues, lat_column, row.values.get(lat_column, ""))
            if x is None and y is None:
                return None
            if x is None or y is None:
                issues.warn(
                    lon_column if x is None else lat_column,
                    _("Only one coordinate is given: the building is not located."),
                )
                return None
            return locate_point(
                issues, lon_column, x, y, projection, metropolitan=metropolitan
            )
        column, geometry = "geometry", row.geometry
        if "geometry" in self.column_of:
            column = self.column_of["geometry"]
            geometry = parse_wkt(issues, column, row.values.get(column, ""), projection)
        if geometry is None:
            return None
        return locate(issues, column, geometry, projection, metropolitan=metropolitan)

    def _site(
        self, issues: RowIssues, row: RawRow, fields: dict[str, Any]
    ) -> SiteSpec | None:
        if "site" not in self.column_of:
            return None
        column = self.column_of["site"]
        designation = values.text(
            issues, column, row.values.get(column, ""), max_length=300
        )
        if not designation:
            return None
        place = fields.get("commune_id") or fields.get("department_id") or "fr"
        return SiteSpec(
            code=site_code("file", place, designation),
            designation=designation,
            commune_id=fields.get("commune_id"),
        )


def _model_field(name: str) -> models.Field[Any, Any]:
    field = Building._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 — targets are concrete fields
    return field


def _choice_lookup(field: Any) -> dict[str, Any]:
    """Each choice by its value, its English label and its French label."""
    lookup: dict[str, Any] = {}
    for value, label in field.choices:
        lookup[values.fold(str(value))] = value
        lookup[values.fold(str(label))] = value
        with translation.override("fr"):
            lookup[values.fold(str(label))] = value
    return lookup
