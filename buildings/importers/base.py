"""What every import profile shares: the file's context, the row it produces, and
the references (communes, départements) rows are linked to."""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.gis.geos import GEOSGeometry
from django.utils.translation import gettext as _

from buildings.importers import values
from buildings.importers.files import FileRefused
from buildings.importers.readers import RawRow, Table
from buildings.importers.report import ImportReport
from buildings.importers.shapes import Coordinates, Projection
from buildings.importers.values import RowIssues
from buildings.models import COLLECTIVITY_CODES, Building

# Surfaces above this are kept but reported: 13,684,036 m² is a real DIE forest,
# and also what a surface typed in cm² looks like.
OUTLIER_SURFACE_M2 = Decimal(1_000_000)
SITE_SLUG_LENGTH = 120
SITE_CODE_CACHE = 8192


@dataclass(frozen=True)
class SiteSpec:
    code: str
    designation: str
    commune_id: str | None = None


@dataclass
class Candidate:
    """A valid row, ready to write. ``fields`` are Building attributes the file owns:
    a re-import overwrites exactly those. ``on_create`` only applies to new rows
    (the status, which later moves through the lifecycle services alone)."""

    row: int
    key: str
    fields: dict[str, Any]
    site: SiteSpec
    on_create: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""


@dataclass
class FileContext:
    name: str
    report: ImportReport
    vintage: date | None
    today: date
    communes: frozenset[str]
    departments: frozenset[str]
    projection: Projection | None = None

    @property
    def latest_year(self) -> int:
        return (self.vintage or self.today).year

    def commune(self, issues: RowIssues, column: str, code: str | None) -> str | None:
        """The commune's code when the reference table has it (the FK), else None."""
        if code is None or not self.communes:
            return None  # an empty table is reported once for the file
        if code not in self.communes:
            issues.warn(
                column,
                _("Commune %(code)s is not in the reference table: not linked.")
                % {"code": code},
            )
            return None
        return code

    def department(
        self, issues: RowIssues, column: str, code: str | None
    ) -> str | None:
        if code is None or not self.departments or code in COLLECTIVITY_CODES:
            # A collectivité d'outre-mer has no département row: its buildings
            # are found by their commune code (buildings.reference.in_areas).
            return None
        if code not in self.departments:
            issues.warn(
                column,
                _("Département %(code)s is not in the reference table: not linked.")
                % {"code": code},
            )
            return None
        return code


class Profile(ABC):
    """Turns a file's rows into Candidates. Subclasses set the class attributes."""

    name: ClassVar[str]
    source: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    # Profiles that know their file's separator refuse any other.
    delimiter: ClassVar[str | None] = None
    layer: ClassVar[str | None] = None
    vintage_required: ClassVar[bool] = False
    # The columns a file must have, and those it may have: any other column is
    # reported once as not read.
    required: tuple[str, ...] = ()
    known: tuple[str, ...] = ()
    # The columns ``normalise`` reads, when fewer than ``known`` (GDAL layers are
    # read column by column through ctypes: unread columns are worth skipping).
    reads: tuple[str, ...] | None = None
    key_column: str = ""

    def prepare(self, table: Table, context: FileContext) -> None:
        """Check the header; extra columns are allowed, and reported once."""
        missing = [name for name in self.required if name not in table.columns]
        if missing:
            raise FileRefused(
                _("Columns missing for the “%(profile)s” format: %(columns)s.")
                % {"profile": self.name, "columns": ", ".join(missing)},
                row=None if table.spatial else table.header_row,
            )
        extra = [name for name in table.columns if name not in self.known]
        if extra:
            context.report.warn(
                None if table.spatial else table.header_row,
                None,
                _("Columns not read: %(columns)s.") % {"columns": ", ".join(extra)},
            )

    @abstractmethod
    def key(self, row: RawRow) -> str | None:
        """The row's natural key (inventory id), or None when it has none."""

    @abstractmethod
    def normalise(
        self, row: RawRow, issues: RowIssues, context: FileContext
    ) -> Candidate | None:
        """The row as a Candidate, its problems recorded in ``issues``."""


def check_key(issues: RowIssues, column: str, key: str | None) -> str | None:
    limit = Building._meta.get_field("inventory_id").max_length or 100
    if not key or not key.strip():
        issues.error(column, _("The identifier is empty."))
        return None
    if len(key) > limit:
        issues.error(
            column,
            _("The identifier is longer than %(max)d characters.") % {"max": limit},
        )
        return None
    return key


# Buildings of one site share its code: computed once a site (slugify is slow).
@functools.lru_cache(maxsize=SITE_CODE_CACHE)
def site_code(prefix: str, place: str, designation: str) -> str:
    """``prefix:place:slug``; long designations keep a hash so codes stay distinct."""
    full = values.slug(designation, max_length=1000)
    if len(full) > SITE_SLUG_LENGTH:
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        full = f"{full[: SITE_SLUG_LENGTH - 9]}-{digest}"
    return f"{prefix}:{place}:{full}"


def check_surface(issues: RowIssues, column: str, surface: Decimal | None) -> None:
    if surface is not None and surface > OUTLIER_SURFACE_M2:
        issues.warn(
            column,
            _("%(value)s m² is unusually large: kept, check it.") % {"value": surface},
        )


def fingerprint(candidate: Candidate, *, profile: str, vintage: date | None) -> str:
    """sha256 of the normalised row: equal fingerprints, nothing to write.

    Stored fingerprints were computed this way: a change here makes the next
    re-import of every file rewrite every row."""
    payload = {
        "profile": profile,
        "vintage": vintage.isoformat() if vintage else None,
        "site": [candidate.site.code, candidate.site.designation],
        "fields": candidate.fields,
    }
    return hashlib.sha256(_FINGERPRINT_JSON.encode(payload).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """What JSON cannot write as it is; lists hold strings only (parcel and RNB
    ids)."""
    if isinstance(value, Coordinates):
        return value.hex
    if isinstance(value, GEOSGeometry):
        return value.hex.decode()
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a field value")


# One encoder for every row; ``default`` is only called for what JSON cannot write.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_plain)
