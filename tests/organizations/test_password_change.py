"""A password change ends every API token of the user (organizations migration
0002, a trigger on the stored hash) and every browser session but the changer's
own (Django's session auth hash), whichever way the password is changed; a
deactivated user's tokens and sessions are refused at once (the token lookup and
the session backend check ``is_active``; tests in test_api_tokens.py and
test_sessions.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from organizations.models import OrganizationKind
from tests.conftest import PASSWORD
from tests.organizations.test_api_tokens import ME_URL, me
from tests.organizations.test_api_tokens import obtain as obtain_with

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-quite-different-passphrase-2026"


def obtain(username: str, password: str = PASSWORD) -> str:
    return obtain_with(APIClient(), username, password)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def by_set_password(user: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def by_update_fields(user: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])


def by_queryset_update(user: User) -> None:
    other = User(username="scratch")
    other.set_password(NEW_PASSWORD)
    User.objects.filter(pk=user.pk).update(password=other.password)


def by_plain_sql(user: User) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE auth_user SET password = '!' || md5(random()::text) WHERE id = %s",
            [user.pk],
        )


def by_changepassword_command(
    user: User, monkeypatch: pytest.MonkeyPatch | None = None
) -> None:
    assert monkeypatch is not None
    monkeypatch.setattr(
        changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD
    )
    call_command("changepassword", user.username, stdout=None)


@pytest.mark.parametrize(
    "change",
    [
        by_set_password,
        by_update_fields,
        by_queryset_update,
        by_plain_sql,
        by_changepassword_command,
    ],
)
def test_a_password_change_revokes_every_token_of_the_user(
    staff_agent: User,
    make_member: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[..., None],
) -> None:
    """Tokens outlived the change until they expired (30 days): a stolen token
    kept working after its victim changed the password."""
    tokens = [obtain(staff_agent.username) for _ in range(3)]
    other = make_member(OrganizationKind.OPERATOR)
    other_token = obtain(other.username)
    assert [me(token) for token in tokens] == [200] * 3

    if change is by_changepassword_command:
        change(staff_agent, monkeypatch)
    else:
        change(staff_agent)

    assert [me(token) for token in tokens] == [401] * 3
    assert not AuthToken.objects.filter(user=staff_agent).exists()
    assert me(other_token) == 200


def test_after_the_change_a_token_is_issued_for_the_new_password(
    staff_agent: User,
) -> None:
    obtain(staff_agent.username)
    by_set_password(staff_agent)
    token = obtain(staff_agent.username, NEW_PASSWORD)
    assert me(token) == 200


def test_saving_a_user_without_a_new_password_keeps_their_tokens(
    staff_agent: User,
) -> None:
    """Only the hash changing revokes: a login (last_login), a rename or a flag
    saved with every column keeps the tokens."""
    token = obtain(staff_agent.username)
    user = User.objects.get(pk=staff_agent.pk)
    user.first_name = "Camille"
    user.is_staff = False
    user.save()
    obtain(staff_agent.username)  # logging in writes last_login
    Client().post(
        "/compte/connexion/", {"username": staff_agent.username, "password": PASSWORD}
    )
    assert me(token) == 200


def test_a_superuser_changing_a_users_password_in_the_admin_revokes_its_tokens(
    staff_agent: User,
) -> None:
    token = obtain(staff_agent.username)
    root = User.objects.create_superuser("root", "root@example.org", "x" * 16)
    url = reverse("admin:auth_user_password_change", args=[staff_agent.pk])

    response = logged_in(root).post(
        url,
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "usable_password": "true",
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    assert me(token) == 401
    assert me(obtain(staff_agent.username, NEW_PASSWORD)) == 200


def test_changing_ones_own_password_ends_the_other_sessions_and_every_token(
    staff_agent: User,
) -> None:
    """Django keeps the changer's session (update_session_auth_hash) and ends the
    others (their stored hash no longer matches); tokens end too."""
    token = obtain(staff_agent.username)
    changer, elsewhere = logged_in(staff_agent), logged_in(staff_agent)
    assert changer.get(ME_URL).status_code == 200
    assert elsewhere.get(ME_URL).status_code == 200

    response = changer.post(
        reverse("admin:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    assert changer.get(ME_URL).status_code == 200
    assert elsewhere.get(ME_URL).status_code in (401, 403)
    assert "_auth_user_id" not in elsewhere.session
    assert me(token) == 401


def test_a_password_set_outside_any_request_ends_every_session(
    staff_agent: User,
) -> None:
    one, two = logged_in(staff_agent), logged_in(staff_agent)
    by_set_password(User.objects.get(pk=staff_agent.pk))
    assert one.get(ME_URL).status_code in (401, 403)
    assert two.get(ME_URL).status_code in (401, 403)
