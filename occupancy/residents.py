"""Writes on spaces, safety inspections, pseudonymous occupants, stays and ELAN
residence contracts, plus the two GDPR duties on them: the retention purge and the
right of access (reference/domain.md §B.4, §B.5, §C.4, §C.5, §D.3, §D.4, §F).

Every function is keyword-only and atomic. Writers that race (two stays for the
last place of a room, a capacity cut while a stay starts) lock the space row first;
"one stay at a time per occupant" is an exclusion constraint, turned into a
``Conflict`` on the ``occupant`` field. Every row written here is audited by the
pghistory triggers of occupancy/models.py, whatever the write path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, cast

import pghistory
import pghistory.models
import pgtrigger
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import DateField, Exists, Func, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from buildings.models import Building
from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, DomainError, InvalidTransition
from occupancy.models import (
    AgeBand,
    Agreement,
    AgreementSpace,
    AgreementStatus,
    ExitDestination,
    InspectionKind,
    InspectionResult,
    Occupant,
    OccupantKind,
    Regime,
    ResidenceContract,
    ResidenceStatus,
    SafetyInspection,
    Space,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.rules import add_months, rules
from organizations.models import Organization, OrganizationKind

logger = logging.getLogger(__name__)

# The API answers these constraint violations with a 409 on the field at fault
# (config/api.py); the services below catch the ones a user can hit first. The
# messages stay lazy, translated per response.
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
EXIT_IN_FUTURE = gettext_noop(
    "An exit is recorded once it has happened; plan it instead."
)
DESTINATION_REQUIRED = gettext_noop("Record where the person went (or 'unknown').")
CAPACITY_EXCEEDED = gettext_noop(
    "The space has {capacity} places and {used} are taken on {night}: {places} more "
    "do not fit."
)
OCCUPANT_BUSY = gettext_noop("This occupant already has a stay over these dates.")
STAY_TRANSITION = gettext_noop("A stay cannot move from {old} to {new}.")
MOVE_SAME_SPACE = gettext_noop("A move goes to another space.")
ANONYMISED = gettext_noop("This occupant's data was purged.")

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


def _error(message: str, *, field: str | None = None, **values: object) -> DomainError:
    return DomainError(_(message).format(**values), field=field)


def _today(today: date | None) -> date:
    return today if today is not None else timezone.localdate()


# --- Pseudonyms ---------------------------------------------------------------------
def pseudonym_for(*, operator_id: int, local_identifier: str) -> str:
    """HMAC-SHA256 of ``"{operator_id}:{identifier}"`` with RESIDENT_PSEUDONYM_KEY, hex.

    The operator's own file number never reaches the database: only this keyed hash
    does, so a leaked table cannot be matched back to people without the key, which
    lives outside the database and its backups (GDPR art. 4(5), art. 32; CNIL on
    SI-SIAO, domain.md §F.3). The operator id in the message keeps two operators'
    file numbers from colliding.
    """
    key = settings.RESIDENT_PSEUDONYM_KEY
    if len(key) < 32:
        raise ImproperlyConfigured(KEY_MISSING)
    identifier = local_identifier.strip()
    if not identifier:
        raise _error(IDENTIFIER_EMPTY, field="local_identifier")
    message = f"{operator_id}:{identifier}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


# --- Spaces and safety ----------------------------------------------------------------
class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


def space_create(
    *,
    building: Building,
    name: str,
    kind: str,
    use: str,
    capacity: int,
    floor: int | None = None,
    surface_m2: Decimal | None = None,
) -> Space:
    space = Space(
        building=building,
        name=name,
        kind=kind,
        use=use,
        capacity=capacity,
        floor=floor,
        surface_m2=surface_m2,
    )
    space.full_clean()
    with transaction.atomic():
        space.save()
    return space


def space_update(
    *,
    space: Space,
    name: str | None = None,
    kind: str | None = None,
    use: str | None = None,
    capacity: int | None = None,
    floor: int | _Unset | None = UNSET,
    surface_m2: Decimal | _Unset | None = UNSET,
    today: date | None = None,
) -> Space:
    """Change a space; a capacity cut never over-fills tonight or a later night."""
    with transaction.atomic():
        # The same lock as stay_start: a stay cannot slip in while the cut is checked.
        space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
        required = {"name": name, "kind": kind, "use": use, "capacity": capacity}
        changes: dict[str, object] = {
            field: value for field, value in required.items() if value is not None
        }
        # floor and surface may be cleared: None is a value for them.
        if floor is not UNSET:
            changes["floor"] = floor
        if surface_m2 is not UNSET:
            changes["surface_m2"] = surface_m2
        for field, value in changes.items():
            setattr(space, field, value)
        if capacity is not None:
            # Past nights keep the figures they had; the cut applies from today.
            night, used = _busiest_night(
                space_id=space.pk, nights=DateRange(_today(today), None)
            )
            if used > capacity:
                raise _error(
                    CAPACITY_BELOW_USE,
                    field="capacity",
                    used=used,
                    night=night,
                    capacity=capacity,
                )
        space.full_clean()
        space.save(update_fields=[*changes, "updated_at"])
    return space


def safety_inspection_record(
    *,
    building: Building,
    kind: str,
    date: date,
    result: str,
    space: Space | None = None,
    max_headcount: int | None = None,
    today: date | None = None,
) -> SafetyInspection:
    if space is not None and space.building_id != building.pk:
        raise _error(INSPECTION_OTHER_BUILDING, field="space")
    if date > _today(today):
        raise _error(INSPECTION_IN_FUTURE, field="date")
    inspection = SafetyInspection(
        building=building,
        space=space,
        kind=kind,
        date=date,
        result=result,
        max_headcount=max_headcount,
    )
    inspection.full_clean()
    with transaction.atomic():
        inspection.save()
    return inspection


def safety_opinion_is_favourable(*, space: Space, on: date) -> bool:
    """The safety commission's latest opinion on ``on``: the space's own when it has
    one, else the building's (sleeping premises and ERPs open only after a favourable
    opinion, CCH R.123; domain.md §B.5)."""
    opinions = SafetyInspection.objects.filter(
        kind=InspectionKind.SAFETY_COMMISSION, date__lte=on
    ).order_by("-date", "-pk")
    latest = (
        opinions.filter(space=space).first()
        or opinions.filter(building_id=space.building_id, space__isnull=True).first()
    )
    return latest is not None and latest.result == InspectionResult.FAVOURABLE


# --- Occupants ------------------------------------------------------------------------
def occupant_register(
    *,
    operator: Organization,
    local_identifier: str,
    kind: str,
    category: str,
    household_size: int = 1,
    age_band: str = AgeBand.UNKNOWN,
    orientation_source: str = "",
    homeless_l345_2_2: bool = False,
    hosted_organization: Organization | None = None,
) -> Occupant:
    """The operator's resident for ``local_identifier``, created on first call.

    Registering twice returns the first row unchanged (rectification is
    ``occupant_update``), so a retried request or a re-import creates no duplicate.
    """
    if operator.kind != OrganizationKind.OPERATOR:
        raise _error(NOT_AN_OPERATOR, field="operator")
    pseudonym = pseudonym_for(
        operator_id=operator.pk, local_identifier=local_identifier
    )
    occupant = Occupant(
        operator=operator,
        pseudonym=pseudonym,
        kind=kind,
        category=category,
        household_size=household_size,
        age_band=age_band,
        orientation_source=orientation_source,
        homeless_l345_2_2=homeless_l345_2_2,
        hosted_organization=hosted_organization,
    )
    _occupant_check(occupant)
    occupant.full_clean(validate_constraints=False)
    with transaction.atomic():
        existing = Occupant.objects.filter(operator=operator, pseudonym=pseudonym)
        found = existing.first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                occupant.save()
        except IntegrityError as exc:
            # A concurrent registration of the same resident won the insert.
            if _constraint(exc) != "occupant_pseudonym_unique":
                raise
            return existing.get()
    return occupant


def occupant_find(*, operator: Organization, local_identifier: str) -> Occupant | None:
    pseudonym = pseudonym_for(
        operator_id=operator.pk, local_identifier=local_identifier
    )
    return Occupant.objects.filter(operator=operator, pseudonym=pseudonym).first()


def occupant_update(
    *,
    occupant: Occupant,
    category: str | None = None,
    household_size: int | None = None,
    age_band: str | None = None,
    orientation_source: str | None = None,
    homeless_l345_2_2: bool | None = None,
) -> Occupant:
    """Rectify an occupant's attributes (GDPR art. 16)."""
    changes = {
        "category": category,
        "household_size": household_size,
        "age_band": age_band,
        "orientation_source": orientation_source,
        "homeless_l345_2_2": homeless_l345_2_2,
    }
    with transaction.atomic():
        occupant = Occupant.objects.select_for_update(no_key=True).get(pk=occupant.pk)
        fields = [name for name, value in changes.items() if value is not None]
        for name in fields:
            setattr(occupant, name, changes[name])
        _occupant_check(occupant)
        occupant.full_clean(validate_constraints=False)
        occupant.save(update_fields=[*fields, "updated_at"])
    return occupant


def _occupant_check(occupant: Occupant) -> None:
    if occupant.kind == OccupantKind.PERSON and occupant.household_size != 1:
        raise _error(PERSON_HOUSEHOLD_SIZE, field="household_size")
    is_organization = occupant.kind == OccupantKind.ORGANIZATION
    if is_organization != (occupant.hosted_organization_id is not None):
        raise _error(HOSTED_ORGANIZATION_REQUIRED, field="hosted_organization")
    if is_organization and occupant.homeless_l345_2_2:
        raise _error(L345_ONLY_FOR_PEOPLE, field="homeless_l345_2_2")


# --- Stays ----------------------------------------------------------------------------
# domain.md §D.4. ORIENTED/ADMITTED/REFUSED stay in SI-SIAO (purpose limitation, §F.1).
STAY_TRANSITIONS: dict[str, frozenset[str]] = {
    StayStatus.ACTIVE: frozenset({StayStatus.EXIT_PLANNED, StayStatus.EXITED}),
    StayStatus.EXIT_PLANNED: frozenset(
        {StayStatus.ACTIVE, StayStatus.EXIT_PLANNED, StayStatus.EXITED}
    ),
    StayStatus.EXITED: frozenset(),
}

# The busiest night of a space over a range. Occupancy only rises on a stay's entry
# night, so the maximum over the range is reached on its first night or on the entry
# of a stay starting inside it: one query, no day-by-day series even for an open end.
# Every stay counts for the nights its period covers, exited ones included.
_BUSIEST_NIGHT_SQL = """
SELECT night, SUM(s.places)::int AS used
FROM (
    SELECT lower(%(nights)s::daterange) AS night
    UNION
    SELECT lower(period) FROM occupancy_stay
    WHERE space_id = %(space)s AND period && %(nights)s::daterange
      AND lower(period) > lower(%(nights)s::daterange)
) AS candidates
JOIN occupancy_stay s
  ON s.space_id = %(space)s AND s.period @> candidates.night AND s.id <> %(exclude)s
GROUP BY night
ORDER BY used DESC, night
LIMIT 1
"""


def _busiest_night(
    *, space_id: int, nights: DateRange, exclude_stay_id: int | None = None
) -> tuple[date | None, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            _BUSIEST_NIGHT_SQL,
            {"space": space_id, "nights": nights, "exclude": exclude_stay_id or 0},
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, 0)


def _check_capacity(
    *, space: Space, nights: DateRange, places: int, exclude_stay_id: int | None = None
) -> None:
    """Refuse ``places`` more in ``space`` over ``nights``. The caller holds the lock
    on the space row, so two writers never both see the last free place."""
    night, used = _busiest_night(
        space_id=space.pk, nights=nights, exclude_stay_id=exclude_stay_id
    )
    if used + places > space.capacity:
        raise Conflict(
            _(CAPACITY_EXCEEDED).format(
                capacity=space.capacity,
                used=used,
                night=night or nights.lower,
                places=places,
            ),
            field="places",
        )


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def _occupant_free() -> Iterator[None]:
    """Turn the "one stay at a time" exclusion violation into a field error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if _constraint(exc) != "stay_one_at_a_time_per_occupant":
            raise
        raise Conflict(_(OCCUPANT_BUSY), field="occupant") from exc


def _check_stay_dates(
    *, agreement: Agreement, space: Space, entry: date, exit: date | None
) -> None:
    if exit is not None and exit <= entry:
        raise _error(EXIT_NOT_AFTER_ENTRY, field="exit")
    period = agreement.period
    if entry < period.lower or entry >= period.upper:
        raise _error(OUTSIDE_AGREEMENT, field="entry")
    if exit is not None and exit > period.upper:
        raise _error(OUTSIDE_AGREEMENT, field="exit")
    covered = DateRange(entry, exit) if exit is not None else entry
    if not AgreementSpace.objects.filter(
        agreement=agreement, space=space, period__contains=covered
    ).exists():
        raise _error(SPACE_NOT_COVERED, field="space")


def stay_start(
    *,
    occupant: Occupant,
    space: Space,
    agreement: Agreement,
    entry: date,
    structure_type: str,
    places: int | None = None,
    exit: date | None = None,
) -> Stay:
    """An occupant enters a space under an active agreement.

    ``exit`` is a planned exit; emergency shelter has none (unconditional and
    continuous shelter, CASF L.345-2-2 and L.345-2-3).
    """
    with transaction.atomic():
        # Locks in the agreement services' order (agreement, then spaces), so a
        # stay never slips into an agreement being suspended or closed, and two
        # stays never share the last place. NO KEY UPDATE leaves other rows free
        # to reference these (the stay's own foreign keys included).
        agreement = _locked_agreement(agreement)
        space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
        if occupant.anonymised_at is not None:
            raise _error(ANONYMISED, field="occupant")
        if agreement.status != AgreementStatus.ACTIVE:
            raise _error(AGREEMENT_NOT_ACTIVE, field="agreement")
        if occupant.operator_id != agreement.operator_id:
            raise _error(OCCUPANT_OTHER_OPERATOR, field="occupant")
        if space.building_id != agreement.building_id:
            raise _error(SPACE_OTHER_BUILDING, field="space")
        if structure_type == StructureType.EMERGENCY and exit is not None:
            raise _error(EMERGENCY_NO_END, field="exit")
        _check_stay_dates(agreement=agreement, space=space, entry=entry, exit=exit)
        if space.use == SpaceUse.SLEEPING and not agreement.sleeping_allowed:
            raise _error(SLEEPING_NOT_ALLOWED, field="space")
        if space.use in (SpaceUse.SLEEPING, SpaceUse.PUBLIC) and not (
            safety_opinion_is_favourable(space=space, on=entry)
        ):
            raise _error(NO_SAFETY_OPINION, field="space")
        stay = Stay(
            occupant=occupant,
            space=space,
            agreement=agreement,
            period=DateRange(entry, exit),
            places=places if places is not None else occupant.household_size,
            structure_type=structure_type,
            status=StayStatus.EXIT_PLANNED if exit is not None else StayStatus.ACTIVE,
        )
        stay.full_clean(validate_constraints=False)
        _check_capacity(space=space, nights=stay.period, places=stay.places)
        with _occupant_free():
            stay.save()
    return stay


def _locked_agreement(agreement: Agreement) -> Agreement:
    return Agreement.objects.select_for_update(no_key=True).get(pk=agreement.pk)


def _transition(stay: Stay, new: str) -> None:
    if new not in STAY_TRANSITIONS[stay.status]:
        raise InvalidTransition(
            _(STAY_TRANSITION).format(old=stay.status, new=new), field="status"
        )


def _extend(*, stay: Stay, new_period: DateRange) -> None:
    """Check the nights a stay gains when its end moves later (space row locked)."""
    old_end, new_end = stay.period.upper, new_period.upper
    if old_end is None or (new_end is not None and new_end <= old_end):
        return
    space = Space.objects.select_for_update(no_key=True).get(pk=stay.space_id)
    _check_capacity(
        space=space,
        nights=DateRange(old_end, new_end),
        places=stay.places,
        exclude_stay_id=stay.pk,
    )


def stay_plan_exit(*, stay: Stay, exit_date: date | None) -> Stay:
    """Plan (or with ``None`` cancel) an exit; the stay goes on until ``stay_exit``."""
    with transaction.atomic():
        stay = (
            Stay.objects.select_related("agreement")
            .select_for_update(no_key=True, of=("self",))
            .get(pk=stay.pk)
        )
        new = StayStatus.EXIT_PLANNED if exit_date is not None else StayStatus.ACTIVE
        _transition(stay, new)
        if exit_date is not None:
            if stay.structure_type == StructureType.EMERGENCY:
                raise _error(EMERGENCY_NO_END, field="exit_date")
            _check_stay_dates(
                agreement=stay.agreement,
                space=stay.space,
                entry=stay.period.lower,
                exit=exit_date,
            )
        new_period = DateRange(stay.period.lower, exit_date)
        _extend(stay=stay, new_period=new_period)
        stay.period = new_period
        stay.status = new
        stay.full_clean(validate_constraints=False)
        with _occupant_free():
            stay.save(update_fields=["period", "status", "updated_at"])
    return stay


def stay_exit(
    *, stay: Stay, exit_date: date, destination: str, today: date | None = None
) -> Stay:
    """Record an exit: the only way any stay ends (no automatic end, CASF L.345-2-3)."""
    if destination not in ExitDestination.values:  # "" included
        raise _error(DESTINATION_REQUIRED, field="destination")
    if exit_date > _today(today):
        raise _error(EXIT_IN_FUTURE, field="exit_date")
    with transaction.atomic():
        stay = Stay.objects.select_for_update(no_key=True).get(pk=stay.pk)
        _transition(stay, StayStatus.EXITED)
        if exit_date <= stay.period.lower:
            raise _error(EXIT_NOT_AFTER_ENTRY, field="exit_date")
        new_period = DateRange(stay.period.lower, exit_date)
        _extend(stay=stay, new_period=new_period)
        stay.period = new_period
        stay.status = StayStatus.EXITED
        stay.exit_destination = destination
        stay.full_clean(validate_constraints=False)
        with _occupant_free():
            stay.save(
                update_fields=["period", "status", "exit_destination", "updated_at"]
            )
    return stay


def stay_move(
    *,
    stay: Stay,
    space: Space,
    on: date,
    agreement: Agreement | None = None,
    places: int | None = None,
    structure_type: str | None = None,
    today: date | None = None,
) -> Stay:
    """Move an occupant to another space on ``on``: one stay ends, the next starts
    the same day, so no night is lost or counted twice.

    The ended stay records ``internal_move``; the indicators recognise a move by its
    continuity (an entry on the day of the same occupant's exit) and count neither
    an exit nor an entry.
    """
    if space.pk == stay.space_id:
        raise _error(MOVE_SAME_SPACE, field="space")
    with transaction.atomic():
        current = Stay.objects.select_related("occupant", "agreement").get(pk=stay.pk)
        stay_exit(
            stay=current,
            exit_date=on,
            destination=ExitDestination.INTERNAL_MOVE,
            today=today,
        )
        return stay_start(
            occupant=current.occupant,
            space=space,
            agreement=agreement or current.agreement,
            entry=on,
            places=places if places is not None else current.places,
            structure_type=structure_type or current.structure_type,
        )


# --- ELAN residence contracts ---------------------------------------------------------
class BodyTerminationReason(StrEnum):
    """The two grounds on which the body may end a contract early (décret 2019-497)."""

    STIPULATED_CAUSE = "stipulated_cause"
    RESIDENT_BREACH = "resident_breach"


class ContractEndGround(StrEnum):
    TERM = "term"
    NOTICE = "notice"
    # The contract ends; a spouse, PACS partner or cohabitant living there keeps the
    # right of use until the term, under a contract of their own (décret 2019-497).
    DEATH_OR_ABANDONMENT = "death_or_abandonment"


_R = ResidenceStatus
RESIDENCE_TRANSITIONS: dict[str, frozenset[str]] = {
    _R.ACTIVE: frozenset({_R.ACTIVE, _R.NOTICE_GIVEN, _R.ENDED}),  # ACTIVE: renewal
    _R.NOTICE_GIVEN: frozenset({_R.ENDED}),
    _R.ENDED: frozenset(),
}


def _contract_transition(contract: ResidenceContract, new: str) -> None:
    if new not in RESIDENCE_TRANSITIONS[contract.status]:
        raise InvalidTransition(
            _(CONTRACT_TRANSITION).format(old=contract.status, new=new),
            field="status",
        )


def _check_fee(*, occupant: Occupant, monthly_fee: Decimal) -> None:
    if monthly_fee < 0:
        raise _error(FEE_NEGATIVE, field="monthly_fee")
    cap = (
        rules().residence_fee_cap_homeless
        if occupant.homeless_l345_2_2
        else rules().residence_fee_cap
    )
    if monthly_fee > cap:
        basis = _(FEE_CAP_L345) if occupant.homeless_l345_2_2 else ""
        raise _error(FEE_CAP, field="monthly_fee", cap=cap, basis=basis)


def _check_term(*, contract: ResidenceContract, end: date, field: str) -> None:
    """``end`` within the 18-month total and the agreement."""
    longest = rules().residence_max_months
    latest = add_months(contract.start, longest)
    if end > latest:
        raise _error(
            CONTRACT_TOO_LONG, field=field, months=longest, latest=latest.isoformat()
        )
    # The body returns the premises free of any occupant at the agreement's term
    # (loi ELAN art. 29 III), so no contract runs past it.
    if end > contract.agreement.period.upper:
        raise _error(
            CONTRACT_BEYOND_AGREEMENT,
            field=field,
            end=contract.agreement.period.upper.isoformat(),
        )


def residence_contract_create(
    *,
    agreement: Agreement,
    occupant: Occupant,
    start: date,
    initial_end: date,
    monthly_fee: Decimal,
) -> ResidenceContract:
    """A temporary-residence contract (loi ELAN art. 29, décret 2019-497).

    The fee is a single monthly amount, charges included (water, energy, heating):
    the schema has no separate charge line, so none can be added on top.
    """
    with transaction.atomic():
        # Agreement first, as the agreement services lock it: no contract starts
        # while the agreement is being suspended or closed. The occupant lock
        # serialises one resident's contracts, so two overlapping ones never commit.
        agreement = _locked_agreement(agreement)
        occupant = Occupant.objects.select_for_update(no_key=True).get(pk=occupant.pk)
        if agreement.regime != Regime.ELAN_ART29:
            raise _error(CONTRACT_NOT_ELAN, field="agreement")
        if agreement.status != AgreementStatus.ACTIVE:
            raise _error(CONTRACT_AGREEMENT_NOT_ACTIVE, field="agreement")
        if occupant.operator_id != agreement.operator_id:
            raise _error(OCCUPANT_OTHER_OPERATOR, field="occupant")
        if occupant.kind == OccupantKind.ORGANIZATION or occupant.anonymised_at:
            raise _error(CONTRACT_NOT_A_RESIDENT, field="occupant")
        if not agreement.period.lower <= start < agreement.period.upper:
            raise _error(CONTRACT_START_OUTSIDE, field="start")
        shortest = rules().residence_min_months
        earliest = add_months(start, shortest)
        if initial_end < earliest:
            raise _error(
                CONTRACT_TOO_SHORT,
                field="initial_end",
                months=shortest,
                earliest=earliest.isoformat(),
            )
        contract = ResidenceContract(
            agreement=agreement,
            occupant=occupant,
            start=start,
            initial_end=initial_end,
            current_end=initial_end,
            monthly_fee=monthly_fee,
            status=ResidenceStatus.ACTIVE,
        )
        _check_term(contract=contract, end=initial_end, field="initial_end")
        _check_fee(occupant=occupant, monthly_fee=monthly_fee)
        contract.full_clean()
        # A contract runs to its effective end once notice is given, else its term.
        overlapping = ResidenceContract.objects.annotate(
            runs_until=Coalesce("effective_end", "current_end")
        ).filter(occupant=occupant, start__lt=initial_end, runs_until__gt=start)
        if overlapping.exists():
            raise Conflict(_(CONTRACT_OVERLAP), field="occupant")
        contract.save()
    return contract


def _locked_contract(contract: ResidenceContract) -> ResidenceContract:
    return (
        ResidenceContract.objects.select_related("agreement", "occupant")
        .select_for_update(no_key=True, of=("self",))
        .get(pk=contract.pk)
    )


def _renewed_term(contract: ResidenceContract) -> date:
    """The term after renewing for the initial duration: in months when the initial
    duration is whole months (1 March → 1 September renews to 1 March), else days."""
    start, initial_end = contract.start, contract.initial_end
    months = (initial_end.year - start.year) * 12 + initial_end.month - start.month
    if add_months(start, months) == initial_end:
        return add_months(contract.current_end, months)
    return contract.current_end + (initial_end - start)


def residence_contract_renew(
    *, contract: ResidenceContract, new_end: date | None = None
) -> ResidenceContract:
    """Tacit renewal. Without ``new_end``, for the initial duration again, within the
    18-month total and the agreement's period."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.ACTIVE)
        if new_end is None:
            latest = min(
                add_months(contract.start, rules().residence_max_months),
                contract.agreement.period.upper,
            )
            new_end = min(_renewed_term(contract), latest)
            if new_end <= contract.current_end:
                raise _error(RENEWAL_EXHAUSTED, field="new_end")
        if new_end <= contract.current_end:
            raise _error(
                RENEWAL_NOT_LATER,
                field="new_end",
                end=contract.current_end.isoformat(),
            )
        _check_term(contract=contract, end=new_end, field="new_end")
        contract.current_end = new_end
        contract.full_clean()
        contract.save(update_fields=["current_end", "updated_at"])
    return contract


def _check_notice_date(
    contract: ResidenceContract, notice_date: date, today: date | None
) -> None:
    if notice_date > _today(today):
        raise _error(NOTICE_IN_FUTURE, field="notice_date")
    if notice_date < contract.start:
        raise _error(NOTICE_BEFORE_START, field="notice_date")


def _give_notice(
    contract: ResidenceContract, *, by: str, notice_date: date, effective_end: date
) -> ResidenceContract:
    contract.status = ResidenceStatus.NOTICE_GIVEN
    contract.notice_by = by
    contract.notice_date = notice_date
    contract.effective_end = effective_end
    contract.full_clean()
    contract.save(
        update_fields=[
            "status",
            "notice_by",
            "notice_date",
            "effective_end",
            "updated_at",
        ]
    )
    return contract


def residence_contract_notify_non_renewal(
    *, contract: ResidenceContract, notice_date: date, today: date | None = None
) -> ResidenceContract:
    """The body does not renew: notified at least one month before the term
    (registered letter or bailiff, décret 2019-497); the contract ends at term."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.NOTICE_GIVEN)
        _check_notice_date(contract, notice_date, today)
        months = rules().residence_notice_by_body_months
        latest = add_months(contract.current_end, -months)
        if notice_date > latest:
            raise _error(
                NON_RENEWAL_TOO_LATE,
                field="notice_date",
                months=months,
                latest=latest.isoformat(),
            )
        return _give_notice(
            contract,
            by="body",
            notice_date=notice_date,
            effective_end=contract.current_end,
        )


def residence_contract_terminate_by_body(
    *,
    contract: ResidenceContract,
    notice_date: date,
    effective_end: date,
    reason: BodyTerminationReason | str,
    today: date | None = None,
) -> ResidenceContract:
    """Early termination by the body: only after the first two months, on a
    motivated cause (stipulated in the contract, or the resident's breach), with
    one month's notice (décret 2019-497). The resident pays only for the time
    actually occupied during the notice."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.NOTICE_GIVEN)
        _check_notice_date(contract, notice_date, today)
        if reason not in BodyTerminationReason.__members__.values():
            raise _error(BODY_TERMINATION_REASON, field="reason")
        initial = rules().residence_min_months
        earliest_notice = add_months(contract.start, initial)
        if notice_date < earliest_notice:
            raise _error(
                BODY_TERMINATION_TOO_EARLY,
                field="notice_date",
                months=initial,
                earliest=earliest_notice.isoformat(),
            )
        months = rules().residence_notice_by_body_months
        earliest = add_months(notice_date, months)
        if effective_end < earliest:
            raise _error(
                BODY_NOTICE_TOO_SHORT,
                field="effective_end",
                months=months,
                earliest=earliest.isoformat(),
            )
        if effective_end > contract.current_end:
            raise _error(
                EFFECTIVE_AFTER_TERM,
                field="effective_end",
                end=contract.current_end.isoformat(),
            )
        # The motive is held in the body's registered letter: the schema keeps no
        # free text on residents (domain.md §F.2).
        logger.info("residence contract %s: body termination (%s)", contract.pk, reason)
        return _give_notice(
            contract, by="body", notice_date=notice_date, effective_end=effective_end
        )


def residence_contract_terminate_by_resident(
    *,
    contract: ResidenceContract,
    notice_date: date,
    effective_end: date,
    today: date | None = None,
) -> ResidenceContract:
    """The resident leaves at any time with 15 days' notice (décret 2019-497)."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.NOTICE_GIVEN)
        _check_notice_date(contract, notice_date, today)
        notice_days = rules().residence_notice_by_resident_days
        earliest = notice_date + timedelta(days=notice_days)
        if effective_end < earliest:
            raise _error(
                RESIDENT_NOTICE_TOO_SHORT,
                field="effective_end",
                days=notice_days,
                earliest=earliest.isoformat(),
            )
        if effective_end > contract.current_end:
            raise _error(
                EFFECTIVE_AFTER_TERM,
                field="effective_end",
                end=contract.current_end.isoformat(),
            )
        return _give_notice(
            contract,
            by="resident",
            notice_date=notice_date,
            effective_end=effective_end,
        )


def residence_contract_end(
    *,
    contract: ResidenceContract,
    end_date: date,
    ground: ContractEndGround | str,
) -> ResidenceContract:
    """Close a contract: at its term, when a notice runs out (the resident may leave
    earlier during it), or on the resident's death or abandonment."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.ENDED)
        if ground == ContractEndGround.TERM:
            if end_date != contract.current_end:
                raise _error(
                    END_NOT_AT_TERM,
                    field="end_date",
                    end=contract.current_end.isoformat(),
                )
        elif ground == ContractEndGround.NOTICE:
            notice, effective = contract.notice_date, contract.effective_end
            if notice is None or effective is None:
                raise InvalidTransition(
                    _(CONTRACT_TRANSITION).format(
                        old=contract.status, new=ResidenceStatus.ENDED
                    ),
                    field="ground",
                )
            if not notice <= end_date <= effective:
                raise _error(
                    END_OUTSIDE_NOTICE,
                    field="end_date",
                    notice=notice.isoformat(),
                    effective=effective.isoformat(),
                )
        elif ground == ContractEndGround.DEATH_OR_ABANDONMENT:
            if not contract.start < end_date <= contract.current_end:
                raise _error(
                    END_OUTSIDE_CONTRACT,
                    field="end_date",
                    start=contract.start.isoformat(),
                    end=contract.current_end.isoformat(),
                )
        else:
            raise _error(END_GROUND_UNKNOWN, field="ground", ground=ground)
        contract.status = ResidenceStatus.ENDED
        contract.effective_end = end_date
        contract.full_clean()
        contract.save(update_fields=["status", "effective_end", "updated_at"])
    return contract


# --- Retention (GDPR art. 5(1)(e); CNIL: 2 years after the last contact) --------------
# Resident-level rows are deleted, not anonymised in place: a stay or contract
# stripped of its occupant would still carry dates, space and destination, enough to
# single out a person in a small site, and nothing here needs it once the retention
# period is over (domain.md §F.6; reliability.md §I4). Their audit history goes too:
# an append-only trail that outlives the data it traces would keep the data.
_PURGED_TRACKERS = ("Occupant", "Stay", "ResidenceContract")


@dataclass(frozen=True)
class PurgeReport:
    cutoff: date
    occupants: int
    stays: int
    contracts: int
    events: int
    contexts: int
    dry_run: bool


def purge_cutoff(*, today: date) -> date:
    return add_months(today, -12 * rules().retention_years)


def purge_candidates(*, today: date) -> list[int]:
    """Occupants whose last contact is older than the retention period and who
    hold no ongoing stay or contract. The last contact is the latest of their
    exits and contract ends, or their registration when they have neither."""
    ongoing_stay = Stay.objects.filter(
        occupant=OuterRef("pk"), status__in=[StayStatus.ACTIVE, StayStatus.EXIT_PLANNED]
    )
    ongoing_contract = ResidenceContract.objects.filter(
        occupant=OuterRef("pk")
    ).exclude(status=ResidenceStatus.ENDED)
    last_exit = (
        Stay.objects.filter(occupant=OuterRef("pk"))
        .values("occupant")
        .annotate(last=Max(Func("period", function="upper", output_field=DateField())))
        .values("last")
    )
    last_contract = (
        ResidenceContract.objects.filter(occupant=OuterRef("pk"))
        .values("occupant")
        .annotate(last=Max(Coalesce("effective_end", "current_end")))
        .values("last")
    )
    ids = (
        Occupant.objects.annotate(
            # PostgreSQL's GREATEST skips NULLs; registration counts only for an
            # occupant who never stayed nor signed.
            last_contact=Coalesce(
                Greatest(Subquery(last_exit), Subquery(last_contract)),
                TruncDate("created_at"),
            )
        )
        .filter(last_contact__lt=purge_cutoff(today=today))
        .exclude(Exists(ongoing_stay))
        .exclude(Exists(ongoing_contract))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(ids)


def _event_models() -> list[type[pghistory.models.Event]]:
    """Every concrete event table whose rows point at a context row."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event)
        and not model._meta.proxy
        and any(field.name == "pgh_context" for field in model._meta.get_fields())
    ]


def _contexts_in_use(context_ids: set[Any]) -> set[Any]:
    """The given contexts still referenced by an event of any app."""
    tables = [model._meta.db_table for model in _event_models()]
    if not context_ids or not tables:
        return set()
    # Table names come from the model registry, never from input.
    sql = " UNION ".join(
        f"SELECT pgh_context_id FROM {connection.ops.quote_name(table)} "  # noqa: S608
        "WHERE pgh_context_id = ANY(%s)"
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(context_ids)] * len(tables))
        return {row[0] for row in cursor.fetchall()}


def purge_residents(*, today: date, dry_run: bool = False) -> PurgeReport:
    """Delete every purgeable occupant with their stays, contracts and history.

    One transaction: the history triggers that would record the deletions, and the
    Protect triggers that keep the event tables append-only, are lifted for this
    transaction only (pgtrigger.ignore sets a transaction-local variable the
    triggers read), so no other writer ever sees an unprotected event table.
    """
    cutoff = purge_cutoff(today=today)
    event_models = {
        name: apps.get_model("occupancy", f"{name}Event") for name in _PURGED_TRACKERS
    }
    lifted = [f"occupancy.{name}:delete_delete" for name in _PURGED_TRACKERS] + [
        f"occupancy.{name}Event:append_only" for name in _PURGED_TRACKERS
    ]
    with transaction.atomic():
        # FOR UPDATE on the occupants conflicts with the key-share lock a new stay or
        # contract takes on them: none can start while the purge decides, and the
        # candidates are recomputed under the lock.
        locked = list(
            Occupant.objects.select_for_update()
            .filter(pk__in=purge_candidates(today=today))
            .values_list("pk", flat=True)
        )
        ids = sorted(set(purge_candidates(today=today)) & set(locked))
        stays = Stay.objects.filter(occupant_id__in=ids)
        contracts = ResidenceContract.objects.filter(occupant_id__in=ids)
        stay_ids = list(stays.values_list("pk", flat=True))
        contract_ids = list(contracts.values_list("pk", flat=True))
        # Events by object id and by occupant id: a stay deleted earlier (admin,
        # raw SQL) still names its occupant in its history.
        events = [
            event_models["Occupant"].objects.filter(pgh_obj_id__in=ids),
            event_models["Stay"].objects.filter(
                Q(pgh_obj_id__in=stay_ids) | Q(occupant_id__in=ids)
            ),
            event_models["ResidenceContract"].objects.filter(
                Q(pgh_obj_id__in=contract_ids) | Q(occupant_id__in=ids)
            ),
        ]
        context_ids = {
            context_id
            for queryset in events
            for context_id in queryset.exclude(pgh_context_id=None).values_list(
                "pgh_context_id", flat=True
            )
        }
        with pgtrigger.ignore(*lifted):
            contracts_deleted = contracts.delete()[0]
            stays_deleted = stays.delete()[0]
            occupants_deleted = Occupant.objects.filter(pk__in=ids).delete()[0]
            events_deleted = sum(queryset.delete()[0] for queryset in events)
        # A context (request id, user, URL) shared with events that remain stays:
        # it describes those writes too. One left without events goes.
        still_used = _contexts_in_use(context_ids)
        contexts_deleted = pghistory.models.Context.objects.filter(
            pk__in=context_ids - still_used
        ).delete()[0]
        report = PurgeReport(
            cutoff=cutoff,
            occupants=occupants_deleted,
            stays=stays_deleted,
            contracts=contracts_deleted,
            events=events_deleted,
            contexts=contexts_deleted,
            dry_run=dry_run,
        )
        if dry_run:
            transaction.set_rollback(True)
    # Counts only: the log of a purge must not keep what it purged.
    logger.info("resident purge %s", report)
    return report


# --- Right of access (GDPR art. 15) ---------------------------------------------------
RECIPIENTS = (
    gettext_noop(
        "the operator that registered the resident (controller of the site's data)"
    ),
    gettext_noop(
        "State services and funders receive aggregate indicators only, cells under "
        "{threshold} people suppressed; never this record"
    ),
)


def _jsonable(value: object) -> object:
    if isinstance(value, DateRange):
        return {
            "from": _jsonable(value.lower),
            "until": _jsonable(value.upper),
        }
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _rows(rows: Iterable[Mapping[str, object]]) -> list[dict[str, Any]]:
    return [{key: _jsonable(value) for key, value in row.items()} for row in rows]


def access_export(*, occupant: Occupant) -> dict[str, Any]:
    """Everything held on one occupant, history included, as JSON-ready data.

    Answers a right-of-access request (GDPR art. 15, within a month, art. 12(3)):
    the record, its stays and contracts, every audit event about them with the
    context of each write (who, which request), the recipients and the retention.
    """
    event_models = {
        name: apps.get_model("occupancy", f"{name}Event") for name in _PURGED_TRACKERS
    }
    stays = Stay.objects.filter(occupant=occupant).order_by("period", "pk")
    contracts = ResidenceContract.objects.filter(occupant=occupant).order_by(
        "start", "pk"
    )
    history = {
        "occupant": event_models["Occupant"].objects.filter(pgh_obj_id=occupant.pk),
        "stays": event_models["Stay"].objects.filter(occupant_id=occupant.pk),
        "residence_contracts": event_models["ResidenceContract"].objects.filter(
            occupant_id=occupant.pk
        ),
    }
    exported_history: dict[str, list[dict[str, Any]]] = {}
    for name, queryset in history.items():
        events = _rows(queryset.order_by("pgh_created_at", "pgh_id").values())
        context_ids = {event["pgh_context_id"] for event in events} - {None}
        contexts = {
            str(pk): metadata
            for pk, metadata in pghistory.models.Context.objects.filter(
                pk__in=context_ids
            ).values_list("pk", "metadata")
        }
        for event in events:
            event["pgh_context"] = _jsonable(contexts.get(event["pgh_context_id"]))
        exported_history[name] = events
    threshold = rules().small_cell_threshold
    return {
        "occupant": _rows(Occupant.objects.filter(pk=occupant.pk).values())[0],
        "stays": _rows(stays.values()),
        "residence_contracts": _rows(contracts.values()),
        "history": exported_history,
        "recipients": [_(text).format(threshold=threshold) for text in RECIPIENTS],
        "retention": _(
            "Deleted, with its history, {years} years after the last exit or "
            "contract end (CNIL, social-sector retention référentiel)."
        ).format(years=rules().retention_years),
    }
