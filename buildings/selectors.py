"""Reads on the inventory, each scoped by the caller (organizations.selectors.Scope)."""

from __future__ import annotations

import functools

from django.db.models import Q, QuerySet

from buildings.geometry import DistanceMetres, DWithinMetres
from buildings.models import Building, BuildingStatusChange, Friche, Site
from organizations.selectors import PUBLIC_SCOPE, Scope

NEARBY_DEFAULT_M = 1000
NEARBY_MAX_M = 20_000
NEARBY_LIMIT = 50
# What the building page and the API list of neighbours show (and the id).
NEARBY_BUILDING_FIELDS = ("id", "designation", "status")
NEARBY_FRICHE_FIELDS = (
    "id", "site_id", "site_nom", "site_type", "site_statut", "comm_insee",
)  # fmt: skip


def building_list(*, scope: Scope) -> QuerySet[Building]:
    if not scope.is_state_agent:
        return _public_stock().all()
    return Building.objects.visible_to(scope)


@functools.cache
def _public_stock() -> QuerySet[Building]:
    # Composed once per process: everyone but State agents sees the same stock,
    # and composing its filters cost 90 µs of Python a request. Only ever
    # cloned (filter, order_by…), never evaluated, so it caches no rows.
    return Building.objects.visible_to(PUBLIC_SCOPE)


def building_get(*, scope: Scope, pk: int) -> Building:
    """The building, or ``Building.DoesNotExist`` when it is outside the scope."""
    return (
        building_list(scope=scope)
        .select_related("site", "commune", "department")
        .get(pk=pk)
    )


def site_list(*, departments: frozenset[str] | None) -> QuerySet[Site]:
    """The sites of a territory (None: all of them): a site belongs to it through
    its commune or one of its buildings. A site with neither is no territory's."""
    sites = Site.objects.order_by("pk")
    if departments is None:
        return sites
    return sites.filter(
        Q(commune__department_id__in=departments)
        | Q(
            pk__in=Building.objects.filter(department_id__in=departments).values(
                "site_id"
            )
        )
    )


def building_status_history(*, building: Building) -> QuerySet[BuildingStatusChange]:
    return building.status_changes.select_related("changed_by").order_by(
        "-changed_at", "-pk"
    )


def nearby_friches(
    *, building: Building, radius_m: float = NEARBY_DEFAULT_M
) -> QuerySet[Friche]:
    """Cartofriches sites within ``radius_m`` metres (geodesic), nearest first,
    with the columns a list of them shows (NEARBY_FRICHE_FIELDS)."""
    if building.point is None:
        return Friche.objects.none()
    return (
        Friche.objects.filter(DWithinMetres("point", building.point, radius_m))
        .only(*NEARBY_FRICHE_FIELDS)
        .annotate(distance_m=DistanceMetres("point", building.point))
        .order_by("distance_m", "pk")[:NEARBY_LIMIT]
    )


def nearby_buildings(
    *, scope: Scope, building: Building, radius_m: float = NEARBY_DEFAULT_M
) -> QuerySet[Building]:
    """Other buildings the caller may see within ``radius_m`` metres, nearest first,
    with the columns a list of them shows (NEARBY_BUILDING_FIELDS): up to 50 whole
    rows (footprints, parcels, JSON) cost 25 ms of a 30 ms building response."""
    if building.point is None:
        return Building.objects.none()
    return (
        building_list(scope=scope)
        .exclude(pk=building.pk)
        .filter(DWithinMetres("point", building.point, radius_m))
        .only(*NEARBY_BUILDING_FIELDS)
        .annotate(distance_m=DistanceMetres("point", building.point))
        .order_by("distance_m", "pk")[:NEARBY_LIMIT]
    )
