"""organizations.pages: the one access rule behind every app's pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.test import RequestFactory

from buildings.views import state_agent_page
from finance.views import finance_page
from occupancy.views import operator_page
from organizations.models import OrganizationKind
from organizations.pages import acting_user, persona_page
from organizations.selectors import Scope

pytestmark = pytest.mark.django_db


def request_by(user: User | AnonymousUser) -> HttpRequest:
    request = RequestFactory().get("/page/7/?tab=history")
    request.user = user
    return request


def test_anonymous_visitors_go_to_the_login_page_with_the_page_to_come_back_to() -> (
    None
):
    calls: list[Scope] = []

    @persona_page(lambda scope: True)
    def view(request: HttpRequest, scope: Scope) -> HttpResponse:
        calls.append(scope)
        return HttpResponse("seen")

    response = view(request_by(AnonymousUser()))
    assert response.status_code == 302
    assert response["Location"] == "/compte/connexion/?next=/page/7/%3Ftab%3Dhistory"
    assert calls == []


def test_the_view_gets_the_callers_scope_and_its_arguments(agent: User) -> None:
    seen: list[tuple[Scope, int]] = []

    @persona_page(lambda scope: scope.is_state_agent)
    def view(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
        seen.append((scope, pk))
        return HttpResponse("seen")

    assert view.__name__ == "view"
    response = view(request_by(agent), pk=7)
    assert response.content == b"seen"
    ((scope, pk),) = seen
    assert scope.is_state_agent
    assert scope.departments == frozenset({"13"})
    assert scope.user_id == agent.pk
    assert pk == 7


# Which persona each app's pages admit.
ADMITTED = {
    "state_agent_page": {OrganizationKind.STATE_SERVICE},
    "operator_page": {OrganizationKind.OPERATOR},
    "finance_page": {OrganizationKind.STATE_SERVICE, OrganizationKind.FUNDER},
}
DECORATORS = {
    "state_agent_page": state_agent_page,
    "operator_page": operator_page,
    "finance_page": finance_page,
}


@pytest.mark.parametrize("name", list(DECORATORS))
@pytest.mark.parametrize(
    "kind",
    [
        OrganizationKind.STATE_SERVICE,
        OrganizationKind.OPERATOR,
        OrganizationKind.FUNDER,
    ],
)
def test_each_apps_pages_admit_their_personas_and_hide_from_the_others(
    make_member: Callable[..., User], name: str, kind: OrganizationKind
) -> None:
    @DECORATORS[name]
    def view(request: HttpRequest, scope: Scope) -> HttpResponse:
        return HttpResponse("seen")

    request = request_by(make_member(kind))
    if kind in ADMITTED[name]:
        assert view(request).content == b"seen"
    else:
        with pytest.raises(Http404):
            view(request)


def test_writes_are_recorded_against_a_logged_in_user_only(agent: User) -> None:
    assert acting_user(request_by(agent)) == agent
    with pytest.raises(PermissionDenied):
        acting_user(request_by(AnonymousUser()))
