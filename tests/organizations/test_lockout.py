"""The per-account cap on failed logins (organizations/lockout.py): an attacker
rotating addresses got LOGIN_FAILURE_LIMIT guesses from each, without end; now an
account takes at most LOGIN_ACCOUNT_FAILURE_LIMIT failures an hour, whatever the
address, at the token endpoint, the login page and the admin's password change,
with the lockout's own answer.
Counted in the cache the tests run with (CACHE_BACKEND, locmem)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from knox.models import AuthToken
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from organizations import lockout
from organizations.models import OrganizationKind
from tests.conftest import PASSWORD
from tests.organizations.test_password_change import NEW_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
LOGIN_URL = "/compte/connexion/"
LIMIT = 8  # reached with two failures from each of four addresses
WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def account_limit(settings: Settings) -> int:
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = LIMIT
    return LIMIT


@pytest.fixture
def addresses() -> Iterator[str]:
    """A new client address for every call (documentation range, RFC 5737)."""
    return (f"203.0.113.{n}" for n in count(1))


@pytest.fixture
def operator(make_member: Callable[..., User]) -> User:
    return make_member(OrganizationKind.OPERATOR, username="yes-we-camp")


def token_attempt(username: str, password: str, address: str) -> Any:
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, REMOTE_ADDR=address
    )


def page_attempt(username: str, password: str, address: str) -> Any:
    return Client().post(
        LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address
    )


def spread_failures(
    attempt: Callable[[str, str, str], Any],
    username: str,
    addresses: Iterator[str],
    failures: int = LIMIT,
) -> list[int]:
    """``failures`` wrong passwords, two from each address: never the five that
    lock a username and address."""
    statuses = []
    for _ in range(failures // 2):
        address = next(addresses)
        statuses += [attempt(username, WRONG, address).status_code for _ in range(2)]
    return statuses


def shape(message: str) -> str:
    return re.sub(r"\d+", "N", message)


def test_the_cap_defaults_to_a_hundred_failures_an_hour() -> None:
    from config import settings as project_settings

    assert project_settings.LOGIN_ACCOUNT_FAILURE_LIMIT == 100
    assert lockout.WINDOW_SECONDS == 3600
    assert settings.AXES_HANDLER == "organizations.lockout.LockoutHandler"


def test_failures_from_many_addresses_lock_the_account_at_the_token_endpoint(
    operator: User, addresses: Iterator[str]
) -> None:
    """Before: four addresses, eight failures, and the right password from a
    fifth address still got a token; an attacker could go on for ever."""
    statuses = spread_failures(token_attempt, operator.username, addresses)
    assert statuses == [403] * (LIMIT - 1) + [429]

    response = token_attempt(operator.username, PASSWORD, next(addresses))

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "locked_out"
    assert 3600 <= int(response["Retry-After"]) <= 3600 + lockout.BUCKET_SECONDS
    assert not AuthToken.objects.filter(user=operator).exists()


def test_the_message_is_the_per_address_lockouts(
    operator: User, make_member: Callable[..., User], addresses: Iterator[str]
) -> None:
    """The same code and words (only the minutes differ): nothing tells which
    lock holds, nor whether the account exists."""
    other = make_member(OrganizationKind.OPERATOR)
    address = next(addresses)
    for _ in range(5):
        per_address = token_attempt(other.username, WRONG, address)
    assert per_address.status_code == 429
    spread_failures(token_attempt, operator.username, addresses)
    per_account = token_attempt(operator.username, PASSWORD, next(addresses))
    assert per_account.json()["code"] == per_address.json()["code"]
    assert shape(per_account.json()["detail"]) == shape(per_address.json()["detail"])
    assert per_account.json()["detail"] != per_address.json()["detail"]  # 60 vs 15


def test_failures_from_many_addresses_lock_the_account_at_the_login_page(
    operator: User, addresses: Iterator[str]
) -> None:
    statuses = spread_failures(page_attempt, operator.username, addresses)
    assert statuses == [200] * (LIMIT - 1) + [429]  # the form again, then locked

    response = page_attempt(operator.username, PASSWORD, next(addresses))

    assert response.status_code == 429
    assert b'data-testid="locked-out"' in response.content
    assert int(response["Retry-After"]) >= 3600


def test_the_admins_login_is_capped_too(
    operator: User, addresses: Iterator[str]
) -> None:
    operator.is_staff = True
    operator.save()

    def admin_attempt(username: str, password: str, address: str) -> Any:
        return Client().post(
            "/admin/login/",
            {"username": username, "password": password},
            REMOTE_ADDR=address,
        )

    statuses = spread_failures(admin_attempt, operator.username, addresses)
    assert statuses[-1] == 429
    assert admin_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        429
    )


def test_the_token_endpoint_and_the_login_page_share_the_count(
    operator: User, addresses: Iterator[str]
) -> None:
    spread_failures(token_attempt, operator.username, addresses, LIMIT // 2)
    spread_failures(page_attempt, operator.username, addresses, LIMIT // 2)
    assert page_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        429
    )
    assert token_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        429
    )


def test_an_unknown_username_behaves_as_an_account(
    operator: User, addresses: Iterator[str]
) -> None:
    known = spread_failures(token_attempt, operator.username, addresses)
    unknown = spread_failures(token_attempt, "nobody-here", addresses)
    assert known == unknown
    known_after = token_attempt(operator.username, WRONG, next(addresses))
    unknown_after = token_attempt("nobody-here", WRONG, next(addresses))
    assert known_after.status_code == unknown_after.status_code == 429
    assert known_after.json() == unknown_after.json()
    assert known_after["Retry-After"] == unknown_after["Retry-After"]


def test_the_cap_locks_that_account_only(
    operator: User, make_member: Callable[..., User], addresses: Iterator[str]
) -> None:
    other = make_member(OrganizationKind.FUNDER)
    spread_failures(token_attempt, operator.username, addresses)
    address = next(addresses)
    assert token_attempt(other.username, PASSWORD, address).status_code == 201


def test_attempts_the_lock_refused_are_not_counted_and_an_hour_frees_the_account(
    operator: User, addresses: Iterator[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused attempt tests no password: counting it would keep the account
    locked while anyone knocks. The failures stop counting after an hour."""
    now = 1_800_000_000.0
    monkeypatch.setattr(lockout, "clock", lambda: now)
    spread_failures(token_attempt, operator.username, addresses)
    for _ in range(10):
        token_attempt(operator.username, WRONG, next(addresses))
    now += lockout.WINDOW_SECONDS - lockout.BUCKET_SECONDS
    assert token_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        429
    )
    now += 2 * lockout.BUCKET_SECONDS
    assert token_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        201
    )


def test_a_success_does_not_clear_the_accounts_count(
    operator: User, addresses: Iterator[str]
) -> None:
    """Else the owner logging in would give an attacker LIMIT more guesses."""
    spread_failures(token_attempt, operator.username, addresses, LIMIT - 2)
    assert token_attempt(operator.username, PASSWORD, next(addresses)).status_code == (
        201
    )
    statuses = spread_failures(token_attempt, operator.username, addresses, 2)
    assert statuses == [403, 429]


PASSWORD_CHANGE_URL = "/admin/password_change/"


def change_attempt(client: Client, old_password: str, address: str) -> Any:
    return client.post(
        PASSWORD_CHANGE_URL,
        {
            "old_password": old_password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        REMOTE_ADDR=address,
    )


def test_the_admins_password_change_counts_wrong_old_passwords(
    staff_agent: User, addresses: Iterator[str]
) -> None:
    """Before: the form called ``check_password``, so a staff session tried old
    passwords without end (twenty wrong ones, then the right one changed it),
    counted by neither lock. Now each is a failed login: the account locks at
    the limit, and the session that reached it is logged out."""
    client = Client()
    client.force_login(staff_agent)

    statuses = spread_failures(
        lambda _username, password, address: change_attempt(client, password, address),
        staff_agent.username,
        addresses,
    )

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert lockout.account_locked_for(staff_agent.username) > 0
    assert AccessAttempt.objects.filter(username=staff_agent.username).exists()
    # Logged out: the right old password now leads to the admin's login.
    response = change_attempt(client, PASSWORD, next(addresses))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    staff_agent.refresh_from_db()
    assert staff_agent.check_password(PASSWORD)


def test_a_locked_account_cannot_change_its_password_even_with_the_right_one(
    staff_agent: User, addresses: Iterator[str]
) -> None:
    spread_failures(token_attempt, staff_agent.username, addresses)
    client = Client()
    client.force_login(staff_agent)

    response = change_attempt(client, PASSWORD, next(addresses))

    assert response.status_code == 429
    assert b'data-testid="locked-out"' in response.content
    assert int(response["Retry-After"]) >= 3600
    staff_agent.refresh_from_db()
    assert staff_agent.check_password(PASSWORD)
    assert "_auth_user_id" not in client.session


def test_five_wrong_old_passwords_from_one_address_lock_that_pair(
    staff_agent: User,
) -> None:
    """django-axes' own lock (LOGIN_FAILURE_LIMIT per username and address)."""
    client = Client()
    client.force_login(staff_agent)
    statuses = [
        change_attempt(client, WRONG, "203.0.113.9").status_code for _ in range(5)
    ]
    assert statuses == [200] * 4 + [429]
    assert page_attempt(staff_agent.username, PASSWORD, "203.0.113.9").status_code == (
        429
    )
    assert page_attempt(staff_agent.username, PASSWORD, "203.0.113.10").status_code == (
        302
    )


def test_the_right_old_password_still_changes_it(staff_agent: User) -> None:
    client = Client()
    client.force_login(staff_agent)
    assert change_attempt(client, WRONG, "203.0.113.9").status_code == 200

    response = change_attempt(client, PASSWORD, "203.0.113.9")

    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/done/"
    staff_agent.refresh_from_db()
    assert staff_agent.check_password(NEW_PASSWORD)
