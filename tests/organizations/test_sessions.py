"""The session store and the authentication backend that read a logged-in
caller with plain statements (config.sessions, organizations.backends): the
same answers as Django's own, for good, expired, forged and malformed input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from config.sessions import SessionStore
from organizations.backends import ModelBackend
from organizations.models import OrganizationKind
from organizations.selectors import scope_for

pytestmark = pytest.mark.django_db

MakeMember = Callable[..., User]


def test_the_settings_use_them() -> None:
    assert settings.SESSION_ENGINE == "config.sessions"
    assert "organizations.backends.ModelBackend" in settings.AUTHENTICATION_BACKENDS
    assert "django.contrib.auth.backends.ModelBackend" not in (
        settings.AUTHENTICATION_BACKENDS
    )


def test_a_stored_session_reads_as_djangos_store_reads_it() -> None:
    store = SessionStore()
    store["answer"] = 42
    store["user"] = "agent"
    store.save()
    ours = SessionStore(store.session_key)
    theirs = DjangoSessionStore(store.session_key)
    assert ours.load() == theirs.load() == {"answer": 42, "user": "agent"}
    assert ours.session_key == store.session_key


def test_an_expired_session_reads_empty_and_drops_its_key() -> None:
    store = SessionStore()
    store["answer"] = 42
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    ours = SessionStore(store.session_key)
    assert ours.load() == {}
    assert ours.session_key is None
    assert DjangoSessionStore(store.session_key).load() == {}


@pytest.mark.parametrize(
    "key",
    ["", "short", "x" * 40, "' OR 1=1 --abcdefgh", "ünïcödé-key-0123456789"],
)
def test_unknown_and_malformed_keys_read_empty(key: str) -> None:
    ours = SessionStore(key)
    assert ours.load() == {}
    assert ours.session_key is None


def test_a_forged_session_row_reads_empty() -> None:
    store = SessionStore()
    store["answer"] = 42
    store.save()
    Session.objects.filter(session_key=store.session_key).update(
        session_data="not-signed-data"
    )
    assert SessionStore(store.session_key).load() == {}


def test_the_backend_loads_the_user_djangos_backend_loads() -> None:
    user = User.objects.create_user(
        "agent", password="a long enough password", email="a@example.org"
    )
    ours = ModelBackend().get_user(user.pk)
    theirs = DjangoModelBackend().get_user(user.pk)
    assert ours is not None
    assert theirs is not None
    fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    assert {f: getattr(ours, f) for f in fields} == {
        f: getattr(theirs, f) for f in fields
    }
    assert not ours._state.adding
    assert ours.check_password("a long enough password")


def test_the_backend_gives_the_user_the_scope_of_their_memberships(
    make_member: MakeMember, django_assert_num_queries: Callable[..., Any]
) -> None:
    """Read in the user's statement, the same scope as scope_for's own query."""
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13", "84"])
    with django_assert_num_queries(1):
        user = ModelBackend().get_user(agent.pk)
        assert user is not None
        scope = scope_for(user)
    assert scope == scope_for(User.objects.get(pk=agent.pk))
    assert scope.is_state_agent
    assert scope.departments == frozenset({"13", "84"})
    lonely = User.objects.create_user("lonely")
    with django_assert_num_queries(1):
        user = ModelBackend().get_user(lonely.pk)
        assert user is not None
        alone = scope_for(user)
    assert alone == scope_for(User.objects.get(pk=lonely.pk))
    assert alone.persona == "public"
    assert alone.is_authenticated


@pytest.mark.parametrize("user_id", [10**9, "abc", None, "1; DROP TABLE auth_user"])
def test_the_backend_answers_none_for_an_unknown_or_malformed_id(
    user_id: object,
) -> None:
    User.objects.create_user("agent")
    assert ModelBackend().get_user(user_id) is None
    assert User.objects.filter(username="agent").exists()


def test_the_backend_refuses_an_inactive_user() -> None:
    user = User.objects.create_user("gone", is_active=False)
    assert ModelBackend().get_user(user.pk) is None


def test_a_logged_in_caller_costs_two_statements(
    make_member: MakeMember, django_assert_num_queries: Callable[..., Any]
) -> None:
    """The session, then the user with their memberships, before the view's own."""
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    client = Client()
    client.force_login(agent)
    tile = "/tiles/buildings/14/8392/5967.pbf"
    client.get(tile)
    with django_assert_num_queries(3):  # the two, and the tile's statement
        response = client.get(tile)
    assert response.status_code in (200, 204)
    assert response["Cache-Control"].startswith("private")


def test_a_session_stops_authenticating_when_its_user_is_deactivated(
    make_member: MakeMember,
) -> None:
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    client = Client()
    client.force_login(agent)
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["persona"] == "state_agent"
    User.objects.filter(pk=agent.pk).update(is_active=False)
    assert client.get("/api/v1/me/").status_code in (401, 403)
