"""Export everything held on one resident, as JSON (GDPR art. 15, right of access).

The resident is named by the operator's own file number, turned into the
pseudonym on the way in; pass ``-`` to read it from standard input and keep it out
of the shell history::

    manage.py export_occupant --operator 12 --identifier - < file-number.txt
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import DomainError
from occupancy.residents import access_export, occupant_find
from organizations.models import Organization

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Print, as JSON, a resident's record, stays, contracts and their history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--operator", type=int, required=True, help="Operator id.")
        parser.add_argument(
            "--identifier",
            required=True,
            help="The operator's file number for the resident ('-': read stdin).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        operator = Organization.objects.filter(pk=options["operator"]).first()
        if operator is None:
            raise CommandError(f"No organization with id {options['operator']}.")
        identifier = options["identifier"]
        if identifier == "-":
            identifier = sys.stdin.readline()
        try:
            occupant = occupant_find(operator=operator, local_identifier=identifier)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if occupant is None:
            raise CommandError("This operator has no resident with that file number.")
        # An access to resident data is itself logged, by id, never by content.
        logger.info("access export of occupant %s", occupant.pk)
        self.stdout.write(json.dumps(access_export(occupant=occupant), indent=2))
