"""Export everything held on one resident, as JSON (GDPR art. 15, right of access).

The resident is named by the operator's own file number, turned into the
pseudonym on the way in; pass ``-`` to read it from standard input and keep it out
of the shell history::

    manage.py export_occupant --operator 12 --identifier - < file-number.txt
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from occupancy.management.commands._resident import (
    add_resident_arguments,
    resident_from,
)
from occupancy.residents import access_export

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Print, as JSON, a resident's record, stays, contracts and their history."

    def add_arguments(self, parser: CommandParser) -> None:
        add_resident_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        occupant = resident_from(options, command="export_occupant")
        # An access to resident data is itself logged, by id, never by content.
        logger.info("access export of occupant %s", occupant.pk)
        self.stdout.write(json.dumps(access_export(occupant=occupant), indent=2))
