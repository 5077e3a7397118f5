"""Who may see what: the scoping primitive every later queryset is built on.

``scope_for(user)`` answers, once per request, which organizations a user acts
for, as which persona, and over which territory. Querysets take a ``Scope`` and
filter themselves (``Building.objects.visible_to(scope)``); objects outside it
answer 404, never 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from organizations.models import Organization, OrganizationKind, Role


class Persona(StrEnum):
    STATE_AGENT = "state_agent"
    OPERATOR = "operator"
    FUNDER = "funder"
    PUBLIC = "public"


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    persona: Persona
    state_service_ids: frozenset[int] = frozenset()
    operator_ids: frozenset[int] = frozenset()
    funder_ids: frozenset[int] = frozenset()
    writable_ids: frozenset[int] = frozenset()
    # None: no territorial limit (national services, superusers). Otherwise the
    # départements a State agent's services cover.
    departments: frozenset[str] | None = frozenset()

    @property
    def organization_ids(self) -> frozenset[int]:
        return self.state_service_ids | self.operator_ids | self.funder_ids

    @property
    def is_state_agent(self) -> bool:
        return self.persona is Persona.STATE_AGENT

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def can_write(self, organization_id: int) -> bool:
        return organization_id in self.writable_ids

    def covers_department(self, department: str) -> bool:
        return self.departments is None or department in self.departments


PUBLIC_SCOPE = Scope(user_id=None, persona=Persona.PUBLIC)
_CACHE_ATTRIBUTE = "_intercalaire_scope"


MembershipRow = tuple[int, str, str, list[str] | None]


def memberships_column(user_id: str) -> str:
    """A user's memberships as one JSON column, ``[[organization id, kind, role,
    territory], …]``, for the user whose id is the SQL expression ``user_id``.

    Every authenticated request needs them. Plain SQL, because the ORM's
    compilation of the same join cost 1.5 ms a request against 0.3 ms for the
    round trip (bench: agent tiles); and a column, so that the statement that
    reads the user (the session's, organizations.backends; a token's,
    organizations.authentication) reads them too and saves that round trip.
    """
    # ``user_id`` is a column name or a placeholder, never a value.
    return (
        "(SELECT coalesce(json_agg(json_build_array("  # noqa: S608
        "o.id, o.kind, m.role, o.territory_departments)), '[]') "
        "FROM organizations_membership AS m "
        "JOIN organizations_organization AS o ON o.id = m.organization_id "
        f"WHERE m.user_id = {user_id})"
    )


_MEMBERSHIP_SQL = f"SELECT {memberships_column('%s')}"


def remember_memberships(user: AbstractBaseUser, rows: Iterable[list[Any]]) -> Scope:
    """Give ``user`` the scope of its memberships (a ``memberships_column``'s value),
    cached on the object, so that ``scope_for`` asks nothing more; and return it."""
    scope = scope_of(
        int(user.pk),
        [tuple(row) for row in rows],  # JSON arrays → MembershipRow
        is_superuser=bool(getattr(user, "is_superuser", False)),
    )
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def scope_of(
    user_id: int, rows: Iterable[MembershipRow], *, is_superuser: bool = False
) -> Scope:
    """The scope given by a user's memberships: (organization id, organization
    kind, role, the organization's territory) for each."""
    by_kind: dict[str, set[int]] = {kind: set() for kind in OrganizationKind.values}
    departments: set[str] | None = set()
    writable: set[int] = set()
    for organization_id, kind, role, territory in rows:
        by_kind[kind].add(organization_id)
        if role in (Role.ADMIN, Role.EDITOR):
            writable.add(organization_id)
        if kind == OrganizationKind.STATE_SERVICE and departments is not None:
            if territory:
                departments.update(territory)
            else:
                departments = None
    if is_superuser or by_kind[OrganizationKind.STATE_SERVICE]:
        persona = Persona.STATE_AGENT
    elif by_kind[OrganizationKind.OPERATOR]:
        persona = Persona.OPERATOR
    elif by_kind[OrganizationKind.FUNDER]:
        persona = Persona.FUNDER
    else:
        persona = Persona.PUBLIC
    return Scope(
        user_id=user_id,
        persona=persona,
        state_service_ids=frozenset(by_kind[OrganizationKind.STATE_SERVICE]),
        operator_ids=frozenset(by_kind[OrganizationKind.OPERATOR]),
        funder_ids=frozenset(by_kind[OrganizationKind.FUNDER]),
        writable_ids=frozenset(writable),
        departments=None
        if is_superuser or departments is None
        else frozenset(departments),
    )


def scope_for(user: AbstractBaseUser | AnonymousUser | None) -> Scope:
    """The caller's scope, computed with one query and cached on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return PUBLIC_SCOPE
    cached: Scope | None = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    with connection.cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [user.pk])
        (rows,) = cursor.fetchone()
    return remember_memberships(user, rows)


def writable_departments(
    *, scope: Scope, user: AbstractBaseUser | AnonymousUser | None
) -> frozenset[str] | None:
    """Départements where the caller may change the inventory; None: everywhere
    (a superuser, or an admin or editor of a national service); empty: nowhere.

    Only services where the caller is admin or editor count: an agent who edits
    for one service and reads for another writes in the first one's territory
    only. Scope keeps the départements of all services together, hence the query.
    """
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return None
    departments: set[str] = set()
    for territory in Organization.objects.filter(
        pk__in=scope.writable_ids & scope.state_service_ids
    ).values_list("territory_departments", flat=True):
        if not territory:
            return None
        departments.update(territory)
    return frozenset(departments)
