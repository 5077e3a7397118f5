"""Rebuild the building cluster table of the low-zoom tiles from scratch.

The triggers keep it current on every write (maps/models.py); this is for a
database restored without them, or to check for drift (``--check``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maps.services import clusters_refresh


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Report whether the table differed from a rebuild (exit 1 if so).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = clusters_refresh()
        self.stdout.write(
            f"{report.rows} cluster rows from {report.buildings} located buildings "
            f"({report.changed} rows differed)."
        )
        if options["check"] and report.changed:
            raise CommandError("The cluster table had drifted: rebuilt.")
