"""Forms of the agents' building pages: filters (DSFR markup), transitions, imports."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.gis.gdal import GDALException, SpatialReference
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from buildings.models import BuildingStatus
from buildings.suitability import USES

# --- Filters: BuildingFilterSet (buildings/api/filters.py) drawn as a DSFR form.
# django-filter derives labels from lookups ("Department est inclus dans") or has
# none for method filters; the page names each parameter for agents.
FILTER_LABELS = {
    "q": _("Designation or address"),
    "department": _("Départements (INSEE codes, comma-separated)"),
    "commune": _("Communes (INSEE codes, comma-separated)"),
    "status": _("Status"),
    "ministry": _("Ministry"),
    "surface_min": _("Surface at least (m²)"),
    "surface_max": _("Surface at most (m²)"),
    "erp": _("Open to the public (ERP)"),
    "available_from": _("Available from"),
    "available_to": _("Available until"),
    "suitability_use": _("Suitable for"),
    "suitability_min": _("Suitability score at least (0–100)"),
    "bbox": _("Bounding box: min lon, min lat, max lon, max lat (WGS84)"),
    "near": _("Near the point lon,lat (WGS84)"),
    "radius": _("Within (metres) of that point"),
}
# Shown folded under "More criteria": few agents type coordinates.
ADVANCED_FILTERS = ("bbox", "near", "radius", "suitability_use", "suitability_min")
USE_LABELS = {
    "shelter": _("Shelter"),
    "workspace": _("Workspaces"),
    "mixed": _("Mixed use"),
}


def dsfr_filter_form(form: forms.Form) -> forms.Form:
    """Give the filter form DSFR widgets and readable labels, in place."""
    for name, field in form.fields.items():
        field.label = FILTER_LABELS.get(name, field.label)
        field.label_suffix = ""
        widget = field.widget
        # django-filter's "Multiple values may be separated by commas": the
        # labels say it already.
        field.help_text = ""
        if name == "status":
            field.widget = forms.CheckboxSelectMultiple(choices=BuildingStatus.choices)
        elif name == "suitability_use" and isinstance(field, forms.ChoiceField):
            field.choices = [("", _("Mixed use (default)"))] + [
                (use, USE_LABELS[use]) for use in USES
            ]
            widget.attrs["class"] = "fr-select"
        elif isinstance(widget, forms.NullBooleanSelect):
            # In a filter, "unknown" means "either".
            widget.choices = [
                ("unknown", _("Either")),
                ("true", _("Yes")),
                ("false", _("No")),
            ]
            widget.attrs["class"] = "fr-select"
        elif isinstance(widget, forms.Select):
            widget.attrs["class"] = "fr-select"
        elif isinstance(widget, forms.DateInput):
            # The browser's date picker sends ISO dates, which DateField parses.
            widget.input_type = "date"
            widget.format = "%Y-%m-%d"
            widget.attrs["class"] = "fr-input"
        else:
            widget.attrs["class"] = "fr-input"
    return form


# --- Lifecycle
class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=BuildingStatus.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason (kept in the status history)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"class": "fr-input", "rows": 2}),
    )


# --- Imports
PROFILES = {
    "die": _("State inventory, DIE open-data CSV"),
    "cnig-friches": _("CNIG “Friches” standard (CSV with WKT, or GeoPackage)"),
    "generic": _("Other file, with a column mapping"),
}
# What each profile reads (README, "Importing data").
PROFILE_EXTENSIONS = {
    "die": frozenset({"csv"}),
    "cnig-friches": frozenset({"csv", "gpkg"}),
    "generic": frozenset({"csv", "gpkg", "zip", "geojson", "json", "xlsx"}),
}
ALLOWED_EXTENSIONS = frozenset().union(*PROFILE_EXTENSIONS.values())
ON_ERROR_CHOICES = [
    ("abort", _("Import nothing if one row is rejected")),
    ("skip", _("Import the valid rows, report the others")),
]
MAPPING_MAX_BYTES = 64 * 1024
# The first bytes each kind of file must start with: an extension alone proves
# nothing, and GDAL parses whatever it is handed (reference/reliability.md G1, G3).
ZIP_MAGIC = b"PK\x03\x04"
SQLITE_MAGIC = b"SQLite format 3\x00"
SNIFF_BYTES = 8192


def _extension(upload: UploadedFile[bytes]) -> str:
    return PurePath(upload.name or "").suffix.lower().lstrip(".")


def _head(upload: UploadedFile[bytes]) -> bytes:
    upload.seek(0)
    head: bytes = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return head


def _content_matches(extension: str, head: bytes) -> bool:
    if extension in ("zip", "xlsx"):  # an XLSX workbook is a zip archive
        return head.startswith(ZIP_MAGIC)
    if extension == "gpkg":
        return head.startswith(SQLITE_MAGIC)
    # Text formats: UTF-8 (the DIE file starts with a BOM), no NUL byte. The last
    # character may be cut in the middle by SNIFF_BYTES.
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8-sig")
    if extension in ("geojson", "json"):
        return text.lstrip()[:1] in ("{", "[")
    return True


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV, GeoPackage, zipped Shapefile, GeoJSON or XLSX."),
        widget=forms.FileInput(
            attrs={
                "class": "fr-upload",
                "accept": ",".join(f".{e}" for e in sorted(ALLOWED_EXTENSIONS)),
            }
        ),
    )
    profile = forms.ChoiceField(
        label=_("Format"),
        choices=list(PROFILES.items()),
        widget=forms.Select(attrs={"class": "fr-select"}),
    )
    srid = forms.IntegerField(
        label=_("Coordinate reference system (EPSG code)"),
        help_text=_("Only when the file does not say it, e.g. 2154 for Lambert-93."),
        required=False,
        min_value=1,
        max_value=999_999,
        widget=forms.NumberInput(attrs={"class": "fr-input"}),
    )
    mapping = forms.FileField(
        label=_("Column mapping (JSON)"),
        help_text=_(
            "An object from the file's column names to ours, "
            'e.g. {"nom": "designation"}. Format “other file” only.'
        ),
        required=False,
        widget=forms.FileInput(attrs={"class": "fr-upload", "accept": ".json"}),
    )
    vintage = forms.DateField(
        label=_("Date of the inventory (vintage)"),
        help_text=_("When the file name does not carry it, as in …_20231231.csv."),
        required=False,
        widget=forms.DateInput(
            attrs={"class": "fr-input", "type": "date"}, format="%Y-%m-%d"
        ),
    )
    on_error = forms.ChoiceField(
        label=_("When a row is rejected"),
        choices=ON_ERROR_CHOICES,
        initial="abort",
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        extension = _extension(upload)
        if extension not in ALLOWED_EXTENSIONS:
            raise forms.ValidationError(
                _("Accepted files: %(extensions)s.")
                % {"extensions": ", ".join(sorted(ALLOWED_EXTENSIONS))},
                code="extension",
            )
        limit: int = settings.IMPORT_MAX_BYTES
        if (upload.size or 0) > limit:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB.") % {"mb": limit // 2**20},
                code="size",
            )
        if not _content_matches(extension, _head(upload)):
            raise forms.ValidationError(
                _("The content of the file is not %(extension)s.")
                % {"extension": extension.upper()},
                code="content",
            )
        return upload

    def clean_srid(self) -> int | None:
        srid: int | None = self.cleaned_data.get("srid")
        if srid is None:
            return None
        try:
            SpatialReference(srid)
        except GDALException as error:
            raise forms.ValidationError(
                _("EPSG:%(srid)d is not a known coordinate reference system.")
                % {"srid": srid},
                code="srid",
            ) from error
        return srid

    def clean_mapping(self) -> dict[str, str] | None:
        upload: UploadedFile[bytes] | None = self.cleaned_data.get("mapping")
        if not upload:
            return None
        if (upload.size or 0) > MAPPING_MAX_BYTES:
            raise forms.ValidationError(_("The mapping file is too large."))
        try:
            mapping: Any = json.loads(upload.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as error:
            raise forms.ValidationError(
                _("The mapping file is not valid JSON."), code="mapping"
            ) from error
        if not isinstance(mapping, dict) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in mapping.items()
        ):
            raise forms.ValidationError(
                _("The mapping must be an object of column names to field names."),
                code="mapping",
            )
        return mapping

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        profile = cleaned.get("profile")
        if upload is not None and profile in PROFILE_EXTENSIONS:
            extension = _extension(upload)
            if extension not in PROFILE_EXTENSIONS[profile]:
                self.add_error(
                    "file",
                    _("Format “%(profile)s” reads %(extensions)s files.")
                    % {
                        "profile": PROFILES[profile],
                        "extensions": ", ".join(sorted(PROFILE_EXTENSIONS[profile])),
                    },
                )
        if cleaned.get("mapping") and profile != "generic":
            self.add_error("mapping", _("A column mapping goes with “other file”."))
        # On its field, not as the importer's refusal naming --mapping.
        if (
            profile == "generic"
            and not cleaned.get("mapping")
            and ("mapping" not in self.errors)
        ):
            self.add_error("mapping", _("“Other file” needs its column mapping."))
        return cleaned
