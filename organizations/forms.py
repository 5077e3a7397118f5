"""The login forms, the site's (/compte/connexion/) and the administration's, and
the administration's password change."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.forms import (
    AdminPasswordChangeForm as DjangoAdminPasswordChangeForm,
)
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables


class LoginForm(AuthenticationForm):
    """Refuses a username longer than any account's before authenticate() runs.

    Django's form only sets the input's ``maxlength`` attribute; a longer username
    posted anyway failed to log in, and django-axes, recording the failure in a
    varchar(255), answered it with a 500.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(self.username_field.max_length))


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    pass


class AdminPasswordChangeForm(DjangoAdminPasswordChangeForm):
    """Checks the old password through ``authenticate``, as logging in does.

    Django's form calls ``user.check_password``: whoever held a staff session could
    try old passwords without end, counted by neither django-axes nor the cap per
    account (organizations.lockout). Here each wrong one is a failed login, and a
    locked account is refused before its password is checked, the right one too
    (organizations.views.AdminPasswordChangeView answers with the lockout).
    """

    def __init__(
        self, user: User, *args: Any, request: HttpRequest, **kwargs: Any
    ) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        user = authenticate(
            self.request, username=self.user.get_username(), password=old_password
        )
        if user is None or user.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password
