"""The current request's URL with its query changed (config/links.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory

from config.links import query_pairs, url_with


def request(query: str) -> WSGIRequest:
    return RequestFactory(HTTP_HOST="testserver").get(f"/ogc/items?{query}")


def test_unchanged_names_keep_their_order_and_every_value() -> None:
    """As QueryDict.urlencode: names in order of first appearance, the values of a
    repeated name together."""
    query = request("status=vacant&bbox=1,2,3,4&status=available&f=json").GET

    assert query_pairs(query, f="html") == [
        ("status", "vacant"),
        ("status", "available"),
        ("bbox", "1,2,3,4"),
        ("f", "html"),
    ]


def test_a_name_set_to_none_is_dropped_and_a_changed_one_has_one_value() -> None:
    query = request("cursor=a&cursor=b&limit=10").GET

    assert query_pairs(query, cursor=None) == [("limit", "10")]
    assert query_pairs(query, cursor="c") == [("limit", "10"), ("cursor", "c")]
    assert query_pairs(query, absent=None) == [
        ("cursor", "a"),
        ("cursor", "b"),
        ("limit", "10"),
    ]


def test_the_url_is_absolute_and_encodes_what_the_query_dict_would() -> None:
    req = request("q=%C3%A9cole+%26+co&bbox=1%2C2%2C3%2C4")
    url = url_with(req, cursor="ab+/=")

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "testserver",
        "/ogc/items",
    )
    assert parse_qsl(parts.query) == [
        ("q", "école & co"),
        ("bbox", "1,2,3,4"),
        ("cursor", "ab+/="),
    ]
    expected = req.GET.copy()
    expected["cursor"] = "ab+/="
    assert parts.query == expected.urlencode()


def test_no_query_left_means_no_question_mark() -> None:
    assert url_with(request("f=json"), f=None) == "http://testserver/ogc/items"
