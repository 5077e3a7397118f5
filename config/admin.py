"""Admin behaviour the apps share: the site (its login and password change go
through the lockouts), rows only the services write, and status moves from the
change page through an app's lifecycle service."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.forms.widgets import MediaDefiningClass
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django_stubs_ext import StrOrPromise

from config.errors import DomainError
from organizations.forms import AdminLoginForm
from organizations.views import AdminPasswordChangeView

M = TypeVar("M", bound=Model)


class AdminSite(admin.AdminSite):
    """``admin.site`` (config.apps.AdminConfig): Django's, with the login form
    and the password change of organizations, whose password checks count
    towards the lockouts (organizations.lockout)."""

    login_form = AdminLoginForm

    def password_change(  # type: ignore[override]  # Django's redirects too
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseBase:
        # Django's, but its view hands the form no request, and its form checks
        # the old password with check_password, outside every lockout.
        request.current_app = self.name
        return AdminPasswordChangeView.as_view(
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)


class ReadOnlyAdminMixin:
    """No add, change or delete from the admin, for model admins and inlines."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuperusersOnlyAdminMixin:
    """Superusers only, whatever model permissions a staff member holds: for the
    rows that say who may do what (users, groups, organizations and their
    territories, memberships and their roles). Otherwise a staff member granted
    those permissions could make itself a member of any service, a national one,
    or a superuser."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


class _AbstractAdminMeta(ABCMeta, MediaDefiningClass):
    """Admin classes' metaclass with abstract methods: a subclass that misses a
    hook cannot be instantiated (registered)."""


class TransitionAdmin(admin.ModelAdmin[M], metaclass=_AbstractAdminMeta):
    """Status moves from the change page, never by editing the status field.

    The change page of a row the caller ``may_transition`` offers the moves: its
    template reads ``transitions`` and posts to ``transition_url`` (named
    ``admin:<app>_<model>_transition``). The POST reads the service's arguments,
    runs ``transition_service`` and reports the outcome as a message, a move the
    domain refuses included, then returns to the change page. Subclasses fill in
    the service and the hooks.
    """

    # Called with ``transition_arguments`` and ``by``; raises DomainError on a
    # refusal. (Wrapped in staticmethod: a plain function would be bound.)
    transition_service: Callable[..., M]

    @abstractmethod
    def may_transition(self, request: HttpRequest, obj: M) -> bool: ...

    @abstractmethod
    def transition_choices(self, obj: M) -> list[tuple[str, StrOrPromise]]:
        """The (status, label) pairs of the moves open from ``obj``'s status."""

    def transition_context(self, obj: M) -> dict[str, Any]:
        """What else the template's move form shows (its fields, for one)."""
        return {}

    @abstractmethod
    def transition_arguments(self, request: HttpRequest, obj: M) -> dict[str, Any]:
        """The service's arguments to move ``obj`` (all but ``by``), from the
        POST; ValidationError when the POST is invalid."""

    @abstractmethod
    def transition_message(self, obj: M) -> str: ...

    def _transition_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_transition"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/transition/",
                self.admin_site.admin_view(self.transition_view),
                name=self._transition_name(),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.may_transition(request, obj):
            context["transitions"] = self.transition_choices(obj)
            context.update(self.transition_context(obj))
            context["transition_url"] = reverse(
                f"admin:{self._transition_name()}", args=[obj.pk]
            )
        return super().change_view(request, object_id, form_url, context)

    def transition_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.may_transition(request, obj):
            raise PermissionDenied
        change_page = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        try:
            arguments = self.transition_arguments(request, obj)
        except ValidationError as error:
            for message in error.messages:
                self.message_user(request, message, level=messages.ERROR)
            return redirect(change_page, obj.pk)
        by = request.user if isinstance(request.user, User) else None
        try:
            obj = self.transition_service(by=by, **arguments)
        except DomainError as error:
            self.message_user(request, error.message, level=messages.ERROR)
        else:
            self.message_user(
                request, self.transition_message(obj), level=messages.SUCCESS
            )
        return redirect(change_page, obj.pk)


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete, drawing a form again after a submitted value that is
    no key of the related table: it filtered that table on the value, a ValueError
    ("abc" for a number) or a DataError (a NUL byte), so a 500 instead of the
    field's "Select a valid choice"."""

    def optgroups(
        self, name: str, value: Sequence[str], attr: Any = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        remote = self.field.remote_field
        key = remote.model._meta.get_field(remote.field_name)
        keys = []
        for item in value:
            try:
                checked = key.to_python(item)
            except ValidationError:
                continue
            if checked is not None and "\x00" not in str(checked):
                keys.append(item)
        return super().optgroups(name, keys, attr)


class CheckedAutocompleteMixin:
    """Admins and inlines with ``autocomplete_fields`` draw them checked (above)."""

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        autocomplete = self.get_autocomplete_fields(request)  # type: ignore[attr-defined]
        if db_field.name in autocomplete and "widget" not in kwargs:
            kwargs["widget"] = CheckedAutocompleteSelect(
                db_field,
                self.admin_site,  # type: ignore[attr-defined]
                using=kwargs.get("using"),
            )
        field: forms.ModelChoiceField[Any] | None = super().formfield_for_foreignkey(  # type: ignore[misc]
            db_field, request, **kwargs
        )
        return field
