"""Writes on the inventory: create, update, and the lifecycle of domain.md §D.1."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from buildings import suitability
from buildings.geometry import within_metres
from buildings.models import (
    AGREEMENT_DRIVEN_STATUSES,
    ALLOWED_TRANSITIONS,
    Building,
    BuildingStatus,
    BuildingStatusChange,
    Department,
    Domaniality,
    NextUse,
)
from buildings.reference import commune_department, flag_points_outside_commune
from config.errors import DomainError, InvalidTransition

# The status changes' refusals reach agents' pages: translated, with the statuses'
# labels (they showed in English, with the codes).
TRANSITION_REFUSED = _("A building cannot go from “{old}” to “{new}”.")
TRANSITION_BY_AGREEMENT = _(
    "“{new}” follows the building's occupancy agreement: sign or start the agreement."
)
STATUS_UNKNOWN = _("Unknown status “{status}”.")
VACANCY_DATE_REQUIRED = _(
    "Record since when the building is vacant before declaring it vacant."
)
DOMANIALITY_REQUIRED = _(
    "The domaniality must be known before the building is assessed."
)
NEXT_USE_REQUIRED = _(
    "Record the next planned use and its date (the horizon of temporary use) "
    "before opening the building to temporary use."
)
COMMUNE_ELSEWHERE = _(
    "Commune {commune} is in département {actual}, not in {declared}: correct "
    "the commune or the département."
)
POINT_OUTSIDE_DEPARTMENT = _(
    "The location lies outside département {department}: check the coordinates "
    "(longitude first, then latitude) or the département."
)
FOOTPRINT_AWAY = _(
    "The footprint lies more than {metres} m from the building's location: "
    "send the outline of the building at that point."
)
# A point may stand at the gate or the courtyard's centre, beside its outline;
# farther, one of the two belongs to another building.
FOOTPRINT_TOLERANCE_M = 100
# The département boundaries loaded are simplified (departements.geojson, IGN
# Admin Express via france-geojson): against the communes' own, Marseille's islands
# lie up to 5.2 km outside the Bouches-du-Rhône, the Alpes-Maritimes' edge 4.9 km.
# The check catches another département, swapped axes or a lost sign; the
# commune's boundary, finer, sets ``outside_declared_commune``.
DEPARTMENT_TOLERANCE_M = 10_000
# The fields whose change sets off the location checks: facts kept as imported
# are not refused when an agent edits something else.
LOCATION_FIELDS = frozenset({"commune", "department", "point", "footprint"})
# Fields an agent may set through building_create/building_update; status moves
# only through building_transition.
EDITABLE_FIELDS = frozenset(
    {
        "site", "inventory_id", "code_chorus", "designation", "asset_type", "function",
        "address", "postal_code", "city", "country", "commune", "department",
        "domaniality", "ministry", "manager_label", "manager_type", "owner_type",
        "point", "footprint", "surface_m2", "surface_kind", "year_built", "condition",
        "energy_kwh_ef", "heating_type", "erp", "erp_type", "erp_category",
        "accessibility", "parcel_ids", "rnb_ids", "vacancy_since", "vacancy_cause",
        "next_use", "next_use_date", "guarding_cost_monthly", "is_confidential",
    }
)  # fmt: skip


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError(f"“{name}” cannot be set here.", field=name)


def building_location_check(*, building: Building, changed: Collection[str]) -> None:
    """Commune, département, point and footprint must agree; a refusal names the
    changed field at fault, the first named when several changed.

    Run by building_create and building_update; forms call it on their unsaved
    instance to show a refusal as a field error.
    """
    if not LOCATION_FIELDS & set(changed):
        return

    def at_fault(*names: str) -> str:
        return next((name for name in names if name in changed), names[-1])

    department = building.department_id
    commune = building.commune
    if commune is not None and department is not None:
        actual = commune.department_id or commune_department(commune.code)
        if actual != department:
            raise DomainError(
                str(COMMUNE_ELSEWHERE).format(
                    commune=commune.code, actual=actual, declared=department
                ),
                field=at_fault("commune", "department"),
            )
    point = building.point
    if point is not None and department is not None:
        # Measured where the boundary is (one statement; the outline is not
        # fetched to be sent back); None when the département has none loaded.
        near = (
            Department.objects.filter(pk=department, geometry__isnull=False)
            .annotate(
                near=RawSQL(
                    "ST_DWithin(geometry::geography, %s::geography, %s)",
                    (point.hexewkb.decode(), float(DEPARTMENT_TOLERANCE_M)),
                    output_field=BooleanField(),
                )
            )
            .values_list("near", flat=True)
            .first()
        )
        if near is False:
            raise DomainError(
                str(POINT_OUTSIDE_DEPARTMENT).format(department=department),
                field=at_fault("point", "department"),
            )
    if (
        point is not None
        and building.footprint is not None
        and not within_metres(building.footprint, point, FOOTPRINT_TOLERANCE_M)
    ):
        raise DomainError(
            str(FOOTPRINT_AWAY).format(metres=FOOTPRINT_TOLERANCE_M),
            field=at_fault("footprint", "point"),
        )


def _flag_outside_commune(building: Building, changed: Collection[str]) -> None:
    """A point outside its commune is flagged, not refused, as
    buildings.reference.flag_points_outside_commune flags the inventory."""
    if {"point", "commune"} & set(changed):
        flag_points_outside_commune(queryset=Building.objects.filter(pk=building.pk))
        building.refresh_from_db(fields=["outside_declared_commune"])


def building_create(*, by: User | AnonymousUser | None, **fields: Any) -> Building:
    _check_fields(fields)
    building = Building(**fields)
    building_location_check(building=building, changed=fields)
    suitability.apply(building, today=timezone.localdate())
    building.full_clean()
    with transaction.atomic():
        building.save()
        _flag_outside_commune(building, fields)
    return building


def building_update(
    *, building: Building, by: User | AnonymousUser | None, **fields: Any
) -> Building:
    _check_fields(fields)
    with transaction.atomic():
        building = Building.objects.select_for_update().get(pk=building.pk)
        for name, value in fields.items():
            setattr(building, name, value)
        building_location_check(building=building, changed=fields)
        changed = list(fields)
        if suitability.INPUT_FIELDS & set(fields):
            changed += suitability.apply(building, today=timezone.localdate())
        building.full_clean()
        building.save(update_fields=[*changed, "updated_at"])
        _flag_outside_commune(building, fields)
    return building


def _scored_state(building: Building) -> tuple[Any, ...]:
    """The stored scores and the breakdown they show: a row whose scores and
    breakdown did not move is not written again, whatever its computation date."""
    scores = tuple(
        getattr(building, name)
        for name in suitability.SCORE_FIELDS
        if name != "suitability_computed_on"
    )
    return scores, suitability.details_on(building)


def suitability_refresh(*, today: date, batch_size: int = 2000) -> int:
    """Recompute the scores of buildings with a next-use date, whose "time left"
    criterion moves with the calendar; store those that changed. Returns how many.

    Run nightly by the job queue (buildings.tasks); every other input of the score
    is recomputed when it is written (building_update, the importers).
    """
    changed: list[Building] = []
    updated = 0
    now = timezone.now()  # a new row version: ETags change with the scores
    fields = list(suitability.SCORE_FIELDS)
    # Only what the score reads and writes: no geometries, no other facts.
    dated = (
        Building.objects.filter(next_use_date__isnull=False)
        .only(*suitability.INPUT_FIELDS, *fields)
        .order_by("pk")
    )
    for building in dated.iterator(chunk_size=batch_size):
        before = _scored_state(building)
        suitability.apply(building, today=today)
        if _scored_state(building) != before:
            building.updated_at = now
            changed.append(building)
        if len(changed) >= batch_size:
            updated += Building.objects.bulk_update(changed, [*fields, "updated_at"])
            changed = []
    if changed:
        updated += Building.objects.bulk_update(changed, [*fields, "updated_at"])
    return updated


STILL_OCCUPIED = _(
    "The building still has a running agreement, residents or residence contracts: "
    "end the stays and close the agreement first."
)
# Agreement and stay statuses that still hold a building (occupancy.models); named
# here as values because buildings does not depend on occupancy.
_HOLDING_AGREEMENTS = ("approved", "signed", "active", "suspended", "ending")
_RUNNING_STAYS = ("active", "exit_planned")


def _handed_back(building: Building) -> bool:
    return not (
        building.agreements.filter(status__in=_HOLDING_AGREEMENTS).exists()
        or building.spaces.filter(stays__status__in=_RUNNING_STAYS).exists()
    )


# (from, to) → (the check that must hold, the message when it does not, the field).
GUARDS: dict[tuple[str, str], tuple[Callable[[Building], bool], Any, str]] = {
    (BuildingStatus.IN_USE, BuildingStatus.VACANT): (
        lambda b: b.vacancy_since is not None,
        VACANCY_DATE_REQUIRED,
        "vacancy_since",
    ),
    (BuildingStatus.VACANT, BuildingStatus.ASSESSED): (
        lambda b: b.domaniality != Domaniality.UNKNOWN,
        DOMANIALITY_REQUIRED,
        "domaniality",
    ),
    (BuildingStatus.ASSESSED, BuildingStatus.AVAILABLE): (
        lambda b: b.next_use != NextUse.UNKNOWN and b.next_use_date is not None,
        NEXT_USE_REQUIRED,
        "next_use_date",
    ),
    # domain.md §D.1: a building leaves "releasing" only once empty and handed back.
    **{
        (BuildingStatus.RELEASING, to): (_handed_back, STILL_OCCUPIED, "status")
        for to in (
            BuildingStatus.VACANT,
            BuildingStatus.DISPOSED,
            BuildingStatus.REASSIGNED,
            BuildingStatus.DEMOLISHED,
        )
    },
}


def transition_refused(
    building: Building, to: str, *, by_agreement: bool = False
) -> InvalidTransition | None:
    """Why the lifecycle forbids moving ``building`` from its status to ``to``, a
    known status (None when it allows it): the error building_transition raises,
    which the page also shows when the move it posted is gone (someone moved the
    building)."""
    if to not in ALLOWED_TRANSITIONS[building.status]:
        return InvalidTransition(
            str(TRANSITION_REFUSED).format(
                old=BuildingStatus(building.status).label,
                new=BuildingStatus(to).label,
            )
        )
    if to in AGREEMENT_DRIVEN_STATUSES and not by_agreement:
        return InvalidTransition(
            str(TRANSITION_BY_AGREEMENT).format(new=BuildingStatus(to).label)
        )
    return None


def building_transition(
    *,
    building: Building,
    to: str,
    by: User | AnonymousUser | None,
    reason: str = "",
    by_agreement: bool = False,
) -> Building:
    """Move ``building`` to status ``to``: atomic, row-locked, guarded and recorded.

    ``by_agreement`` is reserved to the occupancy services, which move buildings
    into and out of agreement-driven statuses as agreements progress.
    """
    if to not in BuildingStatus.values:
        raise DomainError(str(STATUS_UNKNOWN).format(status=to), field="status")
    with transaction.atomic():
        building = Building.objects.select_for_update().get(pk=building.pk)
        old = building.status
        refused = transition_refused(building, to, by_agreement=by_agreement)
        if refused is not None:
            raise refused
        guard = GUARDS.get((old, to))
        if guard is not None and not guard[0](building):
            raise DomainError(str(guard[1]), field=guard[2])
        building.status = to
        building.save(update_fields=["status", "updated_at"])
        BuildingStatusChange.objects.create(
            building=building,
            from_status=old,
            to_status=to,
            reason=reason,
            changed_by=by if isinstance(by, User) else None,
        )
    return building


def allowed_transitions(building: Building) -> list[str]:
    """The statuses an agent may move ``building`` to (for pages and the API)."""
    return sorted(ALLOWED_TRANSITIONS[building.status] - AGREEMENT_DRIVEN_STATUSES)
