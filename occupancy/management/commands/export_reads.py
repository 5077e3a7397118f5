"""Copy the log of reads of resident data out of the database, as a hash chain, or
check the copy (reliability.md H3/H4)::

    manage.py export_reads              # append the settled reads not yet copied
    manage.py export_reads --verify     # the chain, then the copy against the table
    manage.py export_reads --log FILE   # another copy than RESIDENT_READS_LOG

The job-queue worker exports every night. ``--verify`` exits with status 1 when a
line of the copy was altered, or a copied read was deleted or changed in the
database before its retention ran out, or a read was skipped.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from occupancy.residents.reads import ChainBroken, reads_export, reads_verify


class Command(BaseCommand):
    help = "Copy the reads of resident data to RESIDENT_READS_LOG, or verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--verify", action="store_true", help="Check the copy.")
        parser.add_argument("--log", help="The copy (default: RESIDENT_READS_LOG).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["log"]) if options["log"] else None
        try:
            if not options["verify"]:
                export = reads_export(path=path)
                self.stdout.write(json.dumps(dataclasses.asdict(export)))
                return
            verification = reads_verify(path=path)
        except ChainBroken as exc:
            raise CommandError(f"The copy was altered: {exc}.") from exc
        self.stdout.write(json.dumps(dataclasses.asdict(verification)))
        if not verification.ok:
            raise CommandError(
                "The database does not match its copy: "
                f"deleted {verification.deleted}, altered {verification.altered}, "
                f"skipped {verification.unexported}."
            )
