"""Generator of the bad-file corpus for the importers (reference/reliability.md F1, G).

Each ``BadFile`` builds one file into a directory and says where its report must
point: a row and a column, or the file as a whole. Files are made small and on the
fly (GeoPackages and shapefiles through ``ogr2ogr``, which the bootstrap installs
with GDAL), so the corpus needs nothing from the network.

Run ``python -m tests.data.import_corpus DIR`` to write the corpus out for a look.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

# The limit the corpus test sets (settings.IMPORT_MAX_BYTES): the bombs exceed it.
CORPUS_MAX_BYTES = 1024 * 1024

DIE_COLUMNS = [
    "code_chorus", "id", "designation_site", "designation_batiment_terrain", "type",
    "fonction", "adresse", "ville", "dept", "code_postal", "code_insee",
    "libelle_nouvelle_region", "pays", "latitude", "longitude", "ministere",
    "libelle_gestionnaire", "type_gestionnaire", "libelle_proprietaire",
    "type_proprietaire", "surface_m2", "consommation_kwh_ef", "type_de_chauffage",
    "etat_de_sante", "annee_de_construction", "tri_des_dechets", "erp",
    "date_de_reference",
]  # fmt: skip
DIE_NAME = "parc_immobilier_etat_20231231.csv"
# The keys of the good rows: the corpus test stores buildings under the first ones,
# so that a partial write would show as a changed row.
DIE_FIRST_ID = "IB00100900001"
CNIG_FIRST_ID = "cnig:13055_0001"
GENERIC_MAPPING = {
    "ref": "inventory_id",
    "nom": "designation",
    "surface": "surface_m2",
    "x": "lon",
    "y": "lat",
}
LAYER_MAPPING = {"ref": "inventory_id", "nom": "designation"}


def die_row(number: int, **changes: str) -> dict[str, str]:
    """A valid DIE row in Marseille; ``changes`` overrides columns."""
    row = {
        "code_chorus": f"PACA/{100000 + number}/{200000 + number}",
        "id": f"IB00100{900000 + number:06d}",
        "designation_site": "CITE ADMINISTRATIVE SAINT-CHARLES",
        "designation_batiment_terrain": f"BATIMENT {number}",
        "type": "Bureau",
        "fonction": "Immeuble de bureaux",
        "adresse": "16  R BERNARD DU BOIS",
        "ville": "Marseille",
        "dept": "13",
        "code_postal": "13001",
        "code_insee": "13055",
        "libelle_nouvelle_region": "Provence-Alpes-Côte-d'Azur",
        "pays": "France",
        "latitude": f"{43.3023 + number / 100000:.6f}",
        "longitude": "5.383800",
        "ministere": "Transition écologique",
        "libelle_gestionnaire": "DDTM 13",
        "type_gestionnaire": "Etat",
        "libelle_proprietaire": "ETAT DOMAINE PRIVE  PARTENAIRE GENERIQUE",
        "type_proprietaire": "Etat",
        "surface_m2": "1250.0",
        "consommation_kwh_ef": "",
        "type_de_chauffage": "",
        "etat_de_sante": "Satisfaisant",
        "annee_de_construction": "1965",
        "tri_des_dechets": "",
        "erp": "Non",
        "date_de_reference": "2021-12-31",
    }
    row.update(changes)
    return row


def die_text(rows: list[dict[str, str]], *, columns: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=columns or DIE_COLUMNS, delimiter=";", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in writer.fieldnames})
    return buffer.getvalue()


def write_die(
    directory: Path, rows: list[dict[str, str]], name: str = DIE_NAME
) -> Path:
    path = directory / name
    path.write_text(die_text(rows), encoding="utf-8")
    return path


def cnig_text(geometries: list[str], **changes: str) -> str:
    columns = ["site_id", "site_nom", "site_identif_date", "dep", "comm_insee"]
    lines = [";".join([*columns, "geometry"])]
    for number, geometry in enumerate(geometries, start=1):
        row = {
            "site_id": f"13055_{number:04d}",
            "site_nom": f"Friche {number}",
            "site_identif_date": "15/03/2021",
            "dep": "13",
            "comm_insee": "13055",
        }
        if number == len(geometries):
            row.update(changes)
        lines.append(";".join([*(row[name] for name in columns), geometry]))
    return "\n".join(lines) + "\n"


def write_text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    def build(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(text.encode(encoding))
        return path

    return build


def write_bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    return build


def feature_collection(coordinates: list[list[float]], crs: int | None = None) -> str:
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ref": f"GJ-{number}", "nom": f"Bâtiment {number}"},
                "geometry": {"type": "Point", "coordinates": point},
            }
            for number, point in enumerate(coordinates, start=1)
        ],
    }
    if crs is not None:
        # Pre-RFC 7946 GeoJSON, as QGIS still writes it for Lambert-93.
        collection["crs"] = {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs}"},
        }
    return json.dumps(collection)


def ogr2ogr(source: Path, target: Path, driver: str, *options: str) -> None:
    subprocess.run(
        ["ogr2ogr", "-f", driver, str(target), str(source), *options],
        check=True,
        capture_output=True,
    )


def shapefile_parts(directory: Path, *, prj: bool = True) -> dict[str, bytes]:
    """The parts of a one-point shapefile in Lambert-93."""
    source = directory / "source.geojson"
    source.write_text(feature_collection([[892460.0, 6245930.0]], crs=2154))
    folder = directory / "shape"
    folder.mkdir(exist_ok=True)
    ogr2ogr(source, folder / "batiments.shp", "ESRI Shapefile")
    parts = {path.suffix: path.read_bytes() for path in folder.iterdir()}
    if not prj:
        parts.pop(".prj")
    return parts


def zip_bytes(members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def shapefile_zip(
    *, without: tuple[str, ...] = (), prj: bool = True, extra: list[Any] | None = None
) -> Callable[[Path], Path]:
    def build(directory: Path) -> Path:
        parts = shapefile_parts(directory, prj=prj)
        members: list[tuple[zipfile.ZipInfo | str, bytes]] = [
            (f"batiments{suffix}", data)
            for suffix, data in parts.items()
            if suffix not in without
        ]
        path = directory / "batiments.zip"
        path.write_bytes(zip_bytes(members + (extra or [])))
        return path

    return build


def symlink_member() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("batiments.cpg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def lying_zip(directory: Path) -> Path:
    """The .shp declares 10 bytes and holds 600 KB more (CPython #83522)."""
    parts = shapefile_parts(directory)
    parts[".shp"] = parts[".shp"] + bytes(600_000)
    data = bytearray(
        zip_bytes([(f"batiments{suffix}", body) for suffix, body in parts.items()])
    )
    name = b"batiments.shp"
    # (signature, offset of the file name, offset of the uncompressed size)
    for signature, name_at, size_at in (
        (b"PK\x03\x04", 30, 22),
        (b"PK\x01\x02", 46, 24),
    ):
        header = data.find(signature)
        while header >= 0:
            if data[header + name_at : header + name_at + len(name)] == name:
                data[header + size_at : header + size_at + 4] = (10).to_bytes(
                    4, "little"
                )
            header = data.find(signature, header + 4)
    path = directory / "batiments.zip"
    path.write_bytes(bytes(data))
    return path


def geopackage(directory: Path, *, layers: int = 1) -> Path:
    path = directory / "batiments.gpkg"
    for number in range(layers):
        source = directory / f"layer{number}.geojson"
        source.write_text(feature_collection([[5.3698, 43.2951]]))
        options = ["-nln", f"batiments{number}"]
        if number:
            options.append("-update")
        ogr2ogr(source, path, "GPKG", *options)
    return path


def truncated_geopackage(directory: Path) -> Path:
    path = geopackage(directory)
    path.write_bytes(path.read_bytes()[:3000])
    return path


def workbook(rows: list[list[Any]]) -> Callable[[Path], Path]:
    def build(directory: Path) -> Path:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ref", "nom", "surface", "x", "y"])
        for row in rows:
            sheet.append(row)
        path = directory / "batiments.xlsx"
        book.save(path)
        return path

    return build


def with_mapping(mapping: dict[str, str]) -> dict[str, Any]:
    return {"mapping": mapping}


@dataclass(frozen=True)
class BadFile:
    """One bad file: how to build it, how to import it, where the report points."""

    name: str
    profile: str
    build: Callable[[Path], Path]
    options: dict[str, Any] = field(default_factory=dict)
    # A row-level rejection at (row, column); None for a refusal of the whole file.
    row: int | None = None
    column: str | None = None

    @property
    def file_level(self) -> bool:
        return self.row is None


def _die(rows: list[dict[str, str]], name: str = DIE_NAME) -> Callable[[Path], Path]:
    return lambda directory: write_die(directory, rows, name)


GOOD_DIE = die_text([die_row(1), die_row(2), die_row(3)])
GOOD_LINES = GOOD_DIE.splitlines(keepends=True)
CSV_ROWS = [["GEN-1", "Bâtiment 1", "120.5", "5.3698", "43.2951"]]


def crs_link_collection(href: str) -> str:
    """A GeoJSON of the 2008 draft whose CRS is a link GDAL would fetch."""
    collection = json.loads(feature_collection([[5.3698, 43.2951]]))
    collection["crs"] = {
        "type": "link",
        "properties": {"href": href, "type": "esriwkt"},
    }
    return json.dumps(collection)


def truncated_sheet(directory: Path) -> Path:
    """A workbook whose first sheet's XML stops in the middle of a row."""
    path = workbook(CSV_ROWS * 50)(directory)
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    sheet = "xl/worksheets/sheet1.xml"
    cut: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (info, data[: len(data) // 2] if info.filename == sheet else data)
        for info, data in members
    ]
    path.write_bytes(zip_bytes(cut))
    return path


CORPUS: list[BadFile] = [
    # --- Structure of a CSV file
    BadFile("empty file", "die", write_text(DIE_NAME, "")),
    BadFile("header only", "die", write_text(DIE_NAME, GOOD_LINES[0])),
    BadFile(
        "truncated inside a row",
        "die",
        # The last row stops after its surface_m2 field.
        write_text(DIE_NAME, GOOD_DIE[: GOOD_DIE.rindex(";1250.0") + 7]),
        row=4,
        column="consommation_kwh_ef",
    ),
    BadFile(
        "truncated inside a quoted field",
        "die",
        write_text(DIE_NAME, GOOD_DIE + '"ABC;DEF'),
    ),
    BadFile(
        "latin-1 with accents",
        "die",
        write_text(DIE_NAME, GOOD_DIE, encoding="latin-1"),
    ),
    BadFile("utf-16", "die", write_text(DIE_NAME, GOOD_DIE, encoding="utf-16")),
    BadFile(
        "comma instead of semicolon",
        "die",
        write_text(DIE_NAME, GOOD_DIE.replace(";", ",")),
    ),
    BadFile(
        "missing required column",
        "die",
        write_text(DIE_NAME, die_text([die_row(1)], columns=DIE_COLUMNS[2:])),
    ),
    BadFile(
        "column twice in the header",
        "die",
        write_text(DIE_NAME, GOOD_DIE.replace("fonction", "type", 1)),
    ),
    BadFile(
        "NUL byte",
        "die",
        write_text(DIE_NAME, GOOD_DIE.replace("BATIMENT 2", "BATI\x00MENT 2")),
    ),
    BadFile(
        "extra field in a row",
        "die",
        write_text(DIE_NAME, GOOD_DIE.rstrip("\n") + ";surplus\n"),
        row=4,
        column="(29)",
    ),
    BadFile(
        "a row of two fields",
        "die",
        write_text(DIE_NAME, GOOD_DIE + "PACA/1/2;IB00100999999\n"),
        row=5,
        column="designation_site",
    ),
    BadFile("no vintage in the name", "die", _die([die_row(1)], "inventaire.csv")),
    BadFile(
        "zip renamed .csv", "die", write_bytes(DIE_NAME, zip_bytes([("a.csv", b"x")]))
    ),
    BadFile(
        "VRT content renamed .csv",
        "die",
        write_text(DIE_NAME, "<OGRVRTDataSource><OGRVRTLayer/></OGRVRTDataSource>"),
    ),
    BadFile(
        "larger than the limit",
        "die",
        _die([die_row(number) for number in range(1, 4000)]),
    ),
    # --- Values of a DIE row
    BadFile(
        "duplicate keys",
        "die",
        _die([die_row(1), die_row(2), die_row(3, id=DIE_FIRST_ID)]),
        row=4,
        column="id",
    ),
    BadFile(
        "comma decimal",
        "die",
        _die([die_row(1), die_row(2, surface_m2="12,5")]),
        row=3,
        column="surface_m2",
    ),
    BadFile(
        "negative surface",
        "die",
        _die([die_row(1, surface_m2="-3")]),
        row=2,
        column="surface_m2",
    ),
    BadFile(
        "ERP neither yes nor no",
        "die",
        _die([die_row(1, erp="Peut-être")]),
        row=2,
        column="erp",
    ),
    BadFile(
        "year with a letter",
        "die",
        _die([die_row(1, annee_de_construction="19O5")]),
        row=2,
        column="annee_de_construction",
    ),
    BadFile(
        "Corsica as 20",
        "die",
        _die([die_row(1), die_row(2, dept="20")]),
        row=3,
        column="dept",
    ),
    BadFile(
        "empty designation",
        "die",
        _die([die_row(1, designation_site="", designation_batiment_terrain="")]),
        row=2,
        column="designation_batiment_terrain",
    ),
    BadFile(
        "identifier too long",
        "die",
        _die([die_row(1, id="X" * 101)]),
        row=2,
        column="id",
    ),
    BadFile(
        "swapped latitude and longitude",
        "die",
        _die([die_row(1), die_row(2, latitude="5.3838", longitude="43.3023")]),
        row=3,
        column="latitude",
    ),
    BadFile(
        "latitude out of range",
        "die",
        _die([die_row(1, latitude="943.3")]),
        row=2,
        column="latitude",
    ),
    BadFile(
        "a thousand good rows, then a bad last row",
        "die",
        _die([die_row(n) for n in range(1, 1001)] + [die_row(1001, erp="?")]),
        row=1002,
        column="erp",
    ),
    # --- CNIG "Friches" CSV with WKT
    BadFile(
        "bad date",
        "cnig-friches",
        write_text(
            "friches.csv",
            cnig_text(["POINT (5.37 43.29)"] * 2, site_identif_date="31/02/2020"),
        ),
        row=3,
        column="site_identif_date",
    ),
    BadFile(
        "self-intersecting polygon (repaired) and an empty geometry",
        "cnig-friches",
        write_text(
            "friches.csv",
            cnig_text(
                [
                    "POLYGON ((5.36 43.29, 5.38 43.31, 5.38 43.29, 5.36 43.31, "
                    "5.36 43.29))",
                    "POINT EMPTY",
                ]
            ),
        ),
        row=3,
        column="geometry",
    ),
    BadFile(
        "broken WKT",
        "cnig-friches",
        write_text("friches.csv", cnig_text(["POINT (5.37 43.29)", "POINT (5.3"])),
        row=3,
        column="geometry",
    ),
    BadFile(
        "GeoJSON in a WKT cell",
        "cnig-friches",
        write_text("friches.csv", cnig_text(['{"type": "Point"}'])),
        row=2,
        column="geometry",
    ),
    BadFile(
        "a line, neither point nor polygon",
        "cnig-friches",
        write_text("friches.csv", cnig_text(["LINESTRING (5.37 43.29, 5.38 43.3)"])),
        row=2,
        column="geometry",
    ),
    BadFile(
        "EWKT in another SRID",
        "cnig-friches",
        write_text("friches.csv", cnig_text(["SRID=2154;POINT (892460 6245930)"])),
        row=2,
        column="geometry",
    ),
    BadFile(
        "no geometry column",
        "cnig-friches",
        write_text("friches.csv", "site_id;site_nom\n13055_0001;Friche\n"),
    ),
    BadFile(
        "unknown SRID",
        "cnig-friches",
        write_text("friches.csv", cnig_text(["POINT (5.37 43.29)"])),
        options={"srid": 999999},
    ),
    # --- GeoJSON, GeoPackage, zipped Shapefile (generic profile)
    BadFile(
        "GeoJSON that is not JSON",
        "generic",
        write_text("batiments.geojson", '{"type": "FeatureCollection", "features": ['),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "GeoJSON with Lambert-93 axes swapped",
        "generic",
        write_text(
            "batiments.geojson", feature_collection([[6245930, 892460]], crs=2154)
        ),
        options=with_mapping(LAYER_MAPPING),
        row=1,
        column="geometry",
    ),
    BadFile(
        "GeoJSON in Lambert-93 without saying so",
        "generic",
        write_text("batiments.geojson", feature_collection([[892460, 6245930]])),
        options=with_mapping(LAYER_MAPPING),
        row=1,
        column="geometry",
    ),
    BadFile(
        "VRT renamed .geojson",
        "generic",
        write_text(
            "batiments.geojson",
            "<OGRVRTDataSource><OGRVRTLayer name='x'><SrcDataSource>"
            "/vsicurl/http://127.0.0.1:9/x</SrcDataSource></OGRVRTLayer>"
            "</OGRVRTDataSource>",
        ),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "VRT file",
        "generic",
        write_text("batiments.vrt", "<OGRVRTDataSource/>"),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "path through /vsicurl/",
        "generic",
        lambda directory: Path("/vsicurl/http://127.0.0.1:9/batiments.geojson"),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "truncated GeoPackage",
        "generic",
        truncated_geopackage,
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "GeoPackage with two layers",
        "generic",
        lambda directory: geopackage(directory, layers=2),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "shapefile without .shx",
        "generic",
        shapefile_zip(without=(".shx",)),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "shapefile without .dbf",
        "generic",
        shapefile_zip(without=(".dbf",)),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "shapefile without .prj",
        "generic",
        shapefile_zip(prj=False),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip with ../ paths",
        "generic",
        shapefile_zip(extra=[("../../evil.txt", b"owned")]),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip with an absolute path",
        "generic",
        shapefile_zip(extra=[("/var/evil.txt", b"owned")]),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip with a symlink",
        "generic",
        shapefile_zip(extra=[(symlink_member(), b"/etc/passwd")]),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip inside the zip",
        "generic",
        shapefile_zip(extra=[("inner.zip", zip_bytes([("a.txt", b"a")]))]),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip bomb",
        "generic",
        shapefile_zip(extra=[("padding.dbf.bak", bytes(3 * CORPUS_MAX_BYTES))]),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip that lies about its sizes",
        "generic",
        lying_zip,
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "zip with too many members",
        "generic",
        write_bytes(
            "batiments.zip", zip_bytes([(f"f{n}.txt", b"") for n in range(1001)])
        ),
        options=with_mapping(LAYER_MAPPING),
    ),
    # --- CSV and XLSX with a mapping (generic profile)
    BadFile(
        "mapping to an unknown field",
        "generic",
        write_text("batiments.csv", "ref,nom\nA,B\n"),
        options=with_mapping({"ref": "inventory_id", "nom": "nickname"}),
    ),
    BadFile(
        "mapping names a missing column",
        "generic",
        write_text("batiments.csv", "ref,nom\nA,B\n"),
        options=with_mapping(GENERIC_MAPPING),
    ),
    BadFile(
        "CSV with lon/lat swapped",
        "generic",
        write_text("batiments.csv", "ref,nom,surface,x,y\nA,B,10,43.2951,5.3698\n"),
        options=with_mapping(GENERIC_MAPPING),
        row=2,
        column="x",
    ),
    BadFile(
        "status that only an agreement sets",
        "generic",
        write_text("batiments.csv", "ref,nom,statut\nA,B,occupied\n"),
        options=with_mapping(
            {"ref": "inventory_id", "nom": "designation", "statut": "status"}
        ),
        row=2,
        column="statut",
    ),
    BadFile(
        "XLSX with a bad row",
        "generic",
        workbook([*CSV_ROWS, ["GEN-2", "Bâtiment 2", "beaucoup", 5.37, 43.29]]),
        options=with_mapping(GENERIC_MAPPING),
        row=3,
        column="surface",
    ),
    BadFile(
        "XLSX with a formula",
        "generic",
        workbook([*CSV_ROWS, ["GEN-2", "Bâtiment 2", "=B2*2", 5.37, 43.29]]),
        options=with_mapping(GENERIC_MAPPING),
        row=3,
        column="surface",
    ),
    BadFile(
        "text renamed .xlsx",
        "generic",
        write_text("batiments.xlsx", "ref,nom\nA,B\n"),
        options=with_mapping(GENERIC_MAPPING),
    ),
    BadFile(
        "XLSX whose sheet is cut in the middle of a row",
        "generic",
        truncated_sheet,
        options=with_mapping(GENERIC_MAPPING),
    ),
    BadFile(
        "postal code with a superscript digit",
        "generic",
        write_text("batiments.csv", "ref;nom;cp\nP1;ok;13001\nP2;x;1300\u00b2\n"),
        options=with_mapping(
            {"ref": "inventory_id", "nom": "designation", "cp": "postal_code"}
        ),
        row=3,
        column="cp",
    ),
    BadFile(
        "GeoJSON whose crs is a link to fetch",
        "generic",
        write_text(
            "batiments.geojson", crs_link_collection("http://127.0.0.1:9/x.prj")
        ),
        options=with_mapping(LAYER_MAPPING),
    ),
    BadFile(
        "GeoPackage filter that fails when it runs",
        "generic",
        geopackage,
        options={**with_mapping(LAYER_MAPPING), "where": "nope = 1"},
    ),
    BadFile(
        "projected X and Y swapped (CC43)",
        "generic",
        write_text(
            "batiments.csv",
            "ref;nom;x;y\nCC1;ok;1892264.67;2235649.15\nCC2;x;2235649.15;1892264.67\n",
        ),
        options={
            **with_mapping(
                {"ref": "inventory_id", "nom": "designation", "x": "lon", "y": "lat"}
            ),
            "srid": 3943,
        },
        row=3,
        column="x",
    ),
]


def main(directory: str) -> None:
    root = Path(directory)
    for number, bad in enumerate(CORPUS, start=1):
        folder = root / f"{number:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = bad.build(folder)
        sys.stdout.write(f"{path}\t{bad.profile}\t{bad.name}\n")


if __name__ == "__main__":
    main(sys.argv[1])
