"""What an /ogc/ request costs the database: statements per items page (rule 7's
query budgets), whatever the page size, and extents read once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from tests.ogc.conftest import MARSEILLE_BOX, Inventory
from tests.ogc.helpers import body, local, walk

ITEMS = "/ogc/collections/buildings/items"


@pytest.mark.parametrize("limit", [2, 1000])
def test_a_first_page_is_one_statement_with_its_count(
    inventory: Inventory,
    client: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
    limit: int,
) -> None:
    """Full or not: the capped count runs inside the page's statement (and not
    at all when the page holds the whole selection)."""
    with django_assert_num_queries(1):
        page = body(client, f"{ITEMS}?limit={limit}")
    assert page["numberReturned"] == min(limit, len(inventory.located))
    assert page["numberMatched"] == len(inventory.located)


def test_a_page_after_a_cursor_is_one_statement_with_its_count(
    inventory: Inventory,
    client: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    first = body(client, f"{ITEMS}?limit=2")
    following = local(next(x["href"] for x in first["links"] if x["rel"] == "next"))
    with django_assert_num_queries(1):
        page = body(client, following)
    assert page["numberMatched"] == len(inventory.located)


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_every_page_of_a_walk_reports_the_same_number_matched(
    inventory: Inventory, client: Client, limit: int
) -> None:
    bbox = ",".join(map(str, MARSEILLE_BOX))
    pages = walk(client, f"{ITEMS}?limit={limit}&bbox={bbox}")
    returned = sum(page["numberReturned"] for page in pages)
    assert {page["numberMatched"] for page in pages} == {returned}


def test_extents_are_computed_once_then_read_from_the_cache(
    inventory: Inventory,
    client: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    first = body(client, "/ogc/collections")
    with django_assert_num_queries(0):
        again = body(client, "/ogc/collections")
    assert again["collections"] == first["collections"]
    cache.clear()
    with django_assert_num_queries(3):  # one extent per collection
        body(client, "/ogc/collections")
