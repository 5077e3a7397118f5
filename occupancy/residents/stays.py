"""Stays: an occupant in a space under an active agreement, from entry to exit or
move (domain.md §D.4).

Writers that race (two stays for the last place of a room, a capacity cut while a
stay starts) lock the space row first; "one stay at a time per occupant" is an
exclusion constraint, turned into a ``Conflict`` on the ``occupant`` field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TypeVar

from django.db import IntegrityError, OperationalError, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from config.errors import Conflict, InvalidTransition
from occupancy.legal import RUNNING_STAY_STATUSES
from occupancy.models import (
    Agreement,
    AgreementSpace,
    AgreementStatus,
    ExitDestination,
    Occupant,
    Space,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.residents.base import (
    AGREEMENT_NOT_ACTIVE,
    ANONYMISED,
    DESTINATION_REQUIRED,
    EMERGENCY_NO_END,
    ERASED,
    EXIT_IN_FUTURE,
    EXIT_NOT_AFTER_ENTRY,
    EXIT_PLANNED_IN_PAST,
    HOUSEHOLD_DOES_NOT_FIT,
    MOVE_SAME_SPACE,
    NO_SAFETY_OPINION,
    OCCUPANT_BUSY,
    OCCUPANT_OTHER_OPERATOR,
    OUTSIDE_AGREEMENT,
    SLEEPING_NOT_ALLOWED,
    SPACE_NOT_COVERED,
    SPACE_OTHER_BUILDING,
    STAY_TRANSITION,
    STAYS_BUSY,
    constraint_name,
    error,
    localdate_or,
    locked_agreement,
)
from occupancy.residents.spaces import (
    check_capacity,
    safety_opinion_is_favourable,
)

M = TypeVar("M", bound=Model)
# PostgreSQL's SQLSTATE for a lock NOWAIT could not take.
LOCK_NOT_AVAILABLE = "55P03"

# domain.md §D.4. ORIENTED/ADMITTED/REFUSED stay in SI-SIAO (purpose limitation, §F.1).
STAY_TRANSITIONS: dict[str, frozenset[str]] = {
    StayStatus.ACTIVE: frozenset({StayStatus.EXIT_PLANNED, StayStatus.EXITED}),
    StayStatus.EXIT_PLANNED: frozenset(
        {StayStatus.ACTIVE, StayStatus.EXIT_PLANNED, StayStatus.EXITED}
    ),
    StayStatus.EXITED: frozenset(),
}


@contextmanager
def _occupant_free() -> Iterator[None]:
    """Turn the "one stay at a time" exclusion violation into a field error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if constraint_name(exc) != "stay_one_at_a_time_per_occupant":
            raise
        raise Conflict(_(OCCUPANT_BUSY), field="occupant") from exc


def _check_stay_dates(
    *, agreement: Agreement, space: Space, entry: date, exit: date | None
) -> None:
    if exit is not None and exit <= entry:
        raise error(EXIT_NOT_AFTER_ENTRY, field="exit")
    period = agreement.period
    if entry < period.lower or entry >= period.upper:
        raise error(OUTSIDE_AGREEMENT, field="entry")
    if exit is not None and exit > period.upper:
        raise error(OUTSIDE_AGREEMENT, field="exit")
    covered = DateRange(entry, exit) if exit is not None else entry
    if not AgreementSpace.objects.filter(
        agreement=agreement, space=space, period__contains=covered
    ).exists():
        raise error(SPACE_NOT_COVERED, field="space")


def stay_start(
    *,
    occupant: Occupant,
    space: Space,
    agreement: Agreement,
    entry: date,
    structure_type: str,
    places: int | None = None,
    exit: date | None = None,
    today: date | None = None,
) -> Stay:
    """An occupant enters a space under an active agreement.

    ``exit`` is a planned exit, on or after ``today`` (the local date by default;
    a back-fill of past stays gives the day each was recorded); emergency shelter
    has none (unconditional and continuous shelter, CASF L.345-2-2 and L.345-2-3).
    An exit already past is recorded with ``stay_exit``, destination included: a
    "planned" one would end the stay with no exit in the indicators.
    """
    with transaction.atomic():
        # Locks in the agreement services' order (agreement, then spaces), so a
        # stay never slips into an agreement being suspended or closed, and two
        # stays never share the last place. NO KEY UPDATE leaves other rows free
        # to reference these (the stay's own foreign keys included).
        agreement = locked_agreement(agreement)
        space = Space.objects.select_for_update(no_key=True).get(pk=space.pk)
        # Read again under a lock the purge's and the erasure's FOR UPDATE
        # conflicts with: an occupant read before either committed would get a
        # stay no one can see, exit or close.
        current = (
            Occupant.objects.select_for_update(no_key=True)
            .filter(pk=occupant.pk)
            .first()
        )
        if current is None:
            raise error(ERASED, field="occupant")
        occupant = current
        if occupant.anonymised_at is not None:
            raise error(ANONYMISED, field="occupant")
        if agreement.status != AgreementStatus.ACTIVE:
            raise error(AGREEMENT_NOT_ACTIVE, field="agreement")
        if occupant.operator_id != agreement.operator_id:
            raise error(OCCUPANT_OTHER_OPERATOR, field="occupant")
        if space.building_id != agreement.building_id:
            raise error(SPACE_OTHER_BUILDING, field="space")
        if structure_type == StructureType.EMERGENCY and exit is not None:
            raise error(EMERGENCY_NO_END, field="exit")
        if exit is not None and exit < localdate_or(today):
            raise error(EXIT_PLANNED_IN_PAST, field="exit")
        _check_stay_dates(agreement=agreement, space=space, entry=entry, exit=exit)
        if space.use == SpaceUse.SLEEPING and not agreement.sleeping_allowed:
            raise error(SLEEPING_NOT_ALLOWED, field="space")
        if space.use in (SpaceUse.SLEEPING, SpaceUse.PUBLIC) and not (
            safety_opinion_is_favourable(space=space, on=entry)
        ):
            raise error(NO_SAFETY_OPINION, field="space")
        stay = Stay(
            occupant=occupant,
            space=space,
            agreement=agreement,
            period=DateRange(entry, exit),
            places=places if places is not None else occupant.household_size,
            household_size=occupant.household_size,
            structure_type=structure_type,
            status=StayStatus.EXIT_PLANNED if exit is not None else StayStatus.ACTIVE,
        )
        stay.full_clean(validate_constraints=False)
        check_capacity(space=space, nights=stay.period, places=stay.places)
        with _occupant_free():
            stay.save()
    return stay


def _check_not_anonymised(stay: Stay) -> None:
    """The stays of an anonymised occupant are kept for statistics, as they were."""
    if (
        Occupant.objects.filter(pk=stay.occupant_id)
        .exclude(anonymised_at=None)
        .exists()
    ):
        raise error(ANONYMISED, field="occupant")


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
    check_capacity(
        space=space,
        nights=DateRange(old_end, new_end),
        places=stay.places,
        exclude_stay_id=stay.pk,
    )


def stay_plan_exit(
    *, stay: Stay, exit_date: date | None, today: date | None = None
) -> Stay:
    """Plan (or with ``None`` cancel) an exit, on or after ``today``; the stay goes
    on until ``stay_exit`` records it."""
    with transaction.atomic():
        stay = (
            Stay.objects.select_related("agreement")
            .select_for_update(no_key=True, of=("self",))
            .get(pk=stay.pk)
        )
        _check_not_anonymised(stay)
        new = StayStatus.EXIT_PLANNED if exit_date is not None else StayStatus.ACTIVE
        _transition(stay, new)
        if exit_date is not None:
            if stay.structure_type == StructureType.EMERGENCY:
                raise error(EMERGENCY_NO_END, field="exit_date")
            if exit_date < localdate_or(today):
                raise error(EXIT_PLANNED_IN_PAST, field="exit_date")
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
        raise error(DESTINATION_REQUIRED, field="destination")
    if exit_date > localdate_or(today):
        raise error(EXIT_IN_FUTURE, field="exit_date")
    with transaction.atomic():
        stay = Stay.objects.select_for_update(no_key=True).get(pk=stay.pk)
        _check_not_anonymised(stay)
        _transition(stay, StayStatus.EXITED)
        stay = _unsplit(stay, before=exit_date)
        if exit_date <= stay.period.lower:
            raise error(EXIT_NOT_AFTER_ENTRY, field="exit_date")
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


def _unsplit(stay: Stay, *, before: date) -> Stay:
    """The stay an exit (or a move) on ``before`` ends: ``stay`` itself, or, when
    ``stay`` only goes on from a household size change (stays_follow_household)
    on or after ``before``, the stay it continues, running again.

    The household left (or moved) before its new size spent a night here: the
    continuation had no night and is deleted, and the earlier stay, which ended
    with ``household_change``, takes the exit as if the size had not changed (an
    exit recorded late, dated before the change, or an exit or a move on the day
    of it). Several changes unwind one by one. Rows locked.
    """
    while before <= stay.period.lower:
        previous = (
            Stay.objects.select_for_update(no_key=True)
            .filter(
                occupant_id=stay.occupant_id,
                agreement_id=stay.agreement_id,
                space_id=stay.space_id,
                status=StayStatus.EXITED,
                exit_destination=ExitDestination.HOUSEHOLD_CHANGE,
                period__endswith=stay.period.lower,
            )
            .first()
        )
        if previous is None:
            break
        status = stay.status
        stay.delete()
        previous.status, previous.exit_destination = status, ""
        stay = previous
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
        raise error(MOVE_SAME_SPACE, field="space")
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


def _lock_now(rows: QuerySet[M], *, field: str) -> list[M]:
    """``rows`` locked (NO KEY UPDATE) without waiting: a Conflict on ``field`` if
    another transaction holds one of them."""
    try:
        return list(rows.select_for_update(no_key=True, nowait=True).order_by("pk"))
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(_(STAYS_BUSY), field=field) from exc


def stays_follow_household(
    *, occupant: Occupant, old: int, new: int, today: date | None = None
) -> None:
    """The running stays of ``occupant``, whose household size goes from ``old``
    to ``new`` today: from today on they take the new size, and the places that
    were the household's size (the default of ``stay_start``) follow it; a number
    of places set apart from it (a hosted organization's desks, a household in
    fewer beds) is kept. A grown household that no longer fits its space is a
    Conflict on ``household_size``, and nothing changes.

    The nights before today keep what they were: a stay that began earlier ends
    today (``household_change``) and goes on in a new stay from today, as a move
    does, so that the indicators count neither an exit nor an entry and the
    persons of past periods stay as they were. A stay that has not begun changes
    in place; one whose planned exit is past has no night left to change.

    The caller holds the occupant's lock (the API locks the row it writes first),
    where stay_start and stay_move take the agreement, the space or the stay before
    the occupant: so the stays, their agreements and their spaces are locked here
    without waiting, and a concurrent write on them is a Conflict to retry, never a
    deadlock.
    """
    on = localdate_or(today)
    stays = _lock_now(
        Stay.objects.filter(occupant=occupant, status__in=RUNNING_STAY_STATUSES),
        field="household_size",
    )
    _lock_now(
        Agreement.objects.filter(pk__in={stay.agreement_id for stay in stays}),
        field="household_size",
    )
    spaces = {
        space.pk: space
        for space in _lock_now(
            Space.objects.filter(pk__in={stay.space_id for stay in stays}),
            field="household_size",
        )
    }
    for stay in stays:
        entry, exit = stay.period.lower, stay.period.upper
        if exit is not None and exit <= on:
            continue
        places = new if stay.places == old else stay.places
        nights = DateRange(max(entry, on), exit)
        if places > stay.places:
            check_capacity(
                space=spaces[stay.space_id],
                nights=nights,
                places=places,
                exclude_stay_id=stay.pk,
                field="household_size",
                message=HOUSEHOLD_DOES_NOT_FIT,
            )
        if entry >= on:
            stay.places, stay.household_size = places, new
            stay.save(update_fields=["places", "household_size", "updated_at"])
            continue
        going_on = Stay(
            occupant_id=stay.occupant_id,
            space_id=stay.space_id,
            agreement_id=stay.agreement_id,
            period=nights,
            places=places,
            household_size=new,
            structure_type=stay.structure_type,
            status=stay.status,
        )
        stay.period = DateRange(entry, on)
        stay.status = StayStatus.EXITED
        stay.exit_destination = ExitDestination.HOUSEHOLD_CHANGE
        stay.save(update_fields=["period", "status", "exit_destination", "updated_at"])
        going_on.save()
