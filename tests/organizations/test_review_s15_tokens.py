"""Review s15: API tokens end when the *password* changes (organizations
migration 0002), not when Django merely re-hashes the same password.

Django re-hashes a password on a successful check when its stored hash uses a
hasher or a work factor no longer preferred (``User.check_password`` ->
``set_password`` + ``save(update_fields=["password"])``), e.g. after every
Django upgrade that raises the PBKDF2 iterations. The trigger sees a new hash
and deletes every token of the account: logging in (page, admin or token
endpoint) silently revokes the user's other API tokens (scripts, other
clients), though the password is the same. README: "API tokens end with the
password".
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import User
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from organizations.models import OrganizationKind
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


class CheapPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The "new" preferred hasher, cheap enough for a test."""

    iterations = 1000


PREFERRED_FIRST = [
    f"{__name__}.CheapPBKDF2PasswordHasher",  # preferred now
    "django.contrib.auth.hashers.MD5PasswordHasher",  # the one stored before
]


def test_a_rehash_of_the_same_password_on_login_keeps_the_other_tokens(
    make_member: Callable[..., User],
) -> None:
    user = make_member(OrganizationKind.OPERATOR, username="rehash-me")
    # Stored with the older hasher, as after an upgrade of the preferred one.
    User.objects.filter(pk=user.pk).update(
        password=make_password(PASSWORD, hasher="md5")
    )
    _instance, _script_token = AuthToken.objects.create(user=user)
    with override_settings(PASSWORD_HASHERS=PREFERRED_FIRST):
        response = APIClient().post(
            TOKEN_URL, {"username": "rehash-me", "password": PASSWORD}
        )
    assert response.status_code == 201, response.content
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # Django did re-hash it
    # The password did not change: the script's token must still be there.
    assert AuthToken.objects.filter(user=user).count() == 2


def test_a_password_change_after_a_login_in_the_same_transaction_ends_the_tokens(
    make_member: Callable[..., User],
) -> None:
    """The rehash mark ends with the login: it is set for the transaction (the
    test's own here, as a request's under ATOMIC_REQUESTS), and taken off."""
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    user = make_member(OrganizationKind.OPERATOR, username="rehash-then-change")
    User.objects.filter(pk=user.pk).update(
        password=make_password(PASSWORD, hasher="md5")
    )
    AuthToken.objects.create(user=user)
    with override_settings(PASSWORD_HASHERS=PREFERRED_FIRST):
        assert authenticate(
            RequestFactory().post("/compte/connexion/"),
            username="rehash-then-change",
            password=PASSWORD,
        )
        assert AuthToken.objects.filter(user=user).count() == 1  # rehashed, kept
        user.refresh_from_db()
        user.set_password("another password, long enough")
        user.save()
    assert not AuthToken.objects.filter(user=user).exists()
