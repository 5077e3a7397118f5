"""Import buildings from a file into the inventory (buildings/importers).

Profiles and their sources:
- ``die``: the State real-estate inventory, "Parc de l'immobilier de l'État"
  (DIE / DGFiP), open data on data.economie.gouv.fr, Licence Ouverte 2.0 — one
  ``;``-separated CSV per vintage. The vintage comes from --vintage or the file
  name (parc_immobilier_etat_20231231.csv → 2023-12-31).
- ``cnig-friches``: sites in the CNIG "Friches" standard, such as the Cartofriches
  GeoPackage (Cerema, Licence Ouverte; layer ``friches``) or a CSV with a WKT
  geometry column.
- ``generic``: GeoPackage, zipped Shapefile, GeoJSON, CSV or XLSX, with a JSON
  column mapping (--mapping) from the file's columns to Building fields.

Exit status: 0 when the import did what was asked (rows rejected under
``--on-error skip`` included), 1 when the file was refused, rows were rejected
under ``--on-error abort`` (then nothing was written) or every row was rejected.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from buildings.importers import ON_ERROR, PROFILES, ImportReport, import_file
from config.errors import DomainError

MAPPING_MAX_BYTES = 64 * 1024
# Beyond this many issues, the console shows the first ones; --report has all.
SHOWN_ISSUES = 50
# Progress is drawn on stderr only for files with at least this many rows.
PROGRESS_FROM_ROWS = 5000


class Command(BaseCommand):
    help = "Import buildings from a DIE CSV, a CNIG “Friches” file or a mapped file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--profile", choices=PROFILES, required=True)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and count everything, then roll back.",
        )
        parser.add_argument(
            "--on-error",
            choices=ON_ERROR,
            default="abort",
            help="abort: import nothing if a row is rejected (default); "
            "skip: import the valid rows.",
        )
        parser.add_argument(
            "--srid", type=int, help="EPSG code of the coordinates (e.g. 2154)."
        )
        parser.add_argument(
            "--mapping", type=Path, help="JSON column mapping (generic profile)."
        )
        parser.add_argument(
            "--vintage",
            type=date.fromisoformat,
            help="Date of the data (YYYY-MM-DD); default: a date in the file name.",
        )
        parser.add_argument("--layer", help="Layer to read in a GeoPackage.")
        parser.add_argument(
            "--where",
            help="OGR SQL filter on a layer's attributes, e.g. \"dep IN ('13')\".",
        )
        parser.add_argument(
            "--report", type=Path, metavar="CSV_PATH", help="Write every issue here."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mapping = _read_mapping(options["mapping"]) if options["mapping"] else None
        if options["report"]:
            # Before the import: a report that cannot be written failed the
            # command after the rows were committed.
            try:
                options["report"].write_text("", encoding="utf-8")
            except OSError as error:
                raise CommandError(
                    _("Cannot write the report %(path)s: %(error)s")
                    % {"path": options["report"], "error": error.strerror}
                ) from error
        try:
            report = import_file(
                options["file"],
                profile=options["profile"],
                on_error=options["on_error"],
                dry_run=options["dry_run"],
                srid=options["srid"],
                mapping=mapping,
                vintage=options["vintage"],
                layer=options["layer"],
                where=options["where"],
                progress=self._progress_writer(),
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        self._print(report)
        if options["report"]:
            options["report"].write_text(report.to_csv(), encoding="utf-8")
            self.stdout.write(
                _("Report written to %(path)s.") % {"path": options["report"]}
            )
        if not report.ok:
            raise CommandError(
                _("The file was refused: nothing was written.")
                if report.refused
                else _(
                    "Rows were rejected: nothing was written (--on-error skip "
                    "imports the valid rows)."
                )
            )
        if report.rows_read and report.rejected == report.rows_read:
            # Under --on-error skip: "Imported." and 0 for a file that gave nothing.
            raise CommandError(_("Every row was rejected: nothing was imported."))

    def _print(self, report: ImportReport) -> None:
        self.stdout.write(report.summary())
        for title, issues in (
            (_("Errors:"), report.errors),
            (_("Warnings:"), report.warnings),
        ):
            if not issues:
                continue
            self.stdout.write(title)
            for issue in issues[:SHOWN_ISSUES]:
                self.stdout.write(f"  {issue}")
            if len(issues) > SHOWN_ISSUES:
                self.stdout.write(
                    _("  … and %(count)d more (see --report).")
                    % {"count": len(issues) - SHOWN_ISSUES}
                )
        if report.dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
        elif report.written and report.rejected < report.rows_read:
            self.stdout.write(self.style.SUCCESS(_("Imported.")))

    def _progress_writer(self) -> Any:
        interactive = sys.stderr.isatty()

        def progress(phase: str, done: int, total: int | None) -> None:
            if max(total or 0, done) < PROGRESS_FROM_ROWS:
                return
            # A terminal redraws one line; a log gets a line every few thousand.
            if not interactive and done % PROGRESS_FROM_ROWS and done != total:
                return
            of = f"/{total}" if total else ""
            self.stderr.write(
                f"{phase}: {done}{of} rows", ending="\r" if interactive else "\n"
            )

        return progress


def _read_mapping(path: Path) -> dict[str, str]:
    try:
        if path.stat().st_size > MAPPING_MAX_BYTES:
            raise CommandError(
                _("The mapping file %(path)s is too large.") % {"path": path}
            )
        mapping = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CommandError(
            _("Cannot read the mapping %(path)s: %(error)s")
            % {"path": path, "error": error}
        ) from error
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and isinstance(value, str)
        for key, value in mapping.items()
    ):
        raise CommandError(_("The mapping must be a JSON object of column → field."))
    return mapping
