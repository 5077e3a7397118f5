"""The canary test (reliability.md B7.1): resident-related data never reaches a
funder, an anonymous caller, or another operator.

Unique strings are planted in every resident-related free field there is (space
names, agreement references and free texts, status-change reasons, amendment
justifications, insurers, document titles), residents are given unmistakable ids,
and one is registered through the API with a file number that is itself a canary
(its pseudonym is searched for too). Then every GET route of the URL resolver —
API, pages, admin, exports, the OpenAPI schema — is called with the ids of those
real objects substituted, and every API write route is called with them in the
body (error bodies: 401/403/404/400). No answer to a funder or anonymous caller
may carry a canary, a pseudonym or a resident id; none to operator B may carry
operator A's strings.

The same walk as operator A must find A's canaries: the walk reaches the data,
so an empty result means "hidden", not "never looked".
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db.backends.postgresql.psycopg_any import DateRange
from django.http import HttpResponseBase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from occupancy.models import (
    Agreement,
    AgreementStatusChange,
    Amendment,
    Document,
    InsuranceCertificate,
    Occupant,
    ResidenceContract,
    Space,
    Stay,
)
from occupancy.residents import pseudonym_for
from tests.occupancy.test_api_support import (
    PSEUDONYM_KEY,
    World,
    build_world,
    days,
)

pytestmark = pytest.mark.django_db

# Letters, digits and dashes only: no encoding (JSON, HTML, CSV, URL) alters them.
CANARY_A = "CANARY-7Q2W-OPERATOR-A"
CANARY_B = "CANARY-9X4Z-OPERATOR-B"
FILE_NUMBER = f"{CANARY_A}-FILE"
# Ids no sequence reaches in a test database: a hit is this row, not a count.
OCCUPANT_ID, STAY_ID, CONTRACT_ID = 918_273_645, 918_273_656, 918_273_667

# Routes the walk does not call, each with its reason.
SKIPPED = {
    "logout": "a GET logs the caller out: the rest of the walk would be anonymous",
}
# Server errors reported to the code's owners, each with its cause. The walk
# checks they still happen: when one is fixed, its entry goes with the fix.
KNOWN_SERVER_ERRORS: dict[re.Pattern[str], str] = {}
# Map tiles around the planted site (Marseille), at cluster and point zooms: z, x, y.
TILES = ((6, 32, 23), (10, 527, 375), (14, 8436, 6001))
# Served by Django under DEBUG only; built by hand (it has no name).
MEDIA = "^media/(?P<path>.*)$"
# The admin's answer to any other URL under /admin/.
ADMIN_CATCH_ALL = "admin/(?P<url>.*)$"


@dataclass
class Planted:
    """What must never be seen, per audience."""

    strings_a: list[str]
    strings_b: list[str]
    ids_a: list[int]
    objects: dict[str, list[int]] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)

    @property
    def representative(self) -> list[int]:
        """One row of each kind (A's first), for routes that do not say theirs."""
        return sorted({rows[0] for rows in self.objects.values()} | {*self.ids_a})


def plant(world: World, client_a: APIClient) -> Planted:
    a, b = CANARY_A, CANARY_B
    for space, name in (
        (world.room, f"{a} chambre 1"),
        (world.room_2, f"{a} chambre 2"),
        (world.draft_space, f"{a} atelier"),
        (world.space_b, f"{b} dortoir"),
    ):
        Space.objects.filter(pk=space.pk).update(name=name)
    free_text = {
        "selection_reference": "{c} publicité",
        "fee_indexation": "{c} indice",
        "waiver_justification": "{c} justification",
        "ddfip_opinion_reference": "{c}-AVIS",
    }
    for agreement, canary, suffix in (
        (world.active, a, "ACTIVE"),
        (world.draft, a, "DRAFT"),
        (world.active_b, b, "B"),
    ):
        Agreement.objects.filter(pk=agreement.pk).update(
            reference=f"{canary}-{suffix}",
            **{name: text.format(c=canary) for name, text in free_text.items()},
        )
        AgreementStatusChange.objects.create(
            agreement=agreement,
            from_status="signed",
            to_status="active",
            reason=f"{canary} motif",
        )
        Amendment.objects.create(
            agreement=agreement,
            kind="other",
            owner_justification=f"{canary} avenant",
            signed_on=days(-1),
        )
        InsuranceCertificate.objects.create(
            agreement=agreement,
            insurer=f"{canary} assureur",
            policy_number=f"{canary}-POLICE",
            valid_from=days(-60),
            valid_until=days(300),
        )
    Document.objects.filter(pk=world.document.pk).update(title=f"{a} attestation")

    # Residents with unmistakable ids, in A's room under A's agreement.
    occupant = Occupant.objects.create(
        pk=OCCUPANT_ID,
        operator=world.operator_a,
        pseudonym=pseudonym_for(
            operator_id=world.operator_a.pk, local_identifier=f"{a}-RESIDENT"
        ),
        kind="person",
        category="sheltered",
    )
    Stay.objects.create(
        pk=STAY_ID,
        occupant=occupant,
        space=world.room_2,
        agreement=world.active,
        period=DateRange(days(-3), None),
        structure_type="insertion",
    )
    ResidenceContract.objects.create(
        pk=CONTRACT_ID,
        agreement=world.active,
        occupant=occupant,
        start=days(-3),
        initial_end=days(120),
        current_end=days(120),
        monthly_fee=Decimal("90.00"),
    )
    # And one through the API, whose file number is a canary.
    registered = client_a.post(
        "/api/v1/occupants/",
        {"local_identifier": FILE_NUMBER, "kind": "person", "category": "sheltered"},
        format="json",
    )
    assert registered.status_code == 201, registered.content

    pseudonyms = [
        pseudonym_for(operator_id=world.operator_a.pk, local_identifier=identifier)
        for identifier in (FILE_NUMBER, f"{a}-RESIDENT", world.local_identifier)
    ]
    pseudonyms.append(world.occupant_b.pseudonym)
    objects = {
        "agreement": [world.active.pk, world.draft.pk, world.active_b.pk],
        "space": [world.room.pk, world.room_2.pk, world.space_b.pk],
        "occupant": [OCCUPANT_ID, registered.json()["id"], world.occupant.pk],
        "stay": [STAY_ID, world.stay.pk, world.stay_b.pk],
        "residencecontract": [CONTRACT_ID, world.contract.pk],
        "document": [world.document.pk],
        "building": [world.building_13.pk, world.building_75.pk],
        "safetyinspection": [world.inspection.pk],
        "amendment": list(Amendment.objects.values_list("pk", flat=True)),
        "insurancecertificate": list(
            InsuranceCertificate.objects.values_list("pk", flat=True)
        ),
    }
    return Planted(
        # Whole pseudonyms and their first 12 characters (a cut one is still one).
        strings_a=[a, FILE_NUMBER, *pseudonyms[:3], *(p[:12] for p in pseudonyms[:3])],
        strings_b=[b, pseudonyms[3], pseudonyms[3][:12]],
        ids_a=[OCCUPANT_ID, STAY_ID, CONTRACT_ID],
        objects=objects,
        media=[str(world.document.file.name)],
    )


# --- The walk -------------------------------------------------------------------------
def patterns(
    resolver: URLResolver | None = None, namespace: str = "", prefix: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    """(namespace, full pattern text, pattern) for every endpoint of the URLconf."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = (
                    f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                )
            yield from patterns(entry, inner, prefix + str(entry.pattern))
        else:
            yield namespace, prefix + str(entry.pattern), entry


# Route names (without namespace) → the kind of planted row their pk names.
KINDS = {
    "agreement": "agreement",
    "space": "space",
    "safety-inspection": "safetyinspection",
    "occupant": "occupant",
    "stay": "stay",
    "residence-contract": "residencecontract",
    "building": "building",
    "detail": "building",  # buildings:detail
    "transition": "building",  # buildings:transition
    "site": "building",  # occupancy:site, a building the operator occupies
}
ADMIN = re.compile(r"^admin:\w+?_(\w+?)_(change|delete|history)$")


def ids_for(name: str, planted: Planted, *, formatted: bool) -> list[int]:
    """The planted rows a route's id may name: its model's when the route says
    which, else one of each kind. Format-suffixed twins (``.json``) and the
    admin's pages (which send a non-staff caller to the login page before
    reading anything) take one id each."""
    admin = ADMIN.match(name)
    if admin:
        return planted.objects.get(admin.group(1), [OCCUPANT_ID])[:1]
    if name.startswith("admin:"):
        return [OCCUPANT_ID]
    base = name.rsplit(":", 1)[-1]
    kind = next(
        (kind for prefix, kind in KINDS.items() if base.startswith(prefix)), None
    )
    rows = planted.objects[kind] if kind else planted.representative
    return rows[:1] if formatted else rows


def ogc_collections() -> list[str]:
    """The collections the OGC API lists (read from it, so a new one is walked)."""
    listing = APIClient().get(reverse("ogc:collections"), {"f": "json"})
    assert listing.status_code == 200, listing.content
    return [collection["id"] for collection in listing.json()["collections"]]


def candidates(name: str, param: str, planted: Planted, params: list[str]) -> list[Any]:
    if param in ("pk", "id", "object_id"):
        return ids_for(name, planted, formatted="format" in params)
    if param == "document_id":
        return planted.objects["document"]
    if param == "format":
        return ["json"]
    if param == "fmt":
        return ["csv", "xlsx", "geojson", "gpkg"]
    if param == "space":
        return ["agent", "operateur", "financeur"]
    if param == "app_label":
        return [config.label for config in apps.get_app_configs()]
    if param == "content_type_id":
        return [ContentType.objects.get_for_model(Occupant).pk]
    if param == "extension":
        return ["csv", "geojson"]
    if param == "collection_id":
        return ogc_collections()
    if param == "feature_id":
        return [str(pk) for pk in planted.objects["building"]]
    raise AssertionError(f"{name}: no candidates for <{param}>; add them to the walk")


def unnamed(text: str, planted: Planted) -> set[str]:
    """URLs of a pattern reverse() cannot build: the media files (DEBUG only), and
    the admin's redirects from ``<object_id>/`` to its change page."""
    if text == MEDIA:
        return {f"/media/{path}" for path in planted.media}
    if text == ADMIN_CATCH_ALL:
        return {f"/admin/occupancy/occupant/{OCCUPANT_ID}/", "/admin/nowhere/"}
    params = re.findall(r"<(?:\w+:)?(\w+)>", text)
    assert params == ["object_id"], f"unnamed route {text}: name it or walk it"
    return {"/" + re.sub(r"<[^>]+>", str(pk), text) for pk in planted.representative}


def urls(planted: Planted) -> tuple[set[str], list[str]]:
    """Every GET-able URL with the planted ids, and the routes that gave none."""
    found: set[str] = set()
    escaped: list[str] = []
    for namespace, text, pattern in patterns():
        if pattern.name is None:
            found |= unnamed(text, planted)
            continue
        if pattern.name in SKIPPED:
            continue
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        params = sorted(pattern.pattern.regex.groupindex)
        built = set()
        if set(params) == {"x", "y", "z"}:
            combinations: Iterable[tuple[Any, ...]] = [
                (x, y, z) for z, x, y in TILES
            ]  # params are sorted: x, y, z
        else:
            combinations = itertools.product(
                *(candidates(name, param, planted, params) for param in params)
            )
        for values in combinations:
            try:
                built.add(reverse(name, kwargs=dict(zip(params, values, strict=True))))
            except NoReverseMatch:
                continue
        if not built:
            escaped.append(name)
        found |= built
    # Query strings the bare routes do not exercise.
    period = f"period_start={days(-400)}&period_end={days(2)}"
    found |= {
        f"/api/v1/indicators/?{period}",
        *(f"/api/v1/indicators/?{period}&group_by={g}" for g in ("site", "use",
                                                                  "category", "month")),
        "/api/v1/buildings/?geometry=footprint",
    }  # fmt: skip
    return found, escaped


def body_of(response: HttpResponseBase) -> bytes:
    """The bytes a client reads, spreadsheets unzipped (XLSX text is compressed)."""
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content  # type: ignore[attr-defined]
    parts = [content, str(dict(response.items())).encode()]
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts.extend(archive.read(member) for member in archive.namelist())
    return b"\n".join(parts)


def hits(
    content: bytes, strings: Iterable[str], ids: Iterable[int], *, echo: str = ""
) -> list[str]:
    """The planted values in ``content``. ``echo``, the URL the caller asked for,
    is cut out first: a login redirect's ``next`` repeats the ids the caller sent,
    which tells it nothing."""
    text = content.decode("utf-8", errors="replace").lower()
    if echo:
        for form in (echo, quote(echo, safe=""), quote(echo)):
            text = text.replace(form.lower(), "")
    found = [string for string in strings if string.lower() in text]
    found += [str(pk) for pk in ids if re.search(rf"(?<!\d){pk}(?!\d)", text)]
    return found


@dataclass
class Walk:
    statuses: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)


def walk(
    client: APIClient, planted: Planted, *, strings: list[str], ids: list[int]
) -> Walk:
    result = Walk()
    found, escaped = urls(planted)
    assert escaped == [], f"routes the walk cannot build: {escaped}"
    for url in sorted(found):
        cache.clear()  # throttling would turn the rest of the walk into 429s
        response = client.get(url)
        result.statuses[url] = response.status_code
        for hit in hits(body_of(response), strings, ids, echo=url):
            result.leaks.append(f"GET {url} ({response.status_code}): {hit}")
    return result


def write_routes(planted: Planted) -> list[tuple[str, str]]:
    """(method, URL) of every API write, on the planted objects."""
    found, _ = urls(planted)
    routes: list[tuple[str, str]] = []
    for url in sorted(found):
        if not url.startswith("/api/v1/") or url.endswith((".json", "json/")):
            continue
        routes.append(("post", url))
        if re.search(r"/\d+/$", url):
            routes.append(("patch", url))
    return routes


def foreign_body(planted: Planted) -> dict[str, Any]:
    """Every relation a write may take, pointed at A's rows (ids only: a string
    sent would be echoed by a validation message)."""
    first = {kind: pks[0] for kind, pks in planted.objects.items()}
    return {
        "occupant": OCCUPANT_ID,
        "space": first["space"],
        "spaces": planted.objects["space"],
        "agreement": first["agreement"],
        "building": first["building"],
        "to": "active",
        "entry": days(-1).isoformat(),
        "structure_type": "insertion",
    }


def send_writes(
    client: APIClient, planted: Planted, *, strings: list[str], ids: list[int]
) -> Walk:
    result = Walk()
    for method, url in write_routes(planted):
        cache.clear()
        response = getattr(client, method)(
            url, foreign_body(planted), format="json", HTTP_IF_MATCH="*"
        )
        result.statuses[f"{method} {url}"] = response.status_code
        for hit in hits(body_of(response), strings, ids, echo=url):
            result.leaks.append(
                f"{method.upper()} {url} ({response.status_code}): {hit}"
            )
    return result


# --- The tests ------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _setup(settings: Settings, tmp_path: Path) -> Iterator[None]:
    settings.RESIDENT_PSEUDONYM_KEY = PSEUDONYM_KEY
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def planted(world: World) -> Planted:
    return plant(world, world.client("operator_a"))


def session_client(world: World, principal: str) -> APIClient:
    """Logged in through the session, so that pages see the user as the API does."""
    # A server error is an answer to check, not an exception in the test.
    client = APIClient(raise_request_exception=False)
    user = world.users[principal]
    if user is not None:
        client.force_login(user)
    return client


def server_errors(statuses: dict[str, int]) -> list[str]:
    """Routes that answered 5xx, less the known ones (which must still fail)."""
    failed = [route for route, status in statuses.items() if status >= 500]
    for known in KNOWN_SERVER_ERRORS:
        if statuses and all(route.startswith("/") for route in statuses):
            assert any(known.match(route) for route in failed), (
                f"{known.pattern} no longer fails: remove it from KNOWN_SERVER_ERRORS"
            )
    return [
        route
        for route in failed
        if not any(known.match(route) for known in KNOWN_SERVER_ERRORS)
    ]


@pytest.mark.parametrize("principal", ["anonymous", "funder"])
def test_no_answer_to_an_anonymous_caller_or_a_funder_carries_a_canary(
    world: World, planted: Planted, principal: str
) -> None:
    client = session_client(world, principal)
    strings = planted.strings_a + planted.strings_b
    reads = walk(client, planted, strings=strings, ids=planted.ids_a)
    assert reads.leaks == []
    writes = send_writes(client, planted, strings=strings, ids=planted.ids_a)
    assert writes.leaks == []
    # The walk was not vacuous: public pages and data answered, nothing broke.
    assert sum(status == 200 for status in reads.statuses.values()) >= 10
    assert reads.statuses["/api/v1/buildings/"] == 200
    assert reads.statuses["/api/schema/"] == 200
    assert server_errors(reads.statuses) == []
    assert server_errors(writes.statuses) == []
    assert 429 not in reads.statuses.values()
    # Resident-level endpoints are closed to them, writes too.
    for url in ("/api/v1/occupants/", "/api/v1/stays/", "/api/v1/residence-contracts/"):
        assert reads.statuses[url] in (401, 403), url
    occupancy = re.compile(
        r" /api/v1/(agreements|spaces|safety-inspections|occupants|stays|"
        r"residence-contracts)/"
    )
    opened = {
        route: status
        for route, status in writes.statuses.items()
        if occupancy.search(route) and status not in (401, 403)
    }
    assert opened == {}


def test_no_answer_to_another_operator_carries_the_first_ones_canaries(
    world: World, planted: Planted
) -> None:
    """Operator B sees its own rows, never A's. Its 400s may echo the ids it sent
    itself, so only A's strings are searched in its write answers."""
    client = session_client(world, "operator_b")
    reads = walk(client, planted, strings=planted.strings_a, ids=planted.ids_a)
    assert reads.leaks == []
    writes = send_writes(client, planted, strings=planted.strings_a, ids=[])
    assert writes.leaks == []
    assert server_errors(reads.statuses) == []
    assert server_errors(writes.statuses) == []
    # B reads its own residents: the walk reached the resident endpoints.
    assert reads.statuses["/api/v1/occupants/"] == 200


def test_the_walk_finds_the_canaries_where_operator_a_may_read_them(
    world: World, planted: Planted
) -> None:
    """The positive control: the same walk, as A, meets A's strings and ids — but
    never a pseudonym or the file number, which no one is ever shown."""
    client = session_client(world, "operator_a")
    secret = [FILE_NUMBER, *planted.strings_a[2:]]
    reads = walk(client, planted, strings=[CANARY_A, *secret], ids=planted.ids_a)
    seen = " ".join(reads.leaks)
    assert f"/api/v1/spaces/ (200): {CANARY_A}" in seen
    assert f"/api/v1/occupants/{OCCUPANT_ID}/ (200): {OCCUPANT_ID}" in seen
    assert f"/api/v1/stays/{STAY_ID}/ (200)" in seen
    assert [leak for leak in reads.leaks if leak.endswith(tuple(secret))] == []


def test_the_scan_reads_inside_spreadsheets_and_streams() -> None:
    """A canary in a zipped sheet or a streamed body is found (the XLSX export)."""
    from django.http import HttpResponse, StreamingHttpResponse

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<t>{CANARY_A}</t>")
    sheet = HttpResponse(buffer.getvalue())
    assert hits(body_of(sheet), [CANARY_A], []) == [CANARY_A]
    stream = StreamingHttpResponse(iter([b"id;name\n", f"1;{CANARY_B}\n".encode()]))
    assert hits(body_of(stream), [CANARY_B], []) == [CANARY_B]
    assert hits(b'{"id": 1918273645}', [], [OCCUPANT_ID]) == []
    assert hits(b'{"id": 918273645}', [], [OCCUPANT_ID]) == [str(OCCUPANT_ID)]
