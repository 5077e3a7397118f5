"""The resident a GDPR command acts on, named by the operator's own file number.

The number is turned into the pseudonym on the way in; ``-`` reads it from standard
input, to keep it out of the shell history.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.errors import DomainError
from occupancy.models import Occupant
from occupancy.residents import access_record, occupant_find
from organizations.models import Organization


def add_resident_arguments(parser: CommandParser) -> None:
    parser.add_argument("--operator", type=int, required=True, help="Operator id.")
    parser.add_argument(
        "--identifier",
        required=True,
        help="The operator's file number for the resident ('-': read stdin).",
    )


def resident_from(options: dict[str, Any], *, command: str) -> Occupant:
    """The resident the options name; the read is logged (reliability.md §H3)."""
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
    access_record(user=None, channel=f"command:{command}", occupant_ids=[occupant.pk])
    return occupant
