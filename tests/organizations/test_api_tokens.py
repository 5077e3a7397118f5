"""API tokens: issued for a password, hashed at rest, expiring, revocable, limited;
password guessing at the token endpoint and the login page ends in a lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import cast

import pytest
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox import auth as knox_auth
from knox.models import AuthToken
from knox.settings import CONSTANTS
from knox.signals import token_expired
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from organizations.authentication import TokenAuthentication
from organizations.models import OrganizationKind
from organizations.selectors import scope_for
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REVOKE_URL = "/api/v1/auth/token/revoke/"
ME_URL = "/api/v1/me/"


@pytest.fixture
def operator(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.OPERATOR, username="yes-we-camp")


def obtain(client: APIClient, username: str, password: str = PASSWORD) -> str:
    response = client.post(TOKEN_URL, {"username": username, "password": password})
    assert response.status_code == 201, response.content
    token: str = response.json()["token"]
    return token


def me(token: str) -> int:
    """The status of GET /me/ with this token, from a client with no session."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(ME_URL).status_code


def test_a_token_is_issued_for_a_username_and_password(
    api_client: APIClient, operator: User
) -> None:
    response = api_client.post(
        TOKEN_URL, {"username": operator.username, "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expiry"}
    assert len(body["token"]) >= 32
    token = AuthToken.objects.get(user=operator)
    ttl = timedelta(days=settings.API_TOKEN_TTL_DAYS)
    assert abs(token.expiry - token.created - ttl) < timedelta(seconds=5)
    operator.refresh_from_db()
    assert operator.last_login is not None


def test_a_wrong_password_gets_403_and_no_token(
    api_client: APIClient, operator: User
) -> None:
    """403, not 401: the endpoint takes no credentials header to challenge for."""
    response = api_client.post(
        TOKEN_URL, {"username": operator.username, "password": "wrong"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "authentication_failed"
    assert not AuthToken.objects.exists()


def test_the_database_stores_only_a_hash_of_the_token(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM knox_authtoken AS t")
        rows = [row[0] for row in cursor.fetchall()]
    assert len(rows) == 1
    assert token not in rows[0]
    # The stored key is a short lookup prefix, far from enough to authenticate.
    stored = AuthToken.objects.get()
    assert token.startswith(stored.token_key)
    assert len(stored.token_key) < len(token) // 2
    assert me(stored.token_key) == 401
    assert me(stored.digest) == 401


def test_the_token_authenticates_the_me_endpoint(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(ME_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "yes-we-camp"
    assert body["persona"] == "operator"
    assert body["memberships"][0]["organization"]["kind"] == "operator"


def test_a_request_without_a_token_gets_401(api_client: APIClient) -> None:
    response = api_client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_an_expired_token_is_refused_and_deleted(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    assert me(token) == 200
    with connection.cursor() as cursor:
        cursor.execute("UPDATE knox_authtoken SET expiry = now() - interval '1 second'")
    assert me(token) == 401
    assert not AuthToken.objects.exists()


def test_a_revoked_token_is_refused_on_the_next_request(
    api_client: APIClient, operator: User
) -> None:
    kept = obtain(api_client, operator.username)
    revoked = obtain(api_client, operator.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {revoked}")
    assert client.post(REVOKE_URL).status_code == 204
    assert client.get(ME_URL).status_code == 401
    assert me(kept) == 200


def test_revoking_with_all_true_revokes_every_token_of_the_user(
    api_client: APIClient, operator: User, make_member: Callable[..., User]
) -> None:
    tokens = [obtain(api_client, operator.username) for _ in range(3)]
    other = make_member(OrganizationKind.OPERATOR)
    other_token = obtain(api_client, other.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    assert client.post(f"{REVOKE_URL}?all=true").status_code == 204
    assert [me(token) for token in tokens] == [401, 401, 401]
    assert me(other_token) == 200


def test_revoking_needs_a_token_not_a_session(client: Client, operator: User) -> None:
    client.force_login(operator)
    assert client.post(REVOKE_URL).status_code == 401


def test_over_the_limit_the_oldest_token_is_evicted(
    api_client: APIClient, operator: User
) -> None:
    limit = settings.API_TOKEN_LIMIT_PER_USER
    tokens = [obtain(api_client, operator.username) for _ in range(limit)]
    newest = obtain(api_client, operator.username)
    assert AuthToken.objects.filter(user=operator).count() == limit
    assert me(tokens[0]) == 401
    assert [me(token) for token in [*tokens[1:], newest]] == [200] * limit


# --- The lookup (organizations/authentication.py): one statement, knox's answers


def _authenticate(token: str) -> tuple[AbstractBaseUser, AuthToken]:
    """Our class's answer, checked against knox's own for the same token."""
    ours = TokenAuthentication().authenticate_credentials(token.encode())
    assert (
        knox_auth.TokenAuthentication().authenticate_credentials(token.encode()) == ours
    )
    return ours


def test_the_api_authenticates_tokens_with_our_class() -> None:
    classes = cast(list[type], api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    assert classes[0] is TokenAuthentication


def test_a_token_and_its_user_are_read_in_one_statement(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    obtain(api_client, operator.username)  # another live token of the same user
    with CaptureQueriesContext(connection) as statements:
        user, auth_token = TokenAuthentication().authenticate_credentials(
            token.encode()
        )
    assert len(statements) == 1
    assert (user.pk, user.get_username(), user.is_active) == (
        operator.pk,
        "yes-we-camp",
        True,
    )
    assert auth_token.user is user
    with CaptureQueriesContext(connection) as scoping:  # read with the token
        scope = scope_for(user)
    assert len(scoping) == 0
    assert scope == scope_for(User.objects.get(pk=operator.pk))
    assert scope.persona == "operator"
    assert auth_token == AuthToken.objects.get(digest=auth_token.digest)
    assert auth_token.expiry == AuthToken.objects.get(pk=auth_token.pk).expiry
    assert _authenticate(token)[0] == operator


def test_a_right_key_with_a_wrong_secret_is_refused(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    key = AuthToken.objects.get().token_key
    forged = key + "0" * (len(token) - len(key))
    assert forged != token
    assert me(forged) == 401
    assert me(key + "not hex at all") == 401
    assert me(token) == 200


def test_a_token_of_an_inactive_user_is_refused(
    api_client: APIClient, operator: User
) -> None:
    token = obtain(api_client, operator.username)
    User.objects.filter(pk=operator.pk).update(is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["detail"] == "Utilisateur inactif ou supprimé."  # knox's


def test_authenticating_deletes_the_users_expired_tokens_as_knox_does(
    api_client: APIClient, operator: User, make_member: Callable[..., User]
) -> None:
    """Our lookup sees the expired token and hands over to knox, which deletes it
    and tells the token_expired receivers; the live token still authenticates."""
    expired, live = (obtain(api_client, operator.username) for _ in range(2))
    other = make_member(OrganizationKind.OPERATOR)
    other_expired = obtain(api_client, other.username)
    AuthToken.objects.filter(
        token_key__in=[
            expired[: CONSTANTS.TOKEN_KEY_LENGTH],
            other_expired[: CONSTANTS.TOKEN_KEY_LENGTH],
        ]
    ).update(expiry=timezone.now() - timedelta(seconds=1))
    told: list[str] = []

    def receiver(sender: object, username: str, **kwargs: object) -> None:
        told.append(username)

    token_expired.connect(receiver)
    try:
        user, _token = TokenAuthentication().authenticate_credentials(live.encode())
    finally:
        token_expired.disconnect(receiver)
    assert user == operator
    assert told == ["yes-we-camp"]
    assert AuthToken.objects.filter(user=operator).count() == 1
    assert AuthToken.objects.filter(user=other).count() == 1  # not this user's


# --- Lockout (django-axes) and throttling


def fail_token(client: APIClient, username: str) -> int:
    return client.post(
        TOKEN_URL, {"username": username, "password": "not-the-password"}
    ).status_code


def test_after_five_failures_even_the_right_password_is_refused_with_json_429(
    api_client: APIClient, operator: User
) -> None:
    failures = [fail_token(api_client, operator.username) for _ in range(5)]
    assert failures[:4] == [403] * 4
    assert failures[4] == 429
    response = api_client.post(
        TOKEN_URL, {"username": operator.username, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "locked_out"
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert not AuthToken.objects.exists()


def test_after_five_failures_the_login_page_refuses_the_right_password_with_429(
    client: Client, operator: User
) -> None:
    for _ in range(5):
        client.post(
            "/compte/connexion/",
            {"username": operator.username, "password": "not-the-password"},
        )
    response = client.post(
        "/compte/connexion/", {"username": operator.username, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"]
    assert b'data-testid="locked-out"' in response.content
    assert "_auth_user_id" not in client.session


def test_failures_at_the_token_endpoint_also_lock_the_login_page(
    api_client: APIClient, client: Client, operator: User
) -> None:
    """One counter per username and address, whichever door was knocked on."""
    for _ in range(5):
        fail_token(api_client, operator.username)
    response = client.post(
        "/compte/connexion/", {"username": operator.username, "password": PASSWORD}
    )
    assert response.status_code == 429


def test_a_lockout_of_one_user_does_not_lock_another(
    api_client: APIClient, operator: User, make_member: Callable[..., User]
) -> None:
    other = make_member(OrganizationKind.FUNDER)
    for _ in range(5):
        fail_token(api_client, operator.username)
    assert obtain(api_client, other.username)


def test_a_success_resets_the_failure_count(
    api_client: APIClient, operator: User
) -> None:
    for _ in range(4):
        assert fail_token(api_client, operator.username) == 403
    obtain(api_client, operator.username)
    for _ in range(4):
        assert fail_token(api_client, operator.username) == 403


def test_twice_the_token_rate_gets_429_with_retry_after_past_the_limit(
    api_client: APIClient, make_member: Callable[..., User]
) -> None:
    """Rate, not lockout: every attempt names a different user, so axes never trips."""
    rate = int(str(api_settings.DEFAULT_THROTTLE_RATES["token"]).split("/")[0])
    statuses = []
    for number in range(2 * rate):
        response = api_client.post(
            TOKEN_URL, {"username": f"nobody-{number}", "password": "x"}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response["Retry-After"]) > 0
            assert response.json()["code"] == "throttled"
    assert statuses == [403] * rate + [429] * rate
