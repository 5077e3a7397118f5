"""Access to the UI's pages by persona: one decorator that every app's pages use.

A page is for some personas only (DESIGN.md, "Users"): anonymous visitors are
sent to the login page, logged-in users of another persona get a 404 (the page
does not exist for them, as the API answers for objects out of scope), and the
view receives the caller's scope after the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase

from organizations.selectors import Scope, scope_for

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)
PageView = Callable[Concatenate[HttpRequest, Scope, P], R]
Page = Callable[Concatenate[HttpRequest, P], R | HttpResponseRedirect]


def persona_page(
    admits: Callable[[Scope], bool],
) -> Callable[[PageView[P, R]], Page[P, R]]:
    """A decorator for pages whose caller's scope ``admits``: login for anonymous
    visitors, 404 for a scope it refuses, ``view(request, scope, …)`` otherwise."""

    def decorate(view: PageView[P, R]) -> Page[P, R]:
        def page(
            request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs
        ) -> R | HttpResponseRedirect:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            scope = scope_for(request.user)
            if not admits(scope):
                raise Http404
            return view(request, scope, *args, **kwargs)

        functools.update_wrapper(page, view)
        return page

    return decorate


def acting_user(request: HttpRequest) -> User:
    """The logged-in user a write is recorded against (audit, status history)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
