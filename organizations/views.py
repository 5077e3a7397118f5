"""The UI shell: login, logout, and each persona's landing page."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from occupancy import views as occupancy_views
from organizations.forms import AdminPasswordChangeForm, LoginForm
from organizations.lockout import account_locked_for
from organizations.selectors import Persona, scope_for

# The landing page of each persona, by URL slug.
SPACES: dict[Persona, str] = {
    Persona.STATE_AGENT: "agent",
    Persona.OPERATOR: "operateur",
    Persona.FUNDER: "financeur",
}


def home(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if scope.persona in SPACES:
        return redirect("persona-space", space=SPACES[scope.persona])
    return render(request, "pages/home_public.html", {"scope": scope})


def persona_space(request: HttpRequest, space: str) -> HttpResponse:
    scope = scope_for(request.user)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    if SPACES.get(scope.persona) != space:
        raise Http404
    if scope.persona is Persona.OPERATOR:
        # The operator space is the list of its sites.
        return occupancy_views.my_sites_page(request)
    return render(request, f"pages/space_{scope.persona.value}.html", {"scope": scope})


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class AdminPasswordChangeView(auth_views.PasswordChangeView):
    """The admin's "Change password" (config.admin.AdminSite): the old password
    goes through ``authenticate``, so wrong ones count towards the lockouts.

    When the lock holds, the answer is the lockout's (django-axes' middleware,
    ``lockout_response``) and this session is logged out: a session that cannot
    prove the account's password while no login may is treated as a refused
    login; its owner logs in again once the lock lifts.
    """

    form_class = AdminPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["request"] = self.request
        return kwargs

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if getattr(request, "axes_locked_out", False):
            logout(request)
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("home")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' lockout answer: JSON on the API, a page elsewhere, 429 both;
    the same words for the per-account cap (organizations.lockout), with its wait
    when that is the longer one."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    username = get_client_username(request, credentials)
    if username is not None:
        seconds = max(seconds, account_locked_for(username))
    minutes = math.ceil(seconds / 60)
    message = _(
        "Too many failed attempts: this account is locked for %(minutes)d minutes."
    ) % {"minutes": minutes}
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "locked_out", "detail": message}, status=429)
    else:
        response = render(
            request, "registration/locked_out.html", {"message": message}, status=429
        )
    response["Retry-After"] = str(seconds)
    return response
