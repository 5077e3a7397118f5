"""A crawl of every page a visitor or a persona can reach: nothing is loaded from
another host (but the basemap tiles), every static file referenced exists, and
every inline script or style carries the nonce of the page's policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from organizations.models import OrganizationKind

START = [
    "/",
    "/compte/connexion/",
    "/api/docs/",
    "/admin/login/",
    "/espace/agent/",
    "/espace/operateur/",
    "/espace/financeur/",
]
# Links that change state or leave the HTML pages; forms are not crawled.
SKIP = (
    "/compte/deconnexion/",
    "/i18n/",
    "/static/",
    "/media/",
    "/admin/logout/",
    "/api/v1/",
)
MAX_PAGES = 60
ALLOWED_HOSTS = {urlsplit(settings.BASEMAP_URL).hostname}
URL_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data", "formaction"}
EXTERNAL = re.compile(r"(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", re.I)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@dataclass
class Page(HTMLParser):
    links: list[str] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    inline: list[tuple[str, str | None, str]] = field(default_factory=list)
    style_attributes: list[str] = field(default_factory=list)
    _open: tuple[str, str | None] | None = None

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in URL_ATTRIBUTES:
                for part in value.split(","):
                    if part.strip():
                        self.references.append((f"<{tag} {name}>", part.split()[0]))
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
                for url in CSS_URL.findall(value):
                    self.references.append((f"<{tag} style>", url))
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if tag in ("script", "style") and "src" not in values:
            self._open = (tag, values.get("nonce"))

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            tag, nonce = self._open
            self.inline.append((tag, nonce, data))

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[0] == tag:
            self._open = None


def external_hosts(text: str) -> set[str]:
    return {host.lower() for host in EXTERNAL.findall(text)} - ALLOWED_HOSTS


@dataclass
class Crawl:
    pages: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    static: set[str] = field(default_factory=set)


def crawl(client: Client) -> Crawl:
    result = Crawl()
    queue = list(START)
    while queue and len(result.pages) < MAX_PAGES:
        url = queue.pop(0)
        if url in result.pages:
            continue
        response = client.get(url, follow=True)
        result.pages[url] = response.status_code
        if not response["Content-Type"].startswith("text/html"):
            continue
        final = response.redirect_chain[-1][0] if response.redirect_chain else url
        page = Page()
        page.feed(response.content.decode())
        policy = response.get("Content-Security-Policy", "")
        for where, reference in page.references:
            if external_hosts(reference):
                result.problems.append(f"{url}: {where} {reference}")
            absolute = urljoin(final, reference)
            if absolute.startswith(settings.STATIC_URL):
                result.static.add(absolute.split("#")[0])
        for tag, nonce, text in page.inline:
            for host in external_hosts(text):
                result.problems.append(f"{url}: inline <{tag}> names {host}")
            if not nonce or f"'nonce-{nonce}'" not in policy:
                result.problems.append(f"{url}: inline <{tag}> without the nonce")
        for attribute in page.style_attributes:
            result.problems.append(f"{url}: {attribute} is blocked by the CSP")
        for link in page.links:
            # One visit per path: sorting and filtering variants render alike.
            target = urljoin(final, link).split("#")[0].split("?")[0]
            if (
                target.startswith("/")
                and not target.startswith("//")
                and not target.startswith(SKIP)
                and target not in result.pages
            ):
                queue.append(target)
    return result


def check_static(client: Client, urls: set[str]) -> list[str]:
    """Every static file answers 200; stylesheets are followed one level down."""
    problems = []
    seen: set[str] = set()
    queue = sorted(urls)
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        path = url.split("?")[0]
        response = client.get(path)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        if path.endswith(".css"):
            text = response.getvalue().decode()
            for reference in CSS_URL.findall(text):
                if reference.startswith("data:"):
                    continue
                if external_hosts(reference):
                    problems.append(f"{url}: url({reference})")
                    continue
                queue.append(urljoin(url, reference).split("#")[0])
    return problems


@pytest.fixture
def persona_clients(make_member: Callable[..., User]) -> dict[str, Client]:
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    agent.is_staff = True
    agent.save()
    clients = {"anonymous": Client()}
    for name, user in [
        ("agent", agent),
        ("operator", make_member(OrganizationKind.OPERATOR)),
        ("funder", make_member(OrganizationKind.FUNDER)),
    ]:
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "agent", "operator", "funder"])
def test_no_page_loads_anything_from_another_host(
    persona_clients: dict[str, Client], persona: str
) -> None:
    client = persona_clients[persona]
    result = crawl(client)
    assert len(result.pages) >= len(START)
    assert all(status in (200, 404) for status in result.pages.values()), result.pages
    assert result.static, "no static file referenced: the parser is broken"
    assert result.problems == []


@pytest.mark.django_db
def test_every_static_file_the_pages_reference_exists(
    persona_clients: dict[str, Client],
) -> None:
    static: set[str] = set()
    for client in persona_clients.values():
        static |= crawl(client).static
    assert check_static(Client(), static) == []


@pytest.mark.django_db
def test_every_page_and_tile_answers_head_as_it_answers_get(
    persona_clients: dict[str, Client],
) -> None:
    """HEAD is GET without the body (RFC 9110 §9.3.2); the pages under
    require_GET, the public map and the tiles among them, answered 405."""
    for name, client in persona_clients.items():
        pages = crawl(client).pages
        pages |= {
            path: client.get(path).status_code
            for path in (
                "/tiles/public/buildings/0/0/0.pbf",
                "/tiles/buildings/0/0/0.pbf",
                "/tiles/friches/0/0/0.pbf",
            )
        }
        for url, status in pages.items():
            assert client.head(url, follow=True).status_code == status, (name, url)


def test_the_checks_see_an_external_reference() -> None:
    """The parser itself, on the shapes it must catch."""
    page = Page()
    page.feed(
        '<link href="https://cdn.jsdelivr.net/x.css">'
        '<img srcset="//cdn.example/a.png 2x">'
        '<div style="background: url(https://unpkg.com/i.png)"></div>'
        "<script>fetch('https://tiles.example/')</script>"
    )
    found = {host for _, ref in page.references for host in external_hosts(ref)}
    assert found == {"cdn.jsdelivr.net", "cdn.example", "unpkg.com"}
    assert external_hosts(page.inline[0][2]) == {"tiles.example"}
    assert page.inline[0][1] is None
    assert external_hosts(settings.BASEMAP_URL) == set()
