"""The UI shell: logging in lands each persona in its own space; language; sessions."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from organizations.models import OrganizationKind
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/compte/connexion/"
LOGOUT = "/compte/deconnexion/"
SPACES = {
    OrganizationKind.STATE_SERVICE: "/espace/agent/",
    OrganizationKind.OPERATOR: "/espace/operateur/",
    OrganizationKind.FUNDER: "/espace/financeur/",
}
TITLES = {
    OrganizationKind.STATE_SERVICE: "Espace immobilier de l’État",
    OrganizationKind.OPERATOR: "Mes sites",
    OrganizationKind.FUNDER: "Tableau de bord des financements",
}


def log_in(client: Client, user: User) -> None:
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content


@pytest.mark.parametrize("kind", list(SPACES))
def test_each_persona_logs_in_through_the_form_and_lands_in_its_space(
    client: Client, make_member: Callable[..., User], kind: OrganizationKind
) -> None:
    user = make_member(kind)
    response = client.post(
        LOGIN, {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain == [("/", 302), (SPACES[kind], 302)]
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="space-title">{TITLES[kind]}</h1>' in html
    assert f'data-testid="current-user">{user.username}<' in html


@pytest.mark.parametrize("kind", list(SPACES))
def test_a_persona_cannot_open_another_personas_space(
    client: Client, make_member: Callable[..., User], kind: OrganizationKind
) -> None:
    client.force_login(make_member(kind))
    for other_kind, url in SPACES.items():
        expected = 200 if other_kind == kind else 404
        assert client.get(url).status_code == expected, url
    assert client.get("/espace/inconnu/").status_code == 404


@pytest.mark.parametrize("staff", [False, True])
def test_the_agent_space_leads_to_the_agents_pages_that_answer_them(
    client: Client, make_member: Callable[..., User], staff: bool
) -> None:
    """The README's landing page (map, buildings, agreements, alerts) said those
    pages were still to come, and linked only the administration, which turned
    away agents who are not staff."""
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    agent.is_staff = staff
    agent.save()
    client.force_login(agent)
    html = client.get("/espace/agent/").content.decode()
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    links = set(re.findall(r'<a [^>]*href="([^"]+)"', main))
    pages = {"/carte/", "/batiments/", "/conventions/", "/conventions/alertes/"}
    assert pages <= links
    assert ("/admin/" in links) is staff
    for link in links - {"/admin/"}:
        assert client.get(link).status_code == 200, link


def test_an_anonymous_visitor_is_sent_to_the_login_page_from_a_space(
    client: Client,
) -> None:
    response = client.get("/espace/agent/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/espace/agent/"


def test_a_user_without_persona_sees_the_public_home(
    client: Client, make_member: Callable[..., User]
) -> None:
    client.force_login(make_member(OrganizationKind.OTHER))
    response = client.get("/")
    assert response.status_code == 200
    assert b'data-testid="public-home"' in response.content
    assert client.get("/espace/agent/").status_code == 404


def test_a_wrong_password_shows_the_form_again_with_an_error(
    client: Client, make_member: Callable[..., User]
) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    response = client.post(LOGIN, {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert b'data-testid="login-error"' in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", [LOGIN, "/admin/login/"])
def test_a_username_longer_than_any_accounts_is_refused_by_the_form(
    client: Client, page: str
) -> None:
    """256 characters and more answered a 500: django-axes records each failed
    username in a varchar(255), and Django's form only sets the input's maxlength."""
    response = client.post(page, {"username": "x" * 256, "password": "whatever"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert not AccessAttempt.objects.exists()


def test_the_login_page_follows_a_same_site_next_but_not_another_host(
    client: Client, make_member: Callable[..., User]
) -> None:
    user = make_member(OrganizationKind.OPERATOR)
    response = client.post(
        LOGIN,
        {
            "username": user.username,
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"
    client.post(LOGOUT)
    response = client.post(
        LOGIN,
        {"username": user.username, "password": PASSWORD, "next": "/api/docs/"},
    )
    assert response["Location"] == "/api/docs/"


# --- Language


def test_the_public_home_is_french_by_default(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr"' in html
    assert "Bâtiments vacants de l’État, ouverts à des usages sociaux" in html
    assert "Se connecter" in html
    assert b'data-testid="public-home"' in response.content


def test_the_language_switcher_turns_the_site_to_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    html = client.get("/").content.decode()
    assert '<html lang="en"' in html
    assert "Vacant State buildings, open to temporary social use" in html
    assert "Log in" in html
    assert "Bâtiments vacants" not in html


def test_a_browser_asking_for_english_gets_english(client: Client) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    assert "Vacant State buildings, open to temporary social use" in html


def test_the_switcher_posts_back_to_the_current_page_in_both_languages(
    client: Client,
) -> None:
    html = client.get(LOGIN).content.decode()
    assert 'action="/i18n/setlang/" method="post"' in html
    assert 'name="next" type="hidden" value="/compte/connexion/"' in html
    assert 'name="language" value="fr"' in html
    assert 'name="language" value="en"' in html


# --- Sessions


def test_logout_is_post_only_and_ends_the_server_side_session(
    client: Client, make_member: Callable[..., User]
) -> None:
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    log_in(client, user)
    old_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(LOGOUT).status_code == 405
    assert client.get("/espace/agent/").status_code == 200

    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/espace/agent/").status_code == 302

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    assert replay.get("/espace/agent/").status_code == 302


def test_an_idle_session_is_logged_out(
    client: Client, make_member: Callable[..., User]
) -> None:
    log_in(client, make_member(OrganizationKind.FUNDER))
    assert client.get("/espace/financeur/").status_code == 200
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_SECONDS - 5
    session.save()
    response = client.get("/espace/financeur/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session


def test_a_session_in_use_is_kept_and_its_last_seen_time_refreshed(
    client: Client, make_member: Callable[..., User]
) -> None:
    log_in(client, make_member(OrganizationKind.FUNDER))
    session = client.session
    stale = int(time.time()) - settings.SESSION_IDLE_SECONDS + 120
    session["last_seen"] = stale
    session.save()
    assert client.get("/espace/financeur/").status_code == 200
    assert client.session["last_seen"] > stale


def test_the_session_cookie_is_http_only_and_same_site_lax(
    client: Client, make_member: Callable[..., User]
) -> None:
    log_in(client, make_member(OrganizationKind.OPERATOR))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) <= 12 * 3600
