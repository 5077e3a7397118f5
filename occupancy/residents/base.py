"""What every write on residents stands on: how a refusal is said and raised,
which constraint an integrity error names, the day checks default to, and the
agreement lock the writes take first (before the space or the occupant, in the
agreement services' order).

Messages are marked for translation here and translated when raised, in the
language of the request.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from config.api import CONSTRAINT_ERRORS
from config.errors import DomainError
from occupancy.models import (
    Agreement,
)

# The API answers these constraint violations with a 409 on the field at fault
# (config/api.py); the writes of this package catch the ones a user can hit first.
# The messages stay lazy, translated per response.
_CONSTRAINTS = (
    (
        "stay_one_at_a_time_per_occupant",
        "occupant",
        gettext_noop("This occupant already has a stay over these dates."),
    ),
    (
        "stay_emergency_no_planned_end",
        "exit",
        gettext_noop("An emergency shelter stay has no planned end (CASF L.345-2-3)."),
    ),
    (
        "stay_exit_recorded",
        "destination",
        gettext_noop("An exit records the date and where the person went."),
    ),
    (
        "occupant_pseudonym_unique",
        "local_identifier",
        gettext_noop("This operator already registered this resident."),
    ),
    (
        "space_name_unique",
        "name",
        gettext_noop("This building already has a space of that name."),
    ),
    (
        "residence_dates_ordered",
        "initial_end",
        gettext_noop("A residence contract ends after it starts."),
    ),
)
CONSTRAINT_ERRORS.update(
    {
        name: (field, cast(str, gettext_lazy(message)))
        for name, field, message in _CONSTRAINTS
    }
)


# --- Messages (translated when raised) ----------------------------------------------
KEY_MISSING = (
    "RESIDENT_PSEUDONYM_KEY is missing or shorter than 32 characters: residents "
    "cannot be pseudonymised. Set it in the environment (or a file named by "
    "RESIDENT_PSEUDONYM_KEY_FILE), for example to the output of "
    "python -c 'import secrets; print(secrets.token_hex(32))'"
)
IDENTIFIER_EMPTY = gettext_noop("The operator's file number is empty.")
NOT_AN_OPERATOR = gettext_noop("Only an operator registers residents.")
PERSON_HOUSEHOLD_SIZE = gettext_noop("A person alone has a household size of 1.")
HOSTED_ORGANIZATION_REQUIRED = gettext_noop(
    "A hosted organization occupant names the organization, and only it does."
)
L345_ONLY_FOR_PEOPLE = gettext_noop(
    "Only a person or a household can be homeless in distress."
)
CAPACITY_BELOW_USE = gettext_noop(
    "{used} places are already taken on {night} in this space: the capacity cannot "
    "drop to {capacity}."
)
INSPECTION_OTHER_BUILDING = gettext_noop("The space is not in the inspected building.")
INSPECTION_IN_FUTURE = gettext_noop(
    "An inspection is recorded once it has taken place."
)
AGREEMENT_NOT_ACTIVE = gettext_noop("Stays start only under an active agreement.")
OCCUPANT_OTHER_OPERATOR = gettext_noop(
    "The occupant is registered by another operator."
)
SPACE_OTHER_BUILDING = gettext_noop("The space is not in the agreement's building.")
SPACE_NOT_COVERED = gettext_noop(
    "The agreement does not cover this space over these dates."
)
OUTSIDE_AGREEMENT = gettext_noop("The dates fall outside the agreement's period.")
SLEEPING_NOT_ALLOWED = gettext_noop(
    "The agreement does not allow sleeping on the premises."
)
NO_SAFETY_OPINION = gettext_noop(
    "A space used for sleeping or open to the public needs a favourable safety "
    "commission opinion before anyone enters it."
)
EMERGENCY_NO_END = gettext_noop(
    "An emergency shelter stay has no planned end (CASF L.345-2-3): record the exit "
    "when it happens."
)
EXIT_NOT_AFTER_ENTRY = gettext_noop(
    "The exit comes after the entry: a stay lasts at least one night (a same-day "
    "departure is not a stay)."
)
EXIT_PLANNED_IN_PAST = gettext_noop(
    "A planned exit is still to come: record an exit that has happened, with "
    "where the person went."
)
EXIT_IN_FUTURE = gettext_noop(
    "An exit is recorded once it has happened; plan it instead."
)
DESTINATION_REQUIRED = gettext_noop("Record where the person went (or 'unknown').")
CAPACITY_EXCEEDED = gettext_noop(
    "The space has {capacity} places and {used} are taken on {night}: {places} more "
    "do not fit."
)
HOUSEHOLD_DOES_NOT_FIT = gettext_noop(
    "The household's stay would take {places} places, but its space has "
    "{capacity} places and the other stays take {used} of them on {night}."
)
STAYS_BUSY = gettext_noop(
    "Another change to this resident's stay, its agreement or its space is under "
    "way: try again."
)
OCCUPANT_BUSY = gettext_noop("This occupant already has a stay over these dates.")
STAY_TRANSITION = gettext_noop("A stay cannot move from {old} to {new}.")
MOVE_SAME_SPACE = gettext_noop("A move goes to another space.")
ANONYMISED = gettext_noop(
    "This occupant was anonymised at the end of the retention period: it can no "
    "longer be changed."
)
ERASED = gettext_noop("This occupant's record was erased.")
ERASE_ONGOING = gettext_noop(
    "This resident still stays or holds a running contract: record the exit and "
    "end the contract before erasing the record."
)

CONTRACT_NOT_ELAN = gettext_noop(
    "Residence contracts exist only under an ELAN art. 29 agreement (loi 2018-1021)."
)
CONTRACT_AGREEMENT_NOT_ACTIVE = gettext_noop("The ELAN agreement is not active.")
CONTRACT_NOT_A_RESIDENT = gettext_noop(
    "A residence contract is made with a person or household."
)
CONTRACT_START_OUTSIDE = gettext_noop(
    "The contract starts within the agreement's period."
)
CONTRACT_TOO_SHORT = gettext_noop(
    "The initial duration is at least {months} months (décret 2019-497): end on or "
    "after {earliest}."
)
CONTRACT_TOO_LONG = gettext_noop(
    "A residence contract lasts {months} months at most, renewals included "
    "(décret 2019-497): end on or before {latest}."
)
CONTRACT_BEYOND_AGREEMENT = gettext_noop(
    "The contract cannot outlast the agreement, which ends on {end}."
)
FEE_NEGATIVE = gettext_noop("The fee cannot be negative.")
FEE_CAP = gettext_noop(
    "The monthly fee, charges included, is capped at {cap} € (décret 2019-497{basis})."
)
FEE_CAP_L345 = gettext_noop(", CASF L.345-2-2 resident")
CONTRACT_OVERLAP = gettext_noop(
    "This occupant already has a residence contract over these dates."
)
CONTRACT_TRANSITION = gettext_noop(
    "A residence contract cannot move from {old} to {new}."
)
RENEWAL_NOT_LATER = gettext_noop("A renewal moves the term later than {end}.")
RENEWAL_EXHAUSTED = gettext_noop(
    "The contract has reached its maximum length: it cannot renew."
)
NOTICE_IN_FUTURE = gettext_noop("A notice is recorded once it has been given.")
NOTICE_BEFORE_START = gettext_noop("A notice is given after the contract starts.")
NON_RENEWAL_TOO_LATE = gettext_noop(
    "Non-renewal is notified at least {months} month(s) before the term "
    "(décret 2019-497): on or before {latest}."
)
BODY_TERMINATION_TOO_EARLY = gettext_noop(
    "The body may terminate only after the first {months} months (décret 2019-497), "
    "from {earliest}."
)
BODY_TERMINATION_REASON = gettext_noop(
    "Termination by the body needs a motivated cause: one stipulated in the contract "
    "or a breach of the resident's obligations."
)
BODY_NOTICE_TOO_SHORT = gettext_noop(
    "Termination by the body takes effect {months} month(s) after the notice at the "
    "earliest (décret 2019-497): on or after {earliest}."
)
RESIDENT_NOTICE_TOO_SHORT = gettext_noop(
    "The resident's notice is {days} days (décret 2019-497): effective on or after "
    "{earliest}."
)
EFFECTIVE_AFTER_TERM = gettext_noop(
    "The notice takes effect by the current term ({end}); after it, the contract "
    "simply ends."
)
END_NOT_AT_TERM = gettext_noop("Without notice, a contract ends at its term, {end}.")
END_OUTSIDE_NOTICE = gettext_noop(
    "After a notice the contract ends between {notice} and {effective}."
)
END_GROUND_UNKNOWN = gettext_noop(
    "Unknown ground “{ground}”: term, notice or death_or_abandonment."
)
END_OUTSIDE_CONTRACT = gettext_noop(
    "The end date falls outside the contract ({start}–{end})."
)


def error(message: str, *, field: str | None = None, **values: object) -> DomainError:
    return DomainError(_(message).format(**values), field=field)


def localdate_or(today: date | None) -> date:
    """``today`` when a caller (a test, a backfill) gives it, else the local date."""
    return today if today is not None else timezone.localdate()


def constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def locked_agreement(agreement: Agreement) -> Agreement:
    """The agreement row, locked first as the agreement services lock it; NO KEY
    UPDATE leaves other rows free to reference it."""
    return Agreement.objects.select_for_update(no_key=True).get(pk=agreement.pk)
