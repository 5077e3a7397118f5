"""Erase one resident on request (GDPR art. 17, or an objection under art. 21).

The resident is named as for ``export_occupant`` (``-`` reads the file number from
standard input). The record goes as the retention purge would take it two years
later, by OCCUPANCY_RULES["retention_mode"]: anonymised with its stays kept for
statistics, or deleted; contracts and history are deleted either way. Refused while
the resident still stays or holds a running contract::

    manage.py erase_occupant --operator 12 --identifier - < file-number.txt
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from occupancy.management.commands._resident import (
    add_resident_arguments,
    resident_from,
)
from occupancy.residents import occupant_erase


class Command(BaseCommand):
    help = "Erase one resident on request: anonymise or delete, history included."

    def add_arguments(self, parser: CommandParser) -> None:
        add_resident_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        occupant = resident_from(options, command="erase_occupant")
        try:
            erased = occupant_erase(occupant=occupant)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(dataclasses.asdict(erased)))
