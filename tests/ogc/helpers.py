"""Reading /ogc/ responses in tests: JSON bodies, every page of an items walk,
and the links of an HTML page."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

GEOJSON = "application/geo+json"


def get(client: Client, url: str, **headers: str) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code, response.content)
    return response


def body(client: Client, url: str, **headers: str) -> Any:
    return json.loads(get(client, url, **headers).content)


def local(href: str) -> str:
    """A link's path and query, to follow it with the test client."""
    parts = urlsplit(href)
    assert parts.netloc == "testserver", href
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def links(document: dict[str, Any], rel: str) -> list[dict[str, str]]:
    return [link for link in document["links"] if link["rel"] == rel]


def link(document: dict[str, Any], rel: str, media_type: str | None = None) -> str:
    found = [
        item["href"]
        for item in links(document, rel)
        if media_type is None or item["type"] == media_type
    ]
    assert len(found) == 1, (rel, media_type, document["links"])
    return found[0]


def walk(client: Client, url: str) -> list[dict[str, Any]]:
    """Every page from ``url`` on, following next links."""
    pages = []
    next_url: str | None = url
    while next_url:
        page = body(client, next_url)
        pages.append(page)
        following = links(page, "next")
        next_url = local(following[0]["href"]) if following else None
        assert len(pages) < 100, "a next link loops"
    return pages


def ids(pages: list[dict[str, Any]]) -> list[Any]:
    return [feature["id"] for page in pages for feature in page["features"]]


class Anchors(HTMLParser):
    """The href of every <a> of an HTML page, and its visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def anchors(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser
