"""Scoped reads behind the occupancy API: what each caller may see, and which rows
each writable relation of a request may point at.

Every queryset a view or a serializer field starts from comes from here
(DESIGN.md, "Permissions"): outside it an object answers 404, and an id of it in a
request body answers 400 on its field. The agreements themselves are scoped by
``occupancy.selectors.agreement_list``.

- State agents read the spaces and safety inspections of their territory, and
  record inspections where they edit for a State service; they never read a
  resident row (they get indicators).
- Operators read the spaces of the buildings where they hold a live agreement
  (not the spaces another operator's agreement holds or claims there) and change
  those their own agreements claim, and the free ones they created; they manage
  their own occupants, stays and residence contracts.
- Funders and the public reach none of these.

These are selectors in all but their module: they live beside the API because the
pages of the occupancy app are written separately; they belong in
occupancy/selectors.py once both sides share them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from buildings.models import Building
from occupancy.models import (
    Agreement,
    AgreementSpace,
    AgreementStatus,
    Occupant,
    ResidenceContract,
    SafetyInspection,
    Space,
    Stay,
)
from organizations.models import Organization, OrganizationKind
from organizations.selectors import Scope

# Agreements that no longer claim their spaces for their operator.
RELEASED_STATUSES = frozenset(
    {AgreementStatus.CLOSED, AgreementStatus.REJECTED, AgreementStatus.WITHDRAWN}
)
# An empty set of départements: the caller edits nowhere as a State agent.
NOWHERE: frozenset[str] = frozenset()


# --- Who writes what ------------------------------------------------------------------
def writable_operator_ids(*, scope: Scope) -> frozenset[int]:
    """Operators the caller writes for (admin or editor); viewers only read."""
    return scope.writable_ids & scope.operator_ids


def _in_departments(departments: frozenset[str] | None, *, path: str) -> Q:
    if departments is None:
        return Q()
    return Q(**{f"{path}__in": departments})


# --- Buildings and spaces -------------------------------------------------------------
def _live_buildings(
    operator_ids: frozenset[int],
) -> QuerySet[Agreement, Any]:
    return (
        Agreement.objects.live()
        .filter(operator_id__in=operator_ids)
        .values("building_id")
    )


def _operator_spaces(operator_ids: frozenset[int], *, to_change: bool = False) -> Q:
    """Spaces of the buildings where ``operator_ids`` hold a live agreement, less
    those another operator's agreement claims and ours does not hold: two
    operators may share a building, never a space's name or capacity. A claim
    lasts from the draft (the space is promised to that operator) until the
    agreement is closed, rejected or withdrawn (its residents may still be there
    after it ended). (A space held by both, over successive periods, stays each
    one's.)

    ``to_change``: of the free spaces (claimed by no agreement), only those
    ``operator_ids`` created. Every operator of the building reads them, but a free
    room belongs to nobody's agreement yet: the other operator sharing the building
    (or any operator, for a space a State agent added) must not rename it or cut
    its capacity. State agents change those in the admin, or attach them to an
    agreement, whose operator then changes them."""
    held_by_us = AgreementSpace.objects.filter(
        is_live=True, agreement__operator_id__in=operator_ids
    )
    claims = AgreementSpace.objects.exclude(agreement__status__in=RELEASED_STATUSES)
    claimed_by_others = claims.exclude(agreement__operator_id__in=operator_ids)
    not_claimed_by_others = ~Q(pk__in=claimed_by_others.values("space_id"))
    if to_change:
        claimed_by_us = claims.filter(agreement__operator_id__in=operator_ids)
        not_claimed_by_others &= Q(pk__in=claimed_by_us.values("space_id")) | Q(
            created_by_id__in=operator_ids
        )
    return Q(building_id__in=_live_buildings(operator_ids)) & (
        not_claimed_by_others | Q(pk__in=held_by_us.values("space_id"))
    )


def space_list(*, scope: Scope) -> QuerySet[Space]:
    visible: list[Q] = []
    if scope.is_state_agent:
        visible.append(
            _in_departments(scope.departments, path="building__department_id")
        )
    if scope.operator_ids:
        visible.append(_operator_spaces(scope.operator_ids))
    if not visible:
        return Space.objects.none()
    condition = visible[0]
    for other in visible[1:]:
        condition |= other
    return Space.objects.filter(condition).order_by("building_id", "name", "pk")


def space_list_writable(*, scope: Scope) -> QuerySet[Space]:
    """Spaces the caller may change (or name in a stay): an operator's, as an
    admin or editor; a free one only if that operator created it."""
    operators = writable_operator_ids(scope=scope)
    if not operators:
        return Space.objects.none()
    return Space.objects.filter(_operator_spaces(operators, to_change=True)).order_by(
        "pk"
    )


def building_list_for_spaces(*, scope: Scope) -> QuerySet[Building]:
    """Buildings where the caller may add a space: under a live agreement of an
    operator it writes for."""
    operators = writable_operator_ids(scope=scope)
    if not operators:
        return Building.objects.none()
    return Building.objects.filter(pk__in=_live_buildings(operators)).order_by("pk")


def operator_list_for_space(
    *, scope: Scope, building: Building
) -> QuerySet[Organization]:
    """Operators the caller writes for that hold a live agreement in ``building``:
    who may add a space there (and then change it while it is free)."""
    holders = Agreement.objects.live().filter(building=building).values("operator_id")
    return (
        Organization.objects.filter(pk__in=writable_operator_ids(scope=scope))
        .filter(pk__in=holders)
        .order_by("pk")
    )


def building_list_editable(*, departments: frozenset[str] | None) -> QuerySet[Building]:
    """Buildings of the territory a State agent edits
    (``organizations.selectors.writable_departments``)."""
    if departments == NOWHERE:
        return Building.objects.none()
    return Building.objects.filter(
        _in_departments(departments, path="department_id")
    ).order_by("pk")


def space_list_editable(*, departments: frozenset[str] | None) -> QuerySet[Space]:
    """Spaces of the territory a State agent edits: what an agreement or an
    inspection it records may name."""
    if departments == NOWHERE:
        return Space.objects.none()
    return Space.objects.filter(
        _in_departments(departments, path="building__department_id")
    ).order_by("pk")


# --- Safety inspections ---------------------------------------------------------------
def inspection_list(*, scope: Scope) -> QuerySet[SafetyInspection]:
    """State agents: their territory. Operators: the buildings they occupy under a
    live agreement, whose safety opinion governs who may enter."""
    visible: list[Q] = []
    if scope.is_state_agent:
        visible.append(
            _in_departments(scope.departments, path="building__department_id")
        )
    if scope.operator_ids:
        visible.append(Q(building_id__in=_live_buildings(scope.operator_ids)))
    if not visible:
        return SafetyInspection.objects.none()
    condition = visible[0]
    for other in visible[1:]:
        condition |= other
    return SafetyInspection.objects.filter(condition).order_by("-date", "-pk")


# --- Residents (operators only) -------------------------------------------------------
# Anonymised occupants and their stays are kept for the indicators of past periods
# only (occupancy/residents/gdpr.py): no row-level view shows them again.
def occupant_list(*, scope: Scope) -> QuerySet[Occupant]:
    return Occupant.objects.filter(
        operator_id__in=scope.operator_ids, anonymised_at=None
    ).order_by("-pk")


def occupant_list_writable(*, scope: Scope) -> QuerySet[Occupant]:
    return Occupant.objects.filter(
        operator_id__in=writable_operator_ids(scope=scope), anonymised_at=None
    ).order_by("pk")


def stay_list(*, scope: Scope) -> QuerySet[Stay]:
    # By the agreement's operator: stay_start refuses an occupant of another
    # operator, so the occupant's operator is the same one.
    return Stay.objects.filter(
        agreement__operator_id__in=scope.operator_ids, occupant__anonymised_at=None
    ).order_by("-pk")


def contract_list(*, scope: Scope) -> QuerySet[ResidenceContract]:
    return ResidenceContract.objects.filter(
        agreement__operator_id__in=scope.operator_ids
    ).order_by("-pk")


def agreement_list_for_residents(*, scope: Scope) -> QuerySet[Agreement]:
    """Agreements a stay or a residence contract of the caller may name: those of
    the operators it writes for (the services check the status)."""
    return Agreement.objects.filter(
        operator_id__in=writable_operator_ids(scope=scope)
    ).order_by("pk")


# --- Organizations a request may name -------------------------------------------------
def operator_list_writable(*, scope: Scope) -> QuerySet[Organization]:
    return Organization.objects.filter(
        pk__in=writable_operator_ids(scope=scope)
    ).order_by("pk")


def hosted_organization_list() -> QuerySet[Organization]:
    """Associations and companies an operator hosts: organizations outside the four
    tenants' kinds. A State service, an operator or a funder is never "hosted", so
    naming one (another tenant) is refused."""
    return Organization.objects.filter(kind=OrganizationKind.OTHER).order_by("pk")


def grantor_list(*, scope: Scope, superuser: bool) -> QuerySet[Organization]:
    """State services an agent signs for: those it edits for (any, as superuser).
    Whether the grantor covers the building is a legal check (occupancy/legal.py)."""
    services = Organization.objects.state_services()
    if not superuser:
        services = services.filter(pk__in=scope.writable_ids & scope.state_service_ids)
    return services.order_by("pk")


def operator_list() -> QuerySet[Organization]:
    """Any social-economy operator may be party to an agreement."""
    return Organization.objects.operators().order_by("pk")


def operator_list_member(*, scope: Scope) -> QuerySet[Organization]:
    """Operators the caller belongs to, in any role."""
    return Organization.objects.filter(pk__in=scope.operator_ids).order_by("pk")
