"""Load the Cartofriches sites (Cerema) from their GeoPackage export.

Source: Cartofriches, the national inventory of vacant and under-used sites, published
by Cerema as open data (Licence Ouverte), layer ``friches`` with CNIG "Friches" column
names. Idempotent: sites are upserted on ``site_id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from buildings.friches import FricheFileError, load_friches


class Command(BaseCommand):
    help = "Load (or refresh) Cartofriches sites from a GeoPackage, in one transaction."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="Cartofriches GeoPackage (.gpkg).")
        parser.add_argument(
            "--department",
            action="append",
            metavar="CODE",
            help="Load only the sites of this département (repeatable), e.g. 13.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and write everything, then roll back.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            report = load_friches(
                path=path, departments=options["department"], dry_run=options["dry_run"]
            )
        except FricheFileError as error:
            raise CommandError(str(error)) from error
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(
            f"{report.read} sites read, {report.selected} selected: "
            f"{report.created} {verb} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, "
            f"{report.state_owned} owned by the State, in {report.seconds:.1f} s."
        )
        if report.skipped or report.duplicates:
            self.stdout.write(
                self.style.WARNING(
                    f"{report.skipped} features without a site id or a point skipped, "
                    f"{report.duplicates} duplicate site ids (the last one kept)."
                )
            )
        if report.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was saved."))
