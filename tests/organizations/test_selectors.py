"""``scope_for``: the organizations a user acts for, as which persona, and where."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AnonymousUser, User
from pytest_django import DjangoAssertNumQueries

from organizations.models import Membership, Organization, OrganizationKind, Role
from organizations.selectors import PUBLIC_SCOPE, Persona, scope_for, scope_of

pytestmark = pytest.mark.django_db

MakeMember = Callable[..., User]


def fresh(user: User) -> User:
    """The same user, reloaded: no scope cached on the instance."""
    return User.objects.get(pk=user.pk)


def test_anonymous_and_absent_users_get_the_public_scope() -> None:
    assert scope_for(AnonymousUser()) is PUBLIC_SCOPE
    assert scope_for(None) is PUBLIC_SCOPE
    assert PUBLIC_SCOPE.persona is Persona.PUBLIC
    assert not PUBLIC_SCOPE.is_authenticated
    assert PUBLIC_SCOPE.organization_ids == frozenset()


def test_a_user_without_membership_is_public_but_authenticated() -> None:
    user = User.objects.create_user("lonely")
    scope = scope_for(user)
    assert scope.persona is Persona.PUBLIC
    assert scope.user_id == user.pk
    assert scope.is_authenticated


def test_a_state_agent_covers_the_union_of_its_services_departements(
    make_member: MakeMember,
) -> None:
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13", "84"])
    region = Organization.objects.create(
        name="SGAR", kind=OrganizationKind.STATE_SERVICE, territory_departments=["83"]
    )
    Membership.objects.create(user=agent, organization=region, role=Role.VIEWER)
    scope = scope_for(fresh(agent))
    assert scope.persona is Persona.STATE_AGENT
    assert scope.is_state_agent
    assert scope.departments == frozenset({"13", "83", "84"})
    assert scope.covers_department("83")
    assert not scope.covers_department("06")
    assert len(scope.state_service_ids) == 2


def test_a_national_service_has_no_territorial_limit(make_member: MakeMember) -> None:
    """A DIE agent: a service with an empty territory covers every département."""
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    national = Organization.objects.create(
        name="DIE", kind=OrganizationKind.STATE_SERVICE
    )
    Membership.objects.create(user=agent, organization=national, role=Role.VIEWER)
    scope = scope_for(fresh(agent))
    assert scope.departments is None
    assert scope.covers_department("976")


def test_an_operator_acts_for_its_organization_only(make_member: MakeMember) -> None:
    user = make_member(OrganizationKind.OPERATOR, role=Role.ADMIN)
    organization = user.memberships.get().organization
    scope = scope_for(user)
    assert scope.persona is Persona.OPERATOR
    assert scope.operator_ids == frozenset({organization.pk})
    assert scope.organization_ids == frozenset({organization.pk})
    assert scope.can_write(organization.pk)
    assert scope.departments == frozenset()
    assert not scope.covers_department("13")


def test_a_funder_viewer_reads_but_cannot_write(make_member: MakeMember) -> None:
    user = make_member(OrganizationKind.FUNDER, role=Role.VIEWER)
    organization = user.memberships.get().organization
    scope = scope_for(user)
    assert scope.persona is Persona.FUNDER
    assert scope.funder_ids == frozenset({organization.pk})
    assert not scope.can_write(organization.pk)
    assert scope.writable_ids == frozenset()


def test_a_superuser_is_a_state_agent_without_territorial_limit() -> None:
    admin = User.objects.create_superuser("root", password="x" * 20)
    scope = scope_for(admin)
    assert scope.persona is Persona.STATE_AGENT
    assert scope.departments is None
    assert scope.organization_ids == frozenset()


def test_several_memberships_keep_every_organization_and_the_strongest_persona(
    make_member: MakeMember,
) -> None:
    """State service beats operator beats funder; writes follow each role."""
    user = make_member(OrganizationKind.FUNDER, role=Role.ADMIN)
    funder_id = user.memberships.get().organization_id
    operator = Organization.objects.create(name="Op", kind=OrganizationKind.OPERATOR)
    Membership.objects.create(user=user, organization=operator, role=Role.VIEWER)
    scope = scope_for(fresh(user))
    assert scope.persona is Persona.OPERATOR
    assert scope.organization_ids == frozenset({funder_id, operator.pk})
    assert scope.writable_ids == frozenset({funder_id})

    state = Organization.objects.create(
        name="DDFiP", kind=OrganizationKind.STATE_SERVICE, territory_departments=["13"]
    )
    Membership.objects.create(user=user, organization=state, role=Role.EDITOR)
    scope = scope_for(fresh(user))
    assert scope.persona is Persona.STATE_AGENT
    assert scope.departments == frozenset({"13"})
    assert scope.writable_ids == frozenset({funder_id, state.pk})


def test_an_organization_of_kind_other_gives_no_persona(
    make_member: MakeMember,
) -> None:
    user = make_member(OrganizationKind.OTHER, role=Role.ADMIN)
    assert scope_for(user).persona is Persona.PUBLIC


def test_an_inactive_user_gets_the_public_scope(make_member: MakeMember) -> None:
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    user.is_active = False
    assert scope_for(user) is PUBLIC_SCOPE


def test_the_scope_costs_one_query_and_is_cached_on_the_user_object(
    make_member: MakeMember, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    user = fresh(make_member(OrganizationKind.OPERATOR))
    with django_assert_num_queries(1):
        first = scope_for(user)
    with django_assert_num_queries(0):
        assert scope_for(user) is first
    # Per object, not per id: another instance of the same user asks again.
    other_instance = User(pk=user.pk, username=user.username)
    with django_assert_num_queries(1):
        assert scope_for(other_instance) == first


def test_scope_of_reads_memberships_rows_as_scope_for_does() -> None:
    """The pure half of scope_for: (organization id, kind, role, territory) rows."""
    rows = [
        (1, OrganizationKind.STATE_SERVICE.value, Role.VIEWER.value, ["13", "84"]),
        (2, OrganizationKind.STATE_SERVICE.value, Role.EDITOR.value, ["83"]),
        (3, OrganizationKind.OPERATOR.value, Role.ADMIN.value, []),
        (4, OrganizationKind.FUNDER.value, Role.VIEWER.value, None),
    ]
    scope = scope_of(7, rows)
    assert scope.user_id == 7
    assert scope.persona is Persona.STATE_AGENT
    assert scope.state_service_ids == frozenset({1, 2})
    assert scope.operator_ids == frozenset({3})
    assert scope.funder_ids == frozenset({4})
    assert scope.writable_ids == frozenset({2, 3})
    assert scope.departments == frozenset({"13", "83", "84"})
    # A State service without a territory is national; a superuser too.
    national = scope_of(7, [*rows, (5, "state_service", "viewer", [])])
    assert national.departments is None
    superuser = scope_of(8, [], is_superuser=True)
    assert superuser.persona is Persona.STATE_AGENT
    assert superuser.departments is None
    assert scope_of(9, []).persona is Persona.PUBLIC
    assert scope_of(9, [(3, "operator", "viewer", None)]).persona is Persona.OPERATOR
