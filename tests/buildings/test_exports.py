"""Exports of the filtered selection: CSV for French spreadsheets, XLSX with
real types, GeoJSON (RFC 7946) and GeoPackage, each safe against formula
injection and never wider than the caller's list."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import OperationalError, connection
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from buildings import exports
from buildings.geojson import AGENT_PROPERTIES, PUBLIC_PROPERTIES
from buildings.models import Building, BuildingStatus
from organizations.models import OrganizationKind
from tests.buildings.factories import BuildingFactory, wgs84
from tests.buildings.test_geojson import assert_rfc7946

pytestmark = pytest.mark.django_db
FORMATS = ("csv", "xlsx", "geojson", "gpkg")
INJECTIONS = ["=1+1", "+33 6 12 34 56 78", "-2+3", "@SUM(A1:A9)", "\tHidden", "\rCR"]
# Spreadsheets skip leading spaces and line breaks before reading a formula.
HIDDEN_INJECTIONS = [" +1+2", "  \t=SUM(A1)", "\n=1+1"]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()


def export(client: APIClient, fmt: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/buildings/export.{fmt}", params)
    assert response.status_code == 200, getattr(response, "content", response)
    assert re.fullmatch(
        rf'attachment; filename="batiments-\d{{8}}\.{fmt}"',
        response["Content-Disposition"],
    )
    return response


def body(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.getvalue())


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark"
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def gpkg_summary(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "export.gpkg"
    path.write_bytes(content)
    completed = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return completed.stdout.decode()


@pytest.fixture
def stock() -> dict[str, Building]:
    return {
        "vacant": BuildingFactory.create(vacant=True, surface_m2=Decimal("1234.50")),
        "available": BuildingFactory.create(
            available=True, designation="Dépôt « nord »"
        ),
        "in use": BuildingFactory.create(),
        "confidential": BuildingFactory.create(vacant=True, confidential=True),
    }


@pytest.fixture
def agent_client(agent: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


# --- CSV
def test_the_csv_opens_in_a_french_spreadsheet(stock: dict[str, Building]) -> None:
    rows = csv_rows(body(export(APIClient(), "csv")))
    header, *lines = rows
    assert header == ["id", *PUBLIC_PROPERTIES, "longitude", "latitude"]
    by_id = {int(line[0]): dict(zip(header, line, strict=True)) for line in lines}
    assert set(by_id) == {stock["vacant"].pk, stock["available"].pk}
    vacant = by_id[stock["vacant"].pk]
    assert vacant["surface_m2"] == "1234,50"
    assert vacant["vacancy_since"] == "2016-01-01"
    assert vacant["erp"] == "false"
    assert (vacant["longitude"], vacant["latitude"]) == ("5,3838", "43,3023")
    assert by_id[stock["available"].pk]["designation"] == "Dépôt « nord »"


@pytest.mark.parametrize("text", INJECTIONS + HIDDEN_INJECTIONS)
def test_csv_cells_that_could_start_a_formula_are_neutralised(text: str) -> None:
    building = BuildingFactory.create(vacant=True, designation=text, address=text)
    header, line = csv_rows(body(export(APIClient(), "csv")))
    row = dict(zip(header, line, strict=True))
    assert row["id"] == str(building.pk)
    assert row["designation"] == row["address"] == "'" + text


def test_csv_numbers_stay_numbers_even_when_negative() -> None:
    """A western longitude is a number, not a formula."""
    BuildingFactory.create(vacant=True, point=wgs84(-1.55, 47.22))
    header, line = csv_rows(body(export(APIClient(), "csv")))
    assert dict(zip(header, line, strict=True))["longitude"] == "-1,55"


def test_the_csv_streams_in_chunks_for_large_selections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    BuildingFactory.create_batch(5, vacant=True)
    chunks = list(exports.export_csv(Building.objects.all(), fields=PUBLIC_PROPERTIES))
    assert len(chunks) == 3  # BOM, header and 2 rows; 2 rows; 1 row
    assert len(csv_rows(b"".join(chunks))) == 6


# --- XLSX
def test_the_xlsx_keeps_numbers_dates_and_text_apart(
    stock: dict[str, Building],
) -> None:
    workbook = load_workbook(io.BytesIO(body(export(APIClient(), "xlsx"))))
    sheet = workbook["batiments"]
    header, *lines = ([cell.value for cell in row] for row in sheet.iter_rows())
    assert header == ["id", *PUBLIC_PROPERTIES, "longitude", "latitude"]
    rows = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    vacant = rows[stock["vacant"].pk]
    assert vacant["surface_m2"] == 1234.5
    assert vacant["year_built"] == 1965
    assert isinstance(vacant["vacancy_since"], datetime)
    assert vacant["vacancy_since"].date() == date(2016, 1, 1)
    assert vacant["erp"] is False
    assert vacant["longitude"] == pytest.approx(5.3838)
    assert isinstance(vacant["designation"], str)


def test_xlsx_text_is_never_a_formula() -> None:
    for text in INJECTIONS:
        BuildingFactory.create(vacant=True, designation=text, function="x\x01y")
    workbook = load_workbook(io.BytesIO(body(export(APIClient(), "xlsx"))))
    cells = [cell for row in workbook["batiments"].iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    designations = {row[1].value for row in workbook["batiments"].iter_rows(min_row=2)}
    # XML reading turns the carriage return into a line feed; the quote stays.
    # A lone CR may come back as CR or LF depending on how the XML was escaped.
    assert {text.replace("\r", "\n") for text in designations} == {
        "'" + text.replace("\r", "\n") for text in INJECTIONS
    }
    functions = {row[3].value for row in workbook["batiments"].iter_rows(min_row=2)}
    assert functions == {"xy"}, "control characters are not allowed in XML"


def test_a_control_character_in_front_hides_no_formula_in_the_xlsx() -> None:
    """The prefix was added before control characters were stripped: "\x01=2+2"
    became "'\x01=2+2", then "=2+2", a live formula in the public export."""
    for text in [
        "\x01=2+2",
        '\x02=HYPERLINK("http://example.org")',
        *HIDDEN_INJECTIONS,
    ]:
        BuildingFactory.create(vacant=True, designation=text)
    workbook = load_workbook(io.BytesIO(body(export(APIClient(), "xlsx"))))
    cells = [cell for row in workbook["batiments"].iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    designations = {row[1].value for row in workbook["batiments"].iter_rows(min_row=2)}
    assert all(text.startswith("'") for text in designations), designations


# --- GeoJSON and GeoPackage
def test_the_geojson_export_is_rfc_7946_and_holds_the_whole_selection(
    stock: dict[str, Building],
) -> None:
    response = export(APIClient(), "geojson", geometry="point")
    assert response["Content-Type"] == "application/geo+json"
    document = orjson.loads(body(response))
    assert_rfc7946(document)
    assert [f["id"] for f in document["features"]] == sorted(
        [stock["vacant"].pk, stock["available"].pk]
    )


def test_the_geojson_export_joins_its_batches_with_commas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "GEOJSON_BATCH", 2)
    BuildingFactory.create_batch(5, vacant=True)
    chunks = list(
        exports.export_geojson(Building.objects.all(), fields=PUBLIC_PROPERTIES)
    )
    # The head leaves with the first features (config/streams.py), then 2 + 1
    # features, then the tail.
    assert len(chunks) == 3 + 1
    assert chunks[0].startswith(b'{"type":"FeatureCollection","features":[{')
    assert len(orjson.loads(b"".join(chunks))["features"]) == 5


def test_the_geopackage_opens_with_ogrinfo_with_the_right_count(
    stock: dict[str, Building], tmp_path: Path
) -> None:
    response = export(APIClient(), "gpkg")
    assert response["Content-Type"] == "application/geopackage+sqlite3"
    summary = gpkg_summary(body(response), tmp_path)
    assert "Layer name: buildings" in summary
    assert "Geometry: Point" in summary
    assert "Feature Count: 2" in summary
    assert "designation: String" in summary
    assert "vacancy_since: Date" in summary
    assert "ministry" not in summary


def test_an_agent_geopackage_holds_the_territory_and_its_footprints(
    stock: dict[str, Building], agent_client: APIClient, tmp_path: Path
) -> None:
    summary = gpkg_summary(
        body(export(agent_client, "gpkg", geometry="footprint")), tmp_path
    )
    assert "Feature Count: 4" in summary
    assert "ministry: String" in summary


def test_an_empty_selection_still_gives_a_geopackage(tmp_path: Path) -> None:
    summary = gpkg_summary(body(export(APIClient(), "gpkg")), tmp_path)
    assert "Feature Count: 0" in summary


# --- Scope and filters, every format
@pytest.mark.parametrize("fmt", FORMATS)
def test_public_exports_hold_no_confidential_building_and_no_internal_field(
    stock: dict[str, Building], fmt: str, tmp_path: Path
) -> None:
    content = body(export(APIClient(), fmt))
    if fmt == "gpkg":
        content = gpkg_summary(content, tmp_path).encode()
        assert "Feature Count: 2" in content.decode()
    elif fmt == "xlsx":
        workbook = load_workbook(io.BytesIO(content))
        content = "\n".join(
            str(cell.value) for row in workbook["batiments"].iter_rows() for cell in row
        ).encode()
    for secret in ("Armées", "ministry", "guarding_cost", "inventory_id", "TEST-"):
        assert secret.encode() not in content, secret


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_agent_exports_hold_the_territory_with_internal_fields(
    stock: dict[str, Building], agent_client: APIClient, fmt: str
) -> None:
    content = body(export(agent_client, fmt))
    assert "Armées".encode() in content
    if fmt == "csv":
        header, *lines = csv_rows(content)
        assert header == ["id", *AGENT_PROPERTIES, "longitude", "latitude"]
        assert len(lines) == 4
    else:
        assert len(orjson.loads(content)["features"]) == 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_apply_the_list_filters(
    stock: dict[str, Building], fmt: str, tmp_path: Path
) -> None:
    content = body(export(APIClient(), fmt, status=BuildingStatus.AVAILABLE))
    if fmt == "csv":
        assert [int(line[0]) for line in csv_rows(content)[1:]] == [
            stock["available"].pk
        ]
    elif fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(content))["batiments"]
        assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [
            stock["available"].pk
        ]
    elif fmt == "geojson":
        features = orjson.loads(content)["features"]
        assert [f["id"] for f in features] == [stock["available"].pk]
    else:
        assert "Feature Count: 1" in gpkg_summary(content, tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_over_the_limit_is_refused_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 2)
    BuildingFactory.create_batch(3, vacant=True)
    response = APIClient().get(f"/api/v1/buildings/export.{fmt}")
    assert response.status_code == 400
    assert response.json()["code"] == "export_too_large"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_filter_on_an_export_is_a_400_on_the_filter(fmt: str) -> None:
    response = APIClient().get(f"/api/v1/buildings/export.{fmt}", {"bbox": "x"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"bbox"}


def test_an_export_ignores_an_accept_header_it_cannot_satisfy(
    stock: dict[str, Building],
) -> None:
    response = APIClient().get("/api/v1/buildings/export.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_unknown_formats_are_not_routed() -> None:
    assert APIClient().get("/api/v1/buildings/export.pdf").status_code == 404


@pytest.mark.parametrize(
    "persona", [OrganizationKind.OPERATOR, OrganizationKind.FUNDER]
)
def test_operators_and_funders_export_the_public_stock(
    make_member: Callable[..., User], stock: dict[str, Building], persona: str
) -> None:
    client = APIClient()
    client.force_authenticate(make_member(persona))
    document = orjson.loads(body(export(client, "geojson")))
    assert {f["id"] for f in document["features"]} == {
        stock["vacant"].pk,
        stock["available"].pk,
    }


def test_export_functions_refuse_fields_nobody_may_export() -> None:
    with pytest.raises(ValueError, match="owner_type"):
        list(exports.export_csv(Building.objects.all(), fields=["owner_type"]))


def test_filenames_carry_the_day() -> None:
    assert re.fullmatch(r"batiments-\d{8}\.csv", exports.filename("csv"))
    assert exports.filename("csv")[10:18] == f"{timezone.localdate():%Y%m%d}"


# --- Chosen columns
@pytest.mark.parametrize(
    "columns",
    [
        {"columns": "city,designation,surface_m2"},
        {"columns": ["city", "designation,surface_m2"]},
    ],
    ids=["comma-separated", "repeated"],
)
def test_an_export_writes_the_chosen_columns_in_the_order_asked(
    stock: dict[str, Building], columns: dict[str, Any]
) -> None:
    header, *lines = csv_rows(body(export(APIClient(), "csv", **columns)))
    assert header == [
        "id",
        "city",
        "designation",
        "surface_m2",
        "longitude",
        "latitude",
    ]
    by_id = {int(line[0]): line for line in lines}
    assert set(by_id) == {stock["vacant"].pk, stock["available"].pk}
    assert by_id[stock["vacant"].pk][1:4] == [
        "Marseille",
        stock["vacant"].designation,
        "1234,50",
    ]


def test_chosen_columns_apply_to_every_format(
    stock: dict[str, Building], agent_client: APIClient, tmp_path: Path
) -> None:
    chosen = {"columns": "ministry,designation,designation", "status": "vacant"}
    features = orjson.loads(body(export(agent_client, "geojson", **chosen)))["features"]
    assert {f["id"] for f in features} == {stock["vacant"].pk, stock["confidential"].pk}
    # A name given twice is written once, where it first appears.
    assert [list(f["properties"]) for f in features] == [
        ["ministry", "designation"]
    ] * 2
    sheet = load_workbook(io.BytesIO(body(export(agent_client, "xlsx", **chosen))))
    header = [cell.value for cell in next(sheet["batiments"].iter_rows())]
    assert header == ["id", "ministry", "designation", "longitude", "latitude"]
    summary = gpkg_summary(body(export(agent_client, "gpkg", **chosen)), tmp_path)
    assert "ministry: String" in summary
    assert "city:" not in summary


@pytest.mark.parametrize(
    ("client_of", "columns", "reason"),
    [
        ("public", "designation,ministry", "Not a column you may export: ministry."),
        ("public", "guarding_cost_monthly", "Not a column you may export"),
        ("agent", "designation,owner_type", "Not a column you may export: owner_type."),
        ("agent", "password", "Not a column you may export: password."),
        ("agent", " , ", "Choose at least one column."),
    ],
    ids=["agent-field-public", "cost-public", "never-exposed", "unknown", "empty"],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_column_the_caller_may_not_read_is_a_400_naming_it(
    stock: dict[str, Building],
    agent_client: APIClient,
    client_of: str,
    columns: str,
    reason: str,
    fmt: str,
) -> None:
    client = agent_client if client_of == "agent" else APIClient()
    response = client.get(
        f"/api/v1/buildings/export.{fmt}",
        {"columns": columns},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"columns"}
    assert reason in errors["columns"][0]
    assert "Content-Disposition" not in response


def test_the_column_errors_speak_french_by_default() -> None:
    response = APIClient().get("/api/v1/buildings/export.csv", {"columns": "ministry"})
    assert response.status_code == 400
    assert response.json()["errors"]["columns"] == [
        "Colonne que vous ne pouvez pas exporter : ministry. Choisissez parmi : "
        + ", ".join(PUBLIC_PROPERTIES)
        + "."
    ]


@contextmanager
def table_locked(table: str) -> Iterator[None]:
    """``table`` locked against every read by another session (ACCESS EXCLUSIVE),
    and this session's statements cut after 300 ms: a read of it times out."""
    db = connection.settings_dict
    holder = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    try:
        holder.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 300")
        yield
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


@pytest.mark.parametrize("export", [exports.export_csv, exports.export_geojson])
def test_an_export_yields_nothing_before_its_query_has_answered(
    export: Callable[..., Iterator[bytes]],
) -> None:
    """The first chunk is what the view reads before the response starts
    (config/streams.py): the GeoJSON export yielded its head before running its
    query, so a statement timeout there came after a 200. A deliberately slow
    query under a real statement timeout now fails on the first chunk."""
    BuildingFactory.create(vacant=True)
    slow = Building.objects.extra(where=["pg_sleep(0.5) IS NOT NULL"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 100")
    with pytest.raises(OperationalError, match="statement timeout"):
        next(iter(export(slow, fields=PUBLIC_PROPERTIES)))
