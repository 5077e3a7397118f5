"""Load regions, départements and communes, and optionally their boundaries.

Sources, whose data is under the Licence Ouverte (Etalab):
- the official code list (INSEE Code officiel géographique, with populations) as
  published by Etalab in the npm package ``@etalab/decoupage-administratif`` (the
  package's code is MIT): codes, names, parents;
- boundary GeoJSON files with ``code`` and ``nom`` properties, such as IGN Admin
  Express as redistributed by the france-geojson project.

Idempotent: a second run with the same files writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from buildings.reference import (
    CODE_LIST_DIR,
    LevelReport,
    ReferenceDataError,
    load_reference_layers,
)

# Enough to recognise a pattern (all of one département, say) without flooding.
SHOWN_CODES = 20


class Command(BaseCommand):
    help = (
        "Load regions, départements and communes from the official code list "
        "(@etalab/decoupage-administratif), with boundaries from GeoJSON files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--code-list",
            type=Path,
            default=CODE_LIST_DIR,
            metavar="DIR",
            help="Folder holding regions.json, departements.json and communes.json "
            "(default: the npm package's data folder).",
        )
        parser.add_argument("--regions", type=Path, metavar="FILE")
        parser.add_argument("--departements", type=Path, metavar="FILE")
        parser.add_argument("--communes", type=Path, nargs="+", default=[])
        parser.add_argument(
            "--department",
            action="append",
            metavar="CODE",
            help="Load only the communes of this département (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = load_reference_layers(
                code_list_dir=options["code_list"],
                region_files=[options["regions"]] if options["regions"] else [],
                department_files=(
                    [options["departements"]] if options["departements"] else []
                ),
                commune_files=options["communes"],
                departments=options["department"],
            )
        except ReferenceDataError as error:
            raise CommandError(str(error)) from error
        for level in report.levels:
            self._write_level(level)

    def _write_level(self, level: LevelReport) -> None:
        self.stdout.write(
            f"{level.label}: {level.created} created, {level.updated} updated, "
            f"{level.unchanged} unchanged, {level.skipped} outside the platform's "
            f"scope, {level.geometries} with a boundary from the files"
            + (f", {level.excluded} left out by --department" if level.excluded else "")
        )
        for codes, what in (
            (level.unknown_codes, "unknown codes (features not loaded)"),
            (level.rejected_geometries, "non-polygonal geometries (not loaded)"),
            (level.repaired_geometries, "invalid geometries repaired"),
            (level.stale_codes, "stored codes gone from the code list"),
        ):
            if codes:
                shown = ", ".join(codes[:SHOWN_CODES])
                more = (
                    f" and {len(codes) - SHOWN_CODES} more"
                    if len(codes) > SHOWN_CODES
                    else ""
                )
                self.stdout.write(
                    self.style.WARNING(f"  {len(codes)} {what}: {shown}{more}")
                )
