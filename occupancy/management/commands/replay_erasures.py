"""Erase again the residents an erasure log names, after a database restore.

A backup taken before an erasure on request (``erase_occupant``, the API's
``occupants/{id}/erase/``) brings the resident back when restored; the erasures
are also appended to RESIDENT_ERASURE_LOG, outside the database (reliability.md
J2). Run this after every restore, before opening the platform again::

    manage.py replay_erasures                 # the configured log
    manage.py replay_erasures --log FILE      # a copy kept elsewhere

It exits with status 1 when a restored resident still stays or holds a running
contract in the restored data: record the exit, then run it again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from occupancy.residents import erasures_replay


class Command(BaseCommand):
    help = "After a restore, erase again the residents the erasure log names."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--log", help="Erasure log (default: RESIDENT_ERASURE_LOG)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["log"]) if options["log"] else None
        if path is not None and not path.is_file():
            raise CommandError(f"--log: {path} is not a file.")
        try:
            replay = erasures_replay(path=path)
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"The erasure log is malformed: {exc}") from exc
        self.stdout.write(json.dumps(dataclasses.asdict(replay)))
        if replay.still_staying:
            raise CommandError(
                "Restored residents still stay or hold a running contract: "
                f"{', '.join(map(str, replay.still_staying))}. Record the exit, "
                "then run this again."
            )
