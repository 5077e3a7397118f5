"""GET /api/v1/buildings/: a GeoJSON FeatureCollection built in PostGIS, scoped
by persona, filtered like the pages, keyset-paginated, with a capped count."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from buildings.geojson import AGENT_PROPERTIES, PUBLIC_PROPERTIES, plans_are_serial
from buildings.models import Building, BuildingStatus, Commune
from organizations.models import OrganizationKind
from tests.buildings.factories import (
    BuildingFactory,
    CommuneFactory,
    DepartmentFactory,
    RegionFactory,
    SiteFactory,
    collectivity_building,
    wgs84,
)
from tests.buildings.test_exports import body
from tests.buildings.test_geojson import assert_rfc7946

pytestmark = pytest.mark.django_db
LIST = "/api/v1/buildings/"
S = BuildingStatus


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()


def commune_of(
    commune: tuple[str, str], department: tuple[str, str], region: tuple[str, str]
) -> Commune:
    """A commune (code, name) in its département and region, outside the 13."""
    return CommuneFactory.create(
        code=commune[0],
        name=commune[1],
        department=DepartmentFactory.create(
            code=department[0],
            name=department[1],
            region=RegionFactory.create(code=region[0], name=region[1]),
        ),
    )


def paris() -> Commune:
    return commune_of(("75056", "Paris"), ("75", "Paris"), ("11", "Île-de-France"))


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def collection(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    document: dict[str, Any] = orjson.loads(response.content)
    assert_rfc7946(document)
    return document


def listed(client: APIClient, **params: Any) -> dict[str, Any]:
    return collection(client.get(LIST, {"limit": 1000, **params}))


def ids(document: dict[str, Any]) -> set[int]:
    return {feature["id"] for feature in document["features"]}


def many(count: int, vary: Callable[[], dict[str, Any]] = dict) -> list[Building]:
    """``count`` vacant buildings of Marseille in one INSERT; ``vary()`` gives
    each one's own fields. (The factory builds one row at a time: too slow for
    the hundreds these tests need.)"""
    site = SiteFactory.create()
    commune = site.commune
    assert commune is not None
    batch = next(_batches)
    return Building.objects.bulk_create(
        Building(
            **{
                "site": site,
                "commune": commune,
                "department": commune.department,
                "inventory_id": f"MANY-{batch}-{number}",
                "designation": "Bureaux",
                "status": S.VACANT,
                "point": wgs84(5.3838, 43.3023),
                **vary(),
            }
        )
        for number in range(count)
    )


_batches = itertools.count()


# --- Who sees what
@pytest.fixture
def stock() -> dict[str, Building]:
    """One building per kind of visibility, in the Bouches-du-Rhône and Paris."""
    in_paris = SiteFactory.create(commune=paris())
    at_paris = {"site": in_paris, "point": wgs84(2.3522, 48.8566)}
    return {
        "13-vacant": BuildingFactory.create(vacant=True),
        "13-assessed": BuildingFactory.create(vacant=True, status=S.ASSESSED),
        "13-available": BuildingFactory.create(available=True),
        "13-in-use": BuildingFactory.create(),
        "13-occupied": BuildingFactory.create(vacant=True, status=S.OCCUPIED),
        "13-confidential": BuildingFactory.create(vacant=True, confidential=True),
        "75-available": BuildingFactory.create(available=True, **at_paris),
        "75-in-use": BuildingFactory.create(**at_paris),
    }


PUBLIC = {"13-vacant", "13-assessed", "13-available", "75-available"}
IN_13 = {"13-vacant", "13-assessed", "13-available", "13-in-use", "13-occupied",
         "13-confidential"}  # fmt: skip
EVERYTHING = IN_13 | {"75-available", "75-in-use"}


@pytest.fixture
def callers(make_member: Callable[..., User]) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "operator": make_member(OrganizationKind.OPERATOR),
        "funder": make_member(OrganizationKind.FUNDER),
        "agent of 13": make_member(OrganizationKind.STATE_SERVICE, departments=["13"]),
        "national agent": make_member(OrganizationKind.STATE_SERVICE),
    }


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("anonymous", PUBLIC),
        ("operator", PUBLIC),
        ("funder", PUBLIC),
        ("agent of 13", IN_13),
        ("national agent", EVERYTHING),
    ],
)
def test_each_persona_lists_exactly_its_scope(
    stock: dict[str, Building],
    callers: dict[str, User | None],
    caller: str,
    visible: set[str],
) -> None:
    document = listed(client_for(callers[caller]))
    assert ids(document) == {stock[name].pk for name in visible}
    assert document["numberMatched"] == len(visible)
    assert document["numberReturned"] == len(visible)
    assert document["numberMatchedIsEstimate"] is False


@pytest.mark.parametrize("caller", ["anonymous", "operator", "funder"])
def test_public_features_carry_the_public_properties_only(
    stock: dict[str, Building], callers: dict[str, User | None], caller: str
) -> None:
    for feature in listed(client_for(callers[caller]))["features"]:
        assert set(feature["properties"]) == set(PUBLIC_PROPERTIES)


def test_agents_read_the_internal_properties_but_never_owner_labels(
    stock: dict[str, Building], callers: dict[str, User | None]
) -> None:
    features = listed(client_for(callers["agent of 13"]))["features"]
    for feature in features:
        assert set(feature["properties"]) == set(AGENT_PROPERTIES)
        assert "owner_type" not in feature["properties"]
        assert "source_fingerprint" not in feature["properties"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "Armées"},
        {"status": "vacant"},
        {"bbox": "5,43,6,44"},
        {"near": "5.3838,43.3023", "radius": 100},
        {"department": "13"},
        {"ordering": "-designation"},
        {"geometry": "footprint"},
    ],
)
def test_a_confidential_building_never_reaches_the_public_list(
    stock: dict[str, Building], params: dict[str, Any]
) -> None:
    response = APIClient().get(LIST, params)
    assert stock["13-confidential"].pk not in ids(collection(response))
    assert "Armées".encode() not in response.content


def test_the_public_may_not_filter_on_a_property_it_cannot_read(
    stock: dict[str, Building], callers: dict[str, User | None]
) -> None:
    """Filtering on the ministry would reveal it one guess at a time."""
    response = APIClient().get(LIST, {"ministry": "Ministère des Armées"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"ministry"}
    agent = client_for(callers["agent of 13"])
    document = listed(agent, ministry="Ministère des Armées")
    assert ids(document) == {stock["13-confidential"].pk}


@pytest.mark.parametrize(
    ("department", "expected"),
    [("975", {"975"}), ("977", {"977"}), ("978", {"978"}),
     ("977,13", {"977", "13-vacant"}), ("978,977,975", {"975", "977", "978"}),
     ("13", {"13-vacant"})],
)  # fmt: skip
def test_the_collectivities_with_insee_communes_are_filtered_on_their_commune_code(
    make_member: Callable[..., User], department: str, expected: set[str]
) -> None:
    """Collectivités d'outre-mer, not départements: their buildings have no
    département, and the filter finds them by commune code (97502, 97701,
    97801), for the public as for a national agent; 977 and 978 were a 400."""
    stock = {
        "975": collectivity_building("97502", vacant=True),
        "977": collectivity_building("97701", vacant=True),
        "978": collectivity_building("97801", vacant=True),
        "13-vacant": BuildingFactory.create(vacant=True),
    }
    national = client_for(make_member(OrganizationKind.STATE_SERVICE))
    for client in (APIClient(), national):
        document = listed(client, department=department)
        assert ids(document) == {stock[name].pk for name in expected}
        assert document["numberMatched"] == len(expected)
    export = national.get("/api/v1/buildings/export.csv", {"department": "977"})
    assert export.status_code == 200
    rows = body(export).decode("utf-8-sig").splitlines()
    assert [row.split(";")[0] for row in rows[1:]] == [str(stock["977"].pk)]


def test_a_collectivity_without_insee_communes_is_no_departement_code() -> None:
    """Wallis-et-Futuna (986) and the other Pacific collectivities have no INSEE
    commune codes the platform holds: still a 400 naming the filter."""
    for code in ("986", "979", "20"):
        response = APIClient().get(LIST, {"department": code})
        assert response.status_code == 400, (code, response.content)
        assert set(response.json()["errors"]) == {"department"}


# --- Geography
def test_bbox_returns_what_a_postgis_oracle_returns_on_random_points() -> None:
    rng = random.Random(7946)
    many(200, lambda: {"point": wgs84(rng.uniform(5.0, 5.8), rng.uniform(43.0, 43.6))})
    for _ in range(5):
        xmin, xmax = sorted(rng.uniform(4.9, 5.9) for _ in range(2))
        ymin, ymax = sorted(rng.uniform(42.9, 43.7) for _ in range(2))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM buildings_building "
                "WHERE ST_Intersects(point, ST_MakeEnvelope(%s, %s, %s, %s, 4326))",
                [xmin, ymin, xmax, ymax],
            )
            expected = {row[0] for row in cursor.fetchall()}
        document = listed(APIClient(), bbox=f"{xmin},{ymin},{xmax},{ymax}")
        assert ids(document) == expected
        assert document["numberMatched"] == len(expected)


# Meridional radius of curvature of the GRS80/WGS84 ellipsoid at latitude φ:
# M = a(1 − e²) / (1 − e² sin²φ)^1.5. Along a meridian, metres = M × Δφ (radians)
# to well under a millimetre over a few kilometres.
A, E2 = 6_378_137.0, 0.006_694_380_022_90


def degrees_north(latitude: float, metres: float) -> float:
    sin = math.sin(math.radians(latitude))
    radius = A * (1 - E2) / (1 - E2 * sin * sin) ** 1.5
    return math.degrees(metres / radius)


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle metres on the mean Earth sphere (R = 6,371,008.8 m)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_one_arc_second_of_latitude_is_about_thirty_metres() -> None:
    """The hand formula above, checked against the textbook figure."""
    assert 30.8 < 1 / 3600 / degrees_north(43.0, 1.0) < 30.9


def test_near_keeps_what_lies_within_the_radius_in_geodesic_metres() -> None:
    lon, lat = 5.0, 43.0
    inside = BuildingFactory.create(
        vacant=True, point=wgs84(lon, lat + degrees_north(lat, 995))
    )
    outside = BuildingFactory.create(
        vacant=True, point=wgs84(lon, lat + degrees_north(lat, 1005))
    )
    document = listed(APIClient(), near=f"{lon},{lat}", radius=1000)
    assert ids(document) == {inside.pk}
    # A degree-based filter (drf-gis's dist_to_deg) would get this wrong by far
    # more than 0.5 %: check the database's own distance against the hand formula.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Distance(point::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) "
            "FROM buildings_building WHERE id = %s",
            [lon, lat, outside.pk],
        )
        (metres,) = cursor.fetchone()
    assert metres == pytest.approx(1005, abs=0.01)
    assert outside.point is not None
    assert haversine(lon, lat, outside.point.x, outside.point.y) == pytest.approx(
        metres, rel=0.005
    )


def test_near_returns_what_a_geography_oracle_returns_on_random_points() -> None:
    rng = random.Random(1000)
    many(
        150,
        lambda: {"point": wgs84(rng.uniform(5.30, 5.46), rng.uniform(43.24, 43.36))},
    )
    for radius in (1500, 3000, 6000):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM buildings_building WHERE ST_Distance(point::geography,"
                " ST_SetSRID(ST_MakePoint(5.38, 43.30), 4326)::geography) <= %s",
                [radius],
            )
            expected = {row[0] for row in cursor.fetchall()}
        document = listed(APIClient(), near="5.38,43.30", radius=radius)
        assert ids(document) == expected
        assert 0 < len(expected) < 150


# --- Pages
@pytest.fixture
def ties() -> list[Building]:
    """60 buildings whose sort keys repeat and are often unknown."""
    rng = random.Random(60)
    return many(
        60,
        lambda: {
            "designation": rng.choice(["LotA", "LotB", "LotC", "LotD"]),
            "surface_m2": rng.choice([None, Decimal("100.00"), Decimal("250.50")]),
            "year_built": rng.choice([None, 1900, 1965, 2001]),
            "vacancy_since": rng.choice([None, date(2016, 1, 1), date(2020, 5, 1)]),
            "suitability_mixed": rng.choice([None, 40, 55]),
        },
    )


def expected_order(buildings: list[Building], ordering: str) -> list[int]:
    """The documented order: by the value, nulls last, ties by id (same direction)."""
    field = ordering.removeprefix("-")
    descending = ordering.startswith("-")
    known = [b for b in buildings if getattr(b, field) is not None]
    unknown = [b for b in buildings if getattr(b, field) is None]
    known.sort(key=lambda b: (getattr(b, field), b.pk), reverse=descending)
    unknown.sort(key=lambda b: b.pk, reverse=descending)
    return [b.pk for b in known + unknown]


def walk(client: APIClient, url: str, rel: str) -> list[list[int]]:
    pages = []
    next_url: str | None = url
    while next_url:
        document = collection(client.get(next_url))
        pages.append([feature["id"] for feature in document["features"]])
        assert document["numberReturned"] == len(pages[-1])
        links = {link["rel"]: link for link in document["links"]}
        assert links["self"]["type"] == "application/geo+json"
        next_url = links[rel]["href"] if rel in links else None
        assert len(pages) < 100, "the walk does not end"
    return pages


@pytest.mark.parametrize(
    "ordering",
    ["id", "-id", "surface_m2", "-surface_m2", "designation", "-designation",
     "year_built", "-vacancy_since", "suitability_mixed"],
)  # fmt: skip
def test_following_next_links_visits_every_row_once_in_order(
    ties: list[Building], ordering: str
) -> None:
    client = APIClient()
    pages = walk(client, f"{LIST}?limit=7&ordering={ordering}", "next")
    visited = [pk for page in pages for pk in page]
    assert visited == expected_order(ties, ordering)
    assert [len(page) for page in pages] == [7] * 8 + [4]


@pytest.mark.parametrize("ordering", ["id", "-surface_m2", "vacancy_since"])
def test_following_prev_links_back_gives_the_same_pages(
    ties: list[Building], ordering: str
) -> None:
    client = APIClient()
    forward = walk(client, f"{LIST}?limit=9&ordering={ordering}", "next")
    url = f"{LIST}?limit=9&ordering={ordering}"
    while True:
        links = {
            link["rel"]: link["href"] for link in collection(client.get(url))["links"]
        }
        if "next" not in links:
            break
        url = links["next"]
    backward = walk(client, links["prev"], "prev")
    assert list(reversed(backward)) == forward[:-1]


def test_the_first_page_has_no_prev_and_the_last_no_next(ties: list[Building]) -> None:
    first = listed(APIClient(), limit=60)
    assert {link["rel"] for link in first["links"]} == {"self"}
    assert first["numberReturned"] == 60


def test_a_tampered_cursor_is_a_400_on_the_cursor(ties: list[Building]) -> None:
    client = APIClient()
    document = collection(client.get(LIST, {"limit": "5", "ordering": "-surface_m2"}))
    (next_link,) = [link["href"] for link in document["links"] if link["rel"] == "next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]
    forged = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for params in (
        {"ordering": "-surface_m2", "cursor": forged},
        {"ordering": "-surface_m2", "cursor": "not-a-cursor"},
        {"ordering": "-surface_m2", "cursor": "x" * 2000},
        {"ordering": "designation", "cursor": cursor},  # signed, other ordering
    ):
        response = client.get(LIST, params)
        assert response.status_code == 400, params
        assert set(response.json()["errors"]) == {"cursor"}


def test_limit_has_a_default_and_a_maximum(settings: Settings) -> None:
    many(12)
    settings.API_PAGE_SIZE = 5
    settings.API_MAX_PAGE_SIZE = 8
    assert collection(APIClient().get(LIST))["numberReturned"] == 5
    assert collection(APIClient().get(LIST, {"limit": 500}))["numberReturned"] == 8


def test_number_matched_is_exact_under_the_cap_and_an_estimate_over_it(
    settings: Settings,
) -> None:
    many(40)
    exact = listed(APIClient(), limit=10)
    assert (exact["numberMatched"], exact["numberMatchedIsEstimate"]) == (40, False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE buildings_building")
    settings.API_COUNT_CAP = 25
    cache.clear()
    estimated = listed(APIClient(), limit=10)
    assert estimated["numberMatchedIsEstimate"] is True
    assert 20 <= estimated["numberMatched"] <= 80
    assert estimated["numberReturned"] == 10


@pytest.mark.parametrize("limit", [10, 500])
def test_the_query_count_does_not_grow_with_the_page(
    limit: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    many(500)
    client = APIClient()
    # One statement: the page with its capped count. The connection is opened
    # with parallel plans off, so no SET LOCAL (nor its transaction) is needed.
    with django_assert_num_queries(1) as queries:
        document = collection(client.get(LIST, {"limit": limit}))
    assert document["numberReturned"] == limit
    assert "string_agg" in queries[0]["sql"]


def test_web_connections_plan_serially_without_jit() -> None:
    """performance.md §4.2: on two cores a parallel plan takes both cores from the
    other requests; JIT compiles short statements for longer than they run."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
    assert plans_are_serial()


def test_a_connection_without_the_options_guards_each_list_request(
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    many(5)
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "options", "")
    assert not plans_are_serial()
    # SAVEPOINT, SET LOCAL, the page, RELEASE.
    with django_assert_num_queries(4) as queries:
        document = collection(APIClient().get(LIST, {"limit": 3}))
    assert document["numberReturned"] == 3
    # (the audit trail may prefix the statement with its context)
    assert queries[1]["sql"].endswith("SET LOCAL max_parallel_workers_per_gather = 0")


def test_for_a_signed_in_agent_too_the_query_count_ignores_the_page_size(
    callers: dict[str, User | None],
) -> None:
    """The session, the user and the scope's memberships are read once; the
    audit middleware's per-statement context adds a constant too."""
    many(60)
    agent = callers["agent of 13"]
    assert agent is not None
    client = APIClient()
    client.force_login(agent)
    client.get(LIST, {"limit": 1})  # the first request of a session does more
    counts = []
    for limit in (5, 60):
        with CaptureQueriesContext(connection) as queries:
            assert (
                len(collection(client.get(LIST, {"limit": limit}))["features"]) == limit
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Each filter, as README "The API" lists them
@pytest.fixture
def national(make_member: Callable[..., User]) -> APIClient:
    return client_for(make_member(OrganizationKind.STATE_SERVICE))


def ajaccio() -> Commune:
    return commune_of(("2A004", "Ajaccio"), ("2A", "Corse-du-Sud"), ("94", "Corse"))


def test_department_and_commune_take_lists_and_a_city_holds_its_arrondissements(
    national: APIClient,
) -> None:
    corsica = BuildingFactory.create(
        site=SiteFactory.create(commune=ajaccio()), point=wgs84(8.7369, 41.9192)
    )
    marseille = BuildingFactory.create()
    first = CommuneFactory.create(first_arrondissement=True)
    in_the_1st = BuildingFactory.create(site=SiteFactory.create(commune=first))
    paris_building = BuildingFactory.create(
        site=SiteFactory.create(commune=paris()), point=wgs84(2.3522, 48.8566)
    )
    everything_but_paris = {corsica.pk, marseille.pk, in_the_1st.pk}
    assert ids(listed(national, department="13,2A")) == everything_but_paris
    assert ids(listed(national, department="2a")) == {corsica.pk}
    assert ids(listed(national, commune="13055")) == {marseille.pk, in_the_1st.pk}
    assert ids(listed(national, commune="13201")) == {in_the_1st.pk}
    assert ids(listed(national, commune="13055,2a004")) == everything_but_paris
    assert paris_building.pk in ids(listed(national, department="75"))


def test_erp_surface_bounds_and_text_search_on_the_address(
    national: APIClient,
) -> None:
    small_erp = BuildingFactory.create(
        erp=True, surface_m2=Decimal("100.00"), address="1 cours Napoléon"
    )
    large = BuildingFactory.create(erp=False, surface_m2=Decimal("5000.00"))
    assert ids(listed(national, erp="true")) == {small_erp.pk}
    assert ids(listed(national, erp="false")) == {large.pk}
    assert ids(listed(national, surface_min="100", surface_max="100")) == {small_erp.pk}
    assert ids(listed(national, surface_min="100.01")) == {large.pk}
    assert ids(listed(national, surface_max="4999.99")) == {small_erp.pk}
    assert ids(listed(national, q="napoléon")) == {small_erp.pk}


def test_suitability_min_keeps_the_scores_of_the_use_chosen(
    national: APIClient,
) -> None:
    shelter = BuildingFactory.create()
    workspace = BuildingFactory.create()
    Building.objects.filter(pk=shelter.pk).update(
        suitability_shelter=80, suitability_workspace=20, suitability_mixed=50
    )
    Building.objects.filter(pk=workspace.pk).update(
        suitability_shelter=20, suitability_workspace=80, suitability_mixed=50
    )
    chosen = {"suitability_min": "70"}
    assert ids(listed(national, suitability_use="shelter", **chosen)) == {shelter.pk}
    assert ids(listed(national, suitability_use="workspace", **chosen)) == {
        workspace.pk
    }
    assert ids(listed(national, suitability_use="mixed", **chosen)) == set()
    assert ids(listed(national, suitability_use="mixed", suitability_min="50")) == {
        shelter.pk,
        workspace.pk,
    }


def test_ordering_descending_puts_the_largest_first(national: APIClient) -> None:
    sizes = ["100.00", "5000.00", "4000.00"]
    made = [BuildingFactory.create(surface_m2=Decimal(size)) for size in sizes]
    document = listed(national, ordering="-surface_m2")
    assert [feature["id"] for feature in document["features"]] == [
        made[1].pk,
        made[2].pk,
        made[0].pk,
    ]


@pytest.mark.parametrize(
    "query",
    [
        "q=a&q=b",
        "erp=true&erp=false",
        "department=13&department=2A",
        "cursor=",
        # The list's own parameters: the last value was read.
        "limit=5&limit=500",
        "ordering=id&ordering=-id",
        "geometry=point&geometry=footprint",
    ],
)
def test_a_one_value_parameter_given_twice_or_a_blank_cursor_is_a_400_naming_it(
    query: str,
) -> None:
    response = APIClient().get(f"{LIST}?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [query.split("=")[0]]


# --- Bad input
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "nan,43,6,44"}, "bbox"),
        ({"bbox": "5,43,6"}, "bbox"),
        ({"bbox": "6,43,5,44"}, "bbox"),
        ({"near": "5,43", "radius": 0}, "radius"),
        ({"near": "5,43", "radius": 20_001}, "radius"),
        ({"near": "5,43", "radius": "abc"}, "radius"),
        ({"near": "5,43", "radius": "NaN"}, "radius"),
        ({"near": "5,43"}, "radius"),
        ({"near": "inf,43", "radius": 10}, "near"),
        ({"status": "demolished-ish"}, "status"),
        ({"q": "caf\x00é"}, "q"),
        ({"department": "1\x003"}, "department"),
        ({"surface_min": "lots"}, "surface_min"),
        ({"available_to": "2026-13-45"}, "available_to"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"ordering": "owner_type"}, "ordering"),
        ({"ordering": "-ministry"}, "ordering"),
        ({"geometry": "hexagon"}, "geometry"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    params: dict[str, Any], field: str
) -> None:
    response = APIClient().get(LIST, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body


def test_text_search_takes_percent_signs_and_quotes_literally() -> None:
    """Values travel as parameters through the SQL wrapping, never as text."""
    hit = BuildingFactory.create(vacant=True, designation="Entrepôt 50% « O'Brien »")
    BuildingFactory.create(vacant=True, designation="Entrepôt 500")
    assert ids(listed(APIClient(), q="50%")) == {hit.pk}
    assert ids(listed(APIClient(), q="O'Brien")) == {hit.pk}
    assert ids(listed(APIClient(), q="%s")) == set()


def test_an_accept_header_asking_for_geojson_is_honoured() -> None:
    BuildingFactory.create(vacant=True)
    response = APIClient().get(LIST, HTTP_ACCEPT="application/geo+json")
    assert len(collection(response)["features"]) == 1


def test_self_link_repeats_the_query(ties: list[Building]) -> None:
    document = listed(APIClient(), q="Lot", ordering="designation")
    (self_link,) = [link for link in document["links"] if link["rel"] == "self"]
    assert self_link["href"].startswith("http://testserver/api/v1/buildings/?")
    assert "q=Lot" in self_link["href"]
    assert "ordering=designation" in self_link["href"]


def test_available_dates_narrow_the_stock_to_its_horizon() -> None:
    today = timezone.localdate()
    soon = BuildingFactory.create(vacant=True, next_use_date=today + timedelta(days=30))
    later = BuildingFactory.create(
        vacant=True, next_use_date=today + timedelta(days=900)
    )
    document = listed(
        APIClient(),
        available_from=today.isoformat(),
        available_to=(today + timedelta(days=365)).isoformat(),
    )
    assert ids(document) == {later.pk}
    assert soon.pk not in ids(document)


@pytest.mark.parametrize("alone", ["available_from", "available_to"])
def test_either_available_date_alone_keeps_the_stock_available_that_day(
    alone: str,
) -> None:
    """A date given alone is the one-day range: ``available_from`` alone was
    ignored (every building came back, one taken back in a month too)."""
    today = timezone.localdate()
    soon = BuildingFactory.create(vacant=True, next_use_date=today + timedelta(days=30))
    later = BuildingFactory.create(
        vacant=True, next_use_date=today + timedelta(days=900)
    )
    in_a_year = (today + timedelta(days=365)).isoformat()
    assert ids(listed(APIClient(), **{alone: in_a_year})) == {later.pk}
    assert soon.pk in ids(listed(APIClient(), **{alone: today.isoformat()}))


def test_settings_bound_the_page_size() -> None:
    assert 1 <= settings.API_PAGE_SIZE <= settings.API_MAX_PAGE_SIZE


def index_definition(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        row = cursor.fetchone()
    assert row is not None, f"no index {name}"
    return str(row[0])


def test_the_public_stock_has_a_partial_point_index() -> None:
    """Anonymous bbox pages read only the public stock's entries (GeoDjango
    silently drops the condition of a spatial *field* index: it is an expression
    index for that reason)."""
    definition = index_definition("building_public_point_idx")
    assert "USING gist (point)" in definition
    assert "WHERE ((NOT is_confidential) AND" in definition
    assert "'vacant'" in definition
    assert "'available'" in definition


def test_the_id_index_carries_the_point_for_keyset_walks_of_a_box() -> None:
    """``id > last ORDER BY id`` over a large box walks ids in order and tests
    each point: with the point in the id index, the walk needs no heap visit
    (an Index Only Scan on a vacuumed table: 7.9 to 3.4 ms for a deep page of
    the 1M benchmark table, docs/benchmarks.md). Which index the planner takes
    depends on statistics, so the definition is what is checked here."""
    definition = index_definition("building_id_point_idx")
    assert "USING btree (id) INCLUDE (point)" in definition
