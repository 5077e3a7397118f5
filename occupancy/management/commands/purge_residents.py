"""Anonymise or delete resident-level data two years after the last exit or
contract end.

CNIL: retention of social-support data is two years from the last contact
(AU-048, délib. 2016-095 art. 4; social-sector référentiel, délib. 2023-095);
domain.md §F.6 asks for an automatic monthly job with a log. Run it from cron or
the job queue, e.g. on the 1st of each month::

    manage.py purge_residents            # purge
    manage.py purge_residents --dry-run  # count only, change nothing

The period is OCCUPANCY_RULES["retention_years"] and what happens to the rows
OCCUPANCY_RULES["retention_mode"] (occupancy/rules.py): "anonymise" keeps the stays,
cut from any file number, for the indicators of past periods; "delete" deletes them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.forms import PERIOD_FIRST_DAY, PERIOD_LAST_DAY
from occupancy.residents import purge_residents


class Command(BaseCommand):
    help = (
        "Anonymise (or delete) occupants past retention; delete their contracts, "
        "the history of all three, and logged reads past their own retention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count, then roll everything back."
        )
        parser.add_argument(
            "--today",
            help="Reference date, YYYY-MM-DD (default: today in TIME_ZONE).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the report as one JSON line."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            today = (
                date.fromisoformat(options["today"])
                if options["today"]
                else timezone.localdate()
            )
        except ValueError as exc:
            raise CommandError(f"--today: {exc}") from exc
        # Retention arithmetic counts years back from it (0001-01-01 overflowed).
        if not PERIOD_FIRST_DAY <= today <= PERIOD_LAST_DAY:
            raise CommandError(
                f"--today: {today} is not between {PERIOD_FIRST_DAY} and "
                f"{PERIOD_LAST_DAY}."
            )
        report = purge_residents(today=today, dry_run=options["dry_run"])
        if options["json"]:
            values = dataclasses.asdict(report)
            values["cutoff"] = report.cutoff.isoformat()
            self.stdout.write(json.dumps(values))
            return
        self.stdout.write(
            f"{'[dry run] ' if report.dry_run else ''}"
            f"last contact before {report.cutoff} ({report.mode}): "
            f"{report.anonymised} occupant(s) anonymised with {report.stays_kept} "
            f"stay(s) kept for statistics; deleted: "
            f"{report.occupants} occupant(s), {report.stays} stay(s), "
            f"{report.contracts} contract(s), {report.events} history event(s), "
            f"{report.contexts} context(s), {report.access_records} logged read(s) "
            f"past their own retention"
            f"{' (dry run: rolled back)' if report.dry_run else ''}."
        )
