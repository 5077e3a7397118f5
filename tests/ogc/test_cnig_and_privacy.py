"""The CNIG "Friches" export, which our own Cartofriches importer takes back in,
and the rule over everything under /ogc/: the public stock only, public fields only."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from buildings.geojson import AGENT_PROPERTIES, PUBLIC_PROPERTIES
from buildings.importers.cnig import COLUMNS as IMPORTER_COLUMNS
from buildings.importers.pipeline import import_file
from buildings.ogc.cnig import COLUMNS, GEOMETRY_COLUMN
from tests.buildings.test_exports import table_locked
from tests.ogc.conftest import Inventory, make_inventory
from tests.ogc.helpers import body, ids, walk

pytestmark = pytest.mark.django_db

Validators = dict[str, jsonschema.protocols.Validator]


def download(client: Client, extension: str) -> bytes:
    response = client.get(f"/ogc/exports/friches.{extension}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.streaming
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_the_csv_has_the_cartofriches_columns_a_bom_and_crlf(
    inventory: Inventory, client: Client
) -> None:
    data = download(client, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == len(inventory.public) + 1
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0]) == [*COLUMNS, GEOMETRY_COLUMN]
    # The names Cartofriches (and our importer) know, in their order.
    assert [c for c in IMPORTER_COLUMNS if c != "id"] == list(COLUMNS)
    by_name = {row["site_nom"]: row for row in rows}
    assert set(by_name) == {b.designation for b in inventory.public}
    closed = inventory.by_name["Closed period"]
    assert by_name["Closed period"] == {
        **dict.fromkeys(COLUMNS, ""),
        "site_id": f"13055_ETAT{closed.pk}",
        "site_nom": "Closed period",
        "site_adresse": "16 rue Bernard du Bois",
        "site_identif_date": "2016-01-01",
        "site_occupation": "totalement inoccupé",
        "site_statut": "friche avec projet",
        "activite_libelle": "Bureaux",
        "comm_nom": "Marseille",
        "comm_insee": "13055",
        "dep": "13",
        "bati_nombre": "1",
        "bati_surface": "4000",
        "bati_vacance": "vacant",
        "source_nom": "Intercalaire",
        "geom": "POINT(5.3838 43.3023)",
    }
    land = by_name["Land in Marseille"]
    assert (land["site_surface"], land["bati_surface"], land["bati_nombre"]) == (
        "12500.50",
        "",
        "0",
    )
    assert by_name["Open end"]["site_statut"] == "friche sans projet"
    assert by_name["Not located"]["geom"] == ""
    assert by_name["Paris"]["comm_nom"] == "Paris"


def test_csv_cells_that_could_start_a_formula_are_neutralised(
    inventory: Inventory, client: Client
) -> None:
    building = inventory.by_name["Marseille 1"]
    building.designation = '=HYPERLINK("http://evil")'
    building.save(update_fields=["designation"])
    rows = csv.DictReader(io.StringIO(download(client, "csv").decode("utf-8-sig")))
    names = {row["site_nom"] for row in rows}
    assert '\'=HYPERLINK("http://evil")' in names


def test_the_geojson_export_is_valid_and_carries_the_same_columns(
    inventory: Inventory, client: Client, geojson_validators: Validators
) -> None:
    collection = json.loads(download(client, "geojson"))
    geojson_validators["FeatureCollection"].validate(collection)
    assert len(collection["features"]) == len(inventory.public)
    for feature in collection["features"]:
        assert list(feature["properties"]) == list(COLUMNS)
        assert feature["id"] == feature["properties"]["site_id"]


@pytest.mark.parametrize("extension", ["csv", "geojson"])
def test_our_cartofriches_importer_takes_the_exports_back_in(
    inventory: Inventory, client: Client, tmp_path: Path, extension: str
) -> None:
    path = tmp_path / f"friches.{extension}"
    path.write_bytes(download(client, extension))
    report = import_file(path, profile="cnig-friches", dry_run=True)
    assert report.ok, report.errors
    assert report.rows_read == report.created == len(inventory.public)


def test_nothing_outside_the_public_stock_or_its_fields_ever_appears(
    inventory: Inventory, client: Client
) -> None:
    """Confidential, in-use and occupied buildings stay out of the items (by any
    filter), the features, the layers' counts, the extents and the exports; no
    agent-only property is served."""
    hidden = {building.pk for building in inventory.hidden}
    hidden_names = {building.designation for building in inventory.hidden}
    for query in ("", "status=vacant", "department=13", "bbox=-180,-90,180,90"):
        pages = walk(client, f"/ogc/collections/buildings/items?{query}")
        assert not set(ids(pages)) & hidden
        for feature in (f for page in pages for f in page["features"]):
            assert set(feature["properties"]) == set(PUBLIC_PROPERTIES)
    agent_only = set(AGENT_PROPERTIES) - set(PUBLIC_PROPERTIES)
    assert "ministry" in agent_only
    # Ajaccio and Toulouse hold only hidden buildings: the extent stops at Aix.
    extent = body(client, "/ogc/collections/buildings")["extent"]["spatial"]["bbox"][0]
    assert extent == [2.3488, 43.3023, 5.4455, 48.8534]
    near_ajaccio = walk(
        client, "/ogc/collections/buildings/items?bbox=8.5,41.8,8.9,42.1"
    )
    assert near_ajaccio[0]["features"] == []
    (department,) = [
        f
        for f in body(client, "/ogc/collections/departements/items")["features"]
        if f["id"] == "13"
    ]
    in_13 = [b for b in inventory.public if b.department_id == "13"]
    assert department["properties"]["vacant_buildings"] == len(in_13)
    for extension in ("csv", "geojson"):
        text = download(client, extension).decode("utf-8-sig")
        assert not any(name in text for name in hidden_names)
        assert "Ministère" not in text


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("extension", ["csv", "geojson"])
def test_a_cnig_export_whose_query_times_out_is_a_503_not_a_cut_200(
    extension: str,
) -> None:
    """Both files wrote their head before their query ran (a 200 cut short by
    a statement timeout); they now start with their first rows."""
    make_inventory()
    with table_locked("buildings_commune"):
        response = Client().get(f"/ogc/exports/friches.{extension}")
    assert response.status_code == 503
    assert response.json()["code"] == "ServiceUnavailable"
