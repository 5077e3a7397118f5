"""Who may see what: the scoping primitive every later queryset is built on.

``scope_for(user)`` answers, once per request, which organizations a user acts
for, as which persona, and over which territory. Querysets take a ``Scope`` and
filter themselves (``Building.objects.visible_to(scope)``); objects outside it
answer 404, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from organizations.models import Membership, OrganizationKind, Role


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


def scope_for(user: AbstractBaseUser | AnonymousUser | None) -> Scope:
    """The caller's scope, computed with one query and cached on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return PUBLIC_SCOPE
    cached: Scope | None = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    memberships = list(
        Membership.objects.filter(user_id=user.pk).select_related("organization")
    )
    by_kind: dict[str, set[int]] = {kind: set() for kind in OrganizationKind.values}
    departments: set[str] | None = set()
    writable: set[int] = set()
    for membership in memberships:
        organization = membership.organization
        by_kind[organization.kind].add(organization.pk)
        if membership.role in (Role.ADMIN, Role.EDITOR):
            writable.add(organization.pk)
        if (
            organization.kind == OrganizationKind.STATE_SERVICE
            and departments is not None
        ):
            if organization.territory_departments:
                departments.update(organization.territory_departments)
            else:
                departments = None
    is_superuser = bool(getattr(user, "is_superuser", False))
    if is_superuser or by_kind[OrganizationKind.STATE_SERVICE]:
        persona = Persona.STATE_AGENT
    elif by_kind[OrganizationKind.OPERATOR]:
        persona = Persona.OPERATOR
    elif by_kind[OrganizationKind.FUNDER]:
        persona = Persona.FUNDER
    else:
        persona = Persona.PUBLIC
    scope = Scope(
        user_id=int(user.pk),
        persona=persona,
        state_service_ids=frozenset(by_kind[OrganizationKind.STATE_SERVICE]),
        operator_ids=frozenset(by_kind[OrganizationKind.OPERATOR]),
        funder_ids=frozenset(by_kind[OrganizationKind.FUNDER]),
        writable_ids=frozenset(writable),
        departments=None
        if is_superuser or departments is None
        else frozenset(departments),
    )
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope
