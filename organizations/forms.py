"""The login forms: the site's (/compte/connexion/) and the administration's."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


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
