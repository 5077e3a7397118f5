"""Spaces of a building and their safety: creation, changes (a capacity cut never
over-fills a night), safety inspections, the opinion that opens sleeping and
public premises, and the capacity check stays share (domain.md §B.5, §C.5).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum

from django.db import connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils.translation import gettext as _

from buildings.models import Building
from config.errors import Conflict
from occupancy.models import (
    InspectionKind,
    InspectionResult,
    SafetyInspection,
    Space,
)
from occupancy.residents.base import (
    CAPACITY_BELOW_USE,
    CAPACITY_EXCEEDED,
    INSPECTION_IN_FUTURE,
    INSPECTION_OTHER_BUILDING,
    error,
    localdate_or,
)
from organizations.models import Organization


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
    created_by: Organization | None = None,
) -> Space:
    """A space of ``building``; ``created_by`` is the operator adding it (None: a
    State agent), which alone changes it while no agreement claims it."""
    space = Space(
        building=building,
        created_by=created_by,
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
            night, used = busiest_night(
                space_id=space.pk, nights=DateRange(localdate_or(today), None)
            )
            if used > capacity:
                raise error(
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
        raise error(INSPECTION_OTHER_BUILDING, field="space")
    if date > localdate_or(today):
        raise error(INSPECTION_IN_FUTURE, field="date")
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


def busiest_night(
    *, space_id: int, nights: DateRange, exclude_stay_id: int | None = None
) -> tuple[date | None, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            _BUSIEST_NIGHT_SQL,
            {"space": space_id, "nights": nights, "exclude": exclude_stay_id or 0},
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, 0)


def check_capacity(
    *,
    space: Space,
    nights: DateRange,
    places: int,
    exclude_stay_id: int | None = None,
    field: str = "places",
    message: str = CAPACITY_EXCEEDED,
) -> None:
    """Refuse ``places`` more in ``space`` over ``nights`` (a Conflict on ``field``).
    The caller holds the lock on the space row, so two writers never both see the
    last free place."""
    night, used = busiest_night(
        space_id=space.pk, nights=nights, exclude_stay_id=exclude_stay_id
    )
    if used + places > space.capacity:
        raise Conflict(
            _(message).format(
                capacity=space.capacity,
                used=used,
                night=night or nights.lower,
                places=places,
            ),
            field=field,
        )
