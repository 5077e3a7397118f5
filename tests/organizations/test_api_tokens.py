"""API tokens: issued for a password, hashed at rest, expiring, revocable, limited;
password guessing at the token endpoint and the login page ends in a lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from knox.models import AuthToken
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from organizations.models import OrganizationKind
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
