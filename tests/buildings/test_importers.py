"""The importers on real and hand-made files: counts, values, idempotency, bulk paths.

The DIE excerpt (../shared/data/state-inventory, 41 rows × 28 columns) was read by
hand for the expected numbers: 16 rows located, 25 without coordinates (empty or
"-"); 24 confidential (21 "Bien contrôlé par …" designations — one of them with
real ids —, plus 3 ONF forests with hashed ids); 9 abroad (8 with a foreign
"pays", Belgrade with none, all with "N/A" or no département and postal code
99xxx); 2 years "0001"; 1 surface above 1,000,000 m² (13,684,036 m², row 14).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import translation
from pytest_django import DjangoAssertNumQueries

from buildings.importers import ImportReport, import_file
from buildings.models import (
    AssetType,
    Building,
    BuildingStatus,
    Commune,
    Condition,
    Department,
    Domaniality,
    Site,
    Source,
    SurfaceKind,
)
from config.errors import DomainError
from tests.buildings.factories import BuildingFactory, CommuneFactory
from tests.data.import_corpus import (
    DIE_NAME,
    die_row,
    die_text,
    feature_collection,
    ogr2ogr,
    shapefile_zip,
    workbook,
    write_die,
)

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "importers"
DIE_EXCERPT = "state-inventory/parc_immobilier_etat_20231231_excerpt.csv"
CARTOFRICHES = "cartofriches/cartofriches_france_20240310.gpkg"
# Départements and communes the excerpt names, but Rezonville-Vionville (57578),
# left out to see a row lose its commune link with a warning.
EXCERPT_DEPARTMENTS = [
    "02",
    "03",
    "05",
    "10",
    "21",
    "29",
    "31",
    "35",
    "36",
    "41",
    "42",
    "50",
    "51",
    "56",
    "57",
    "73",
    "75",
    "77",
    "78",
    "83",
    "92",
    "95",
    "974",
    "976",
]
EXCERPT_COMMUNES = [
    "03190",
    "10420",
    "29019",
    "42305",
    "51440",
    "56034",
    "57757",
    "73181",
    "75107",
    "75119",
    "92048",
    "95058",
    "97411",
    "97611",
]
# Marseille, Vieux-Port, in WGS84 and in Lambert-93 as the projection's closed
# formulas give it (LCC 2SP on GRS80, parameters of domain.md §C.1), worked out
# independently of GDAL. (The ≈ (892,460, 6,245,930) often quoted is ~950 m off.)
VIEUX_PORT = (5.3698, 43.2951)
VIEUX_PORT_L93 = (892_394.89, 6_246_879.70)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def excerpt(shared_data: Path) -> Path:
    return shared_data / DIE_EXCERPT


@pytest.fixture
def excerpt_references(db: None) -> None:
    Department.objects.bulk_create(
        Department(code=code, name=f"Département {code}")
        for code in EXCERPT_DEPARTMENTS
    )
    Commune.objects.bulk_create(
        Commune(code=code, name=f"Commune {code}") for code in EXCERPT_COMMUNES
    )


def table_state() -> dict[str, tuple[int, str]]:
    state = {}
    with connection.cursor() as cursor:
        for table in ("buildings_site", "buildings_building"):
            cursor.execute(
                "SELECT count(*), "
                "md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
                f"FROM {table} t"
            )
            state[table] = cursor.fetchone()
    return state


def issues_at(report: ImportReport, row: int) -> list[tuple[str | None, str]]:
    return [
        (issue.column, issue.reason)
        for issue in [*report.errors, *report.warnings]
        if issue.row == row
    ]


# --- DIE: the real excerpt
def test_the_die_excerpt_imports_every_row_with_the_counts_read_by_hand(
    excerpt: Path, excerpt_references: None
) -> None:
    report = import_file(excerpt, profile="die")

    assert report.ok
    assert report.written
    assert (report.rows_read, report.created, report.rejected) == (41, 41, 0)
    assert report.errors == []
    buildings = Building.objects.all()
    assert buildings.count() == 41
    assert buildings.filter(point__isnull=False).count() == 16
    assert buildings.filter(is_confidential=True).count() == 24
    assert buildings.exclude(country="France").count() == 9
    assert buildings.exclude(country="France").filter(department=None).count() == 9
    assert set(buildings.values_list("status", flat=True)) == {BuildingStatus.IN_USE}
    assert set(buildings.values_list("source", flat=True)) == {Source.DIE}
    assert set(buildings.values_list("source_vintage", flat=True)) == {
        date(2023, 12, 31)
    }
    assert not buildings.filter(suitability_mixed=None).exists()
    assert sorted((w.row, w.column) for w in report.warnings) == [
        (14, "surface_m2"),
        (30, "annee_de_construction"),
        (39, "code_insee"),
        (41, "annee_de_construction"),
    ]


def test_a_die_row_lands_with_its_commune_department_type_domain_and_point(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")

    building = Building.objects.select_related("site").get(
        code_chorus="CHAR/101408/371096"
    )
    assert building.inventory_id == "IG00100082552"
    assert building.city == "Villenauxe-la-Grande"
    assert building.commune_id == "10420"
    assert building.department_id == "10"
    assert building.asset_type == AssetType.LAND
    assert building.domaniality == Domaniality.PUBLIC
    assert building.point is not None
    assert (building.point.x, building.point.y) == (3.576837, 48.601612)
    # "0.0" in the inventory means the surface was never measured.
    assert building.surface_m2 is None
    assert building.surface_kind == SurfaceKind.UNKNOWN
    assert not building.is_confidential
    assert building.site.code == "die:10420:site-penitentiaire-villenauxe-la-grande"
    assert building.site.commune_id == "10420"


def test_hashed_identifiers_with_semicolons_backslashes_and_quotes_round_trip(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")

    building = Building.objects.get(inventory_id="BMA.'^)<7WH]8<[O5B=)_&")
    assert building.code_chorus == (
        "H$U?:\\8ZPL5TM(]P^=W@1!/E>6Z_)Y;JTU6DQZM?`ZCI*/ARM#/.\"=&4,7!!]T:'+]Q$"
    )
    assert building.is_confidential
    assert Building.objects.filter(inventory_id="B4_**Q;D[W$UZ][B7_;;D0").exists()
    assert Building.objects.filter(inventory_id='CAF"/_BX:&`PW0$1L%0TJ!').exists()


def test_a_department_without_its_leading_zero_is_padded(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")

    building = Building.objects.get(inventory_id='CAF"/_BX:&`PW0$1L%0TJ!')
    assert building.department_id == "02"
    # Confidential rows group under their département, not a commune.
    assert building.site.code == "die:02:bien-controle-par-le-masaf"
    assert Building.objects.get(inventory_id="IB00100261628").department_id == "03"


def test_rows_abroad_are_kept_without_department_or_commune(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")

    casablanca = Building.objects.get(inventory_id="A'7Y<$CNO^1SX^^-9P+?R.")
    assert (casablanca.country, casablanca.city) == ("Maroc", "CASABLANCA")
    assert casablanca.department_id is None
    assert casablanca.commune_id is None
    assert casablanca.postal_code == "99000"
    belgrade = Building.objects.get(inventory_id="IFV[3I31=PK#MO!,%M$6O.")
    assert belgrade.country == "Étranger"
    assert belgrade.site.code.startswith("die:abroad-")


def test_placeholder_years_and_outlier_surfaces_are_warnings_not_rejections(
    excerpt: Path, excerpt_references: None
) -> None:
    report = import_file(excerpt, profile="die")

    assert Building.objects.get(inventory_id="IB00100170633").year_built is None
    forest = Building.objects.get(inventory_id="KS^!+1)W@V_ZR&H$_8TJ%-")
    assert forest.surface_m2 == Decimal("13684036.00")
    assert forest.surface_kind == SurfaceKind.LAND
    assert forest.point is None  # "-" for both coordinates
    assert forest.is_confidential  # hashed ids, though the designation is real
    assert "unusually large" in issues_at(report, 14)[0][1]


def test_the_commune_link_needs_the_commune_in_the_reference_table(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")

    rezonville = Building.objects.get(inventory_id="AE&$)&7WB_HP\\'U<[>A)R+")
    assert rezonville.commune_id is None
    assert rezonville.department_id == "57"
    assert rezonville.city == "Rezonville-Vionville"


def test_without_reference_tables_rows_are_imported_unlinked_with_one_warning(
    excerpt: Path,
) -> None:
    report = import_file(excerpt, profile="die")

    assert report.created == 41
    assert not Building.objects.exclude(commune=None).exists()
    assert [w.reason for w in report.warnings if w.row is None] == [
        "No communes are loaded: rows are not linked to any.",
        "No départements are loaded: rows are not linked to any.",
    ]


def test_re_importing_the_excerpt_changes_nothing(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")
    before = table_state()

    report = import_file(excerpt, profile="die")

    assert (report.created, report.updated, report.unchanged) == (0, 0, 41)
    assert report.sites_created == 0
    assert table_state() == before


def lambert_93_polygons(directory: Path) -> Path:
    """A GeoPackage of two footprints in Lambert-93, one of them self-crossing
    (repaired on import)."""
    square = [[5.36, 43.29], [5.37, 43.29], [5.37, 43.30], [5.36, 43.30], [5.36, 43.29]]
    bow_tie = [
        [5.38, 43.29],
        [5.39, 43.30],
        [5.39, 43.29],
        [5.38, 43.30],
        [5.38, 43.29],
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"ref": f"P-{number}", "nom": f"Îlot {number}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for number, ring in enumerate([square, bow_tie], start=1)
    ]
    source = directory / "source.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    path = directory / "ilots.gpkg"
    ogr2ogr(source, path, "GPKG", "-nln", "ilots", "-t_srs", "EPSG:2154")
    return path


GENERIC_FILES = {
    "xlsx": workbook(
        [["X-1", "Bâtiment X", 1234.5, 5.3838, 43.3023], ["X-2", "Y", "80", "", ""]]
    ),
    "lambert-93 polygons": lambert_93_polygons,
    "zipped lambert-93 shapefile": shapefile_zip(),
}
NAMED = {"ref": "inventory_id", "nom": "designation"}
GENERIC_MAPPINGS = {
    "xlsx": {**NAMED, "surface": "surface_m2", "x": "lon", "y": "lat"},
    "lambert-93 polygons": NAMED,
    "zipped lambert-93 shapefile": NAMED,
}


@pytest.mark.parametrize("kind", GENERIC_FILES)
def test_re_importing_a_generic_file_changes_nothing(tmp_path: Path, kind: str) -> None:
    """Typed workbook cells and geometries transformed from Lambert-93 (and
    repaired) compare equal to what the first import stored."""
    path = GENERIC_FILES[kind](tmp_path)
    mapping = GENERIC_MAPPINGS[kind]
    first = import_file(path, profile="generic", mapping=mapping)
    assert not first.errors, first.errors
    assert first.created >= 1
    stored = list(Building.objects.order_by("pk").values())

    again = import_file(path, profile="generic", mapping=mapping)

    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    assert list(Building.objects.order_by("pk").values()) == stored


def test_a_new_commune_in_the_reference_updates_only_the_rows_it_links(
    excerpt: Path, excerpt_references: None
) -> None:
    import_file(excerpt, profile="die")
    Commune.objects.create(code="57578", name="Rezonville-Vionville")

    report = import_file(excerpt, profile="die")

    assert (report.created, report.updated, report.unchanged) == (0, 1, 40)
    assert (
        Building.objects.get(inventory_id="AE&$)&7WB_HP\\'U<[>A)R+").commune_id
        == "57578"
    )


def test_a_natural_persons_name_is_never_stored_and_the_row_is_confidential(
    tmp_path: Path,
) -> None:
    path = write_die(
        tmp_path,
        [
            die_row(
                1,
                libelle_proprietaire="DUPONT JEAN-PIERRE",
                type_proprietaire="Personne Physique",
            )
        ],
    )

    import_file(path, profile="die")

    building = Building.objects.get()
    assert building.is_confidential
    assert building.owner_type == "Personne Physique"
    assert building.domaniality == Domaniality.UNKNOWN
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM buildings_building t")
        assert "DUPONT" not in cursor.fetchone()[0]


# --- Re-imports: what an import may and may not change
def test_a_re_import_keeps_the_status_and_a_point_placed_by_hand(
    tmp_path: Path,
) -> None:
    path = write_die(tmp_path, [die_row(1, latitude="", longitude="")])
    import_file(path, profile="die")
    Building.objects.update(
        point=Point(5.38, 43.30, srid=4326),
        status=BuildingStatus.VACANT,
        vacancy_since=date(2024, 1, 1),
        next_use_date=date(2030, 1, 1),
    )
    path = write_die(tmp_path, [die_row(1, latitude="", longitude="", erp="Oui")])

    report = import_file(path, profile="die")

    assert (report.created, report.updated) == (0, 1)
    building = Building.objects.get()
    assert building.erp is True
    assert building.status == BuildingStatus.VACANT
    assert building.point == Point(5.38, 43.30, srid=4326)
    # The score was recomputed with the agent's next use date, not without it.
    assert building.suitability_details["mixed"]["time_left"]["value"] == 1.0


def test_an_import_never_makes_a_confidential_building_public_again(
    tmp_path: Path,
) -> None:
    path = write_die(tmp_path, [die_row(1)])
    import_file(path, profile="die")
    Building.objects.update(is_confidential=True)

    import_file(write_die(tmp_path, [die_row(1, surface_m2="99.0")]), profile="die")

    building = Building.objects.get()
    assert building.surface_m2 == Decimal("99.00")
    assert building.is_confidential


def test_an_older_vintage_does_not_overwrite_a_newer_one(tmp_path: Path) -> None:
    import_file(write_die(tmp_path, [die_row(1)]), profile="die")
    older = write_die(
        tmp_path, [die_row(1, surface_m2="5.0")], "parc_immobilier_etat_20221231.csv"
    )

    report = import_file(older, profile="die")

    assert (report.updated, report.unchanged) == (0, 1)
    assert "newer vintage" in report.warnings[-1].reason
    assert Building.objects.get().surface_m2 == Decimal("1250.00")


def test_the_vintage_comes_from_the_option_before_the_file_name(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1)], "inventaire.csv")

    report = import_file(path, profile="die", vintage=date(2022, 12, 31))

    assert report.created == 1
    assert Building.objects.get().source_vintage == date(2022, 12, 31)


def test_unknown_columns_are_allowed_and_reported_once(tmp_path: Path) -> None:
    path = tmp_path / DIE_NAME
    lines = die_text([die_row(1), die_row(2)]).splitlines()
    path.write_text(
        "\n".join(
            [lines[0] + ";commentaire"] + [line + ";à revoir" for line in lines[1:]]
        )
        + "\n"
    )

    report = import_file(path, profile="die")

    assert report.created == 2
    assert [(w.row, w.reason) for w in report.warnings if w.row] == [
        (1, "Columns not read: commentaire.")
    ]


def test_the_official_files_bom_and_windows_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / DIE_NAME
    text = die_text([die_row(1, designation_batiment_terrain="AILE “NORD”; 2e")])
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    report = import_file(path, profile="die")

    assert report.created == 1, report.errors
    assert Building.objects.get().designation == "AILE “NORD”; 2e"


def test_a_vintage_given_as_text_is_read_as_a_date(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1)], "inventaire.csv")

    import_file(path, profile="die", vintage="2022-12-31")

    assert Building.objects.get().source_vintage == date(2022, 12, 31)
    with pytest.raises(DomainError):
        import_file(path, profile="die", vintage="31/12/2022")


# --- on_error and dry_run
def test_skip_writes_the_valid_rows_and_reports_the_rejected_ones(
    tmp_path: Path,
) -> None:
    path = write_die(
        tmp_path, [die_row(1), die_row(2, surface_m2="12,5"), die_row(3, erp="?")]
    )

    report = import_file(path, profile="die", on_error="skip")

    assert report.ok
    assert report.written
    assert (report.rows_read, report.created, report.rejected) == (3, 1, 2)
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "surface_m2"),
        (4, "erp"),
    ]
    assert list(Building.objects.values_list("designation", flat=True)) == [
        "BATIMENT 1"
    ]


def test_abort_writes_nothing_and_lists_every_rejection(tmp_path: Path) -> None:
    path = write_die(
        tmp_path, [die_row(1), die_row(2, surface_m2="12,5"), die_row(3, erp="?")]
    )

    report = import_file(path, profile="die")

    assert not report.ok
    assert not report.written
    assert report.rejected == 2
    assert len(report.errors) == 2
    assert not Building.objects.exists()


def test_duplicate_keys_reject_every_row_that_claims_the_key(tmp_path: Path) -> None:
    first = die_row(1)
    path = write_die(tmp_path, [first, die_row(2), die_row(3, id=first["id"])])

    report = import_file(path, profile="die", on_error="skip")

    assert report.created == 1
    assert report.rejected == 2
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, "id", f"The identifier “{first['id']}” is also on row 4."),
        (4, "id", f"The identifier “{first['id']}” is also on row 2."),
    ]


def test_a_dry_run_counts_everything_and_writes_nothing(
    excerpt: Path, excerpt_references: None
) -> None:
    before = table_state()

    report = import_file(excerpt, profile="die", dry_run=True)

    assert report.ok
    assert not report.written
    # 41 rows, 39 sites: the embassy services of Morocco share one, Togo's another.
    assert (report.created, report.sites_created) == (41, 39)
    assert table_state() == before


def test_progress_is_reported_while_reading_and_writing(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int | None]] = []
    path = write_die(tmp_path, [die_row(n) for n in range(1, 4)])

    import_file(path, profile="die", progress=lambda *event: seen.append(event))

    assert ("reading", 3, None) in seen
    assert seen[-1] == ("writing", 3, 3)


def test_an_unknown_profile_is_a_domain_error(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as raised:
        import_file(tmp_path / "x.csv", profile="shp")
    assert raised.value.field == "profile"


def test_a_profile_refuses_a_kind_of_file_it_does_not_read(tmp_path: Path) -> None:
    path = tmp_path / "batiments.geojson"
    path.write_text(feature_collection([list(VIEUX_PORT)]))

    report = import_file(path, profile="die", vintage=date(2023, 12, 31))

    assert report.refused
    assert report.errors[0].reason == "The “die” format does not read geojson files."


# --- Bulk paths
def test_twenty_thousand_rows_take_a_bounded_number_of_queries(
    tmp_path: Path, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    path = tmp_path / "batiments.csv"
    lines = ["ref;nom;lon;lat"] + [
        f"B{n:05d};Bâtiment {n};{5 + n / 100_000:.5f};{43.3 + n / 100_000:.5f}"
        for n in range(20_000)
    ]
    path.write_text("\n".join(lines) + "\n")
    mapping = {"ref": "inventory_id", "nom": "designation", "lon": "lon", "lat": "lat"}

    # Reference codes (2), a lookup per 10,000 keys for buildings and for sites
    # (2 + 2), one site upsert, one COPY-fed INSERT, the temporary table and the
    # transaction: 12 for 20,000 rows (one ORM INSERT per row would be 40,000).
    with django_assert_max_num_queries(15):
        report = import_file(path, profile="generic", mapping=mapping)

    assert report.created == 20_000
    assert Building.objects.filter(point__isnull=False).count() == 20_000


# --- Coordinates in Lambert-93
@pytest.fixture
def vieux_port_l93() -> tuple[float, float]:
    """The Vieux-Port in Lambert-93, as GDAL computes it: within 5 cm of the
    formulas, so that the imports below test the importer, not PROJ."""
    point = Point(*VIEUX_PORT, srid=4326)
    point.transform(CoordTransform(SpatialReference(4326), SpatialReference(2154)))
    assert abs(point.x - VIEUX_PORT_L93[0]) < 0.05
    assert abs(point.y - VIEUX_PORT_L93[1]) < 0.05
    return point.x, point.y


def distance_m(point: Point | None, lon_lat: tuple[float, float]) -> float:
    assert point is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Distance(ST_GeomFromEWKT(%s)::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)",
            [point.ewkt, *lon_lat],
        )
        return float(cursor.fetchone()[0])


def test_a_lambert_93_geojson_lands_at_its_wgs84_place(
    tmp_path: Path, vieux_port_l93: tuple[float, float]
) -> None:
    path = tmp_path / "batiments.geojson"
    path.write_text(feature_collection([list(vieux_port_l93)], crs=2154))

    report = import_file(
        path, profile="generic", mapping={"ref": "inventory_id", "nom": "designation"}
    )

    assert report.created == 1, report.errors
    assert distance_m(Building.objects.get().point, VIEUX_PORT) < 1


def test_a_lambert_93_shapefile_lands_at_its_wgs84_place(
    tmp_path: Path, vieux_port_l93: tuple[float, float]
) -> None:
    import zipfile

    source = tmp_path / "source.geojson"
    source.write_text(feature_collection([list(vieux_port_l93)], crs=2154))
    folder = tmp_path / "shape"
    folder.mkdir()
    ogr2ogr(source, folder / "batiments.shp", "ESRI Shapefile")
    archive = tmp_path / "batiments.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, f"export/{part.name}")

    report = import_file(
        archive,
        profile="generic",
        mapping={"ref": "inventory_id", "nom": "designation"},
    )

    assert report.created == 1, report.errors
    assert distance_m(Building.objects.get().point, VIEUX_PORT) < 1


def test_lambert_93_columns_in_a_csv_are_read_with_srid(
    tmp_path: Path, vieux_port_l93: tuple[float, float]
) -> None:
    x, y = vieux_port_l93
    path = tmp_path / "batiments.csv"
    path.write_text(f"ref;nom;x;y\nL93-1;Vieux-Port;{x:.2f};{y:.2f}\n")

    report = import_file(
        path,
        profile="generic",
        srid=2154,
        mapping={"ref": "inventory_id", "nom": "designation", "x": "lon", "y": "lat"},
    )

    assert report.created == 1, report.errors
    assert distance_m(Building.objects.get().point, VIEUX_PORT) < 1


# --- CNIG "Friches"
def test_the_cartofriches_geopackage_imports_a_departement(
    shared_data: Path,
) -> None:
    CommuneFactory.create()  # Marseille, 13055, and the département 13
    path = shared_data / CARTOFRICHES

    report = import_file(path, profile="cnig-friches", where="dep = '13'")

    assert report.ok, report.errors
    assert (report.rows_read, report.created, report.rejected) == (332, 332, 0)
    friches = Building.objects.filter(source=Source.CNIG_FRICHES)
    assert friches.count() == 332 == Site.objects.count()
    assert not friches.filter(point=None).exists()
    assert set(friches.values_list("department_id", flat=True)) == {"13"}
    assert (
        friches.filter(status=BuildingStatus.VACANT).count()
        == friches.exclude(status=BuildingStatus.IN_USE).count()
    )
    assert friches.filter(commune_id="13055").exists()
    assert all(
        key.startswith("cnig:")
        for key in friches.values_list("inventory_id", flat=True)
    )
    assert friches.filter(source_vintage=date(2024, 3, 10)).count() == 332

    again = import_file(path, profile="cnig-friches", where="dep = '13'")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 332)


def test_a_cnig_csv_keeps_valid_parcels_footprints_and_vacancy_dates() -> None:
    report = import_file(SAMPLES / "friches_sample.csv", profile="cnig-friches")

    assert report.ok, report.errors
    assert report.created == 3
    assert [(w.row, w.column) for w in report.warnings if w.row] == [(2, "l_idpar")]
    caserne = Building.objects.get(inventory_id="cnig:13201_0001")
    assert caserne.parcel_ids == ["132010000A0012", "132010000B0007"]
    assert caserne.status == BuildingStatus.VACANT
    assert caserne.vacancy_since == date(2021, 3, 15)
    assert caserne.condition == Condition.FAIR
    assert caserne.asset_type == AssetType.BUILDING
    assert caserne.surface_m2 == Decimal("12500.50")
    halle = Building.objects.get(inventory_id="cnig:13001_0002")
    assert halle.footprint is not None
    assert halle.point is not None
    assert halle.footprint.contains(halle.point)
    assert halle.vacancy_since == date(2020, 6, 1)
    assert halle.asset_type == AssetType.LAND
    assert halle.address == ""  # "NA"
    reused = Building.objects.get(inventory_id="cnig:13001_0003")
    assert reused.status == BuildingStatus.IN_USE
    assert reused.designation == "Friche 13001_0003"
    assert reused.point is None


# --- Generic files with a mapping
def test_a_mapped_csv_imports_the_mapped_fields() -> None:
    CommuneFactory.create()
    mapping = json.loads((SAMPLES / "generic_mapping.json").read_text())

    report = import_file(
        SAMPLES / "generic_buildings.csv", profile="generic", mapping=mapping
    )

    assert report.ok, report.errors
    assert report.created == 2
    first = Building.objects.get(inventory_id="GEN-1")
    assert first.commune_id == "13055"
    assert first.condition == Condition.GOOD
    assert first.erp is True
    assert first.surface_m2 == Decimal("1250.50")
    assert first.source == Source.FILE
    assert first.site.code == "file:GEN-1"
    assert distance_m(first.point, VIEUX_PORT) < 1
    second = Building.objects.get(inventory_id="GEN-2")
    assert second.point is None
    assert second.surface_m2 is None


def test_a_mapped_import_leaves_unmapped_fields_alone() -> None:
    building = BuildingFactory.create(inventory_id="GEN-1", ministry="Armées")
    mapping = json.loads((SAMPLES / "generic_mapping.json").read_text())

    report = import_file(
        SAMPLES / "generic_buildings.csv",
        profile="generic",
        mapping=mapping,
        on_error="skip",
    )

    assert report.updated == 1
    building.refresh_from_db()
    assert building.ministry == "Armées"
    assert building.designation == "Ancien tri postal"


def test_a_mapped_xlsx_reads_numbers_dates_and_text(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ref", "nom", "annee", "libre depuis", "statut"])
    sheet.append(["X-1", "Bâtiment X", 1965, date(2022, 5, 1), "vacant"])
    path = tmp_path / "batiments.xlsx"
    book.save(path)
    mapping = {
        "ref": "inventory_id",
        "nom": "designation",
        "annee": "year_built",
        "libre depuis": "vacancy_since",
        "statut": "status",
    }

    report = import_file(path, profile="generic", mapping=mapping)

    assert report.ok, report.errors
    building = Building.objects.get()
    assert (building.year_built, building.vacancy_since) == (1965, date(2022, 5, 1))
    assert building.status == BuildingStatus.VACANT


def test_a_geopackage_of_polygons_gives_footprints_and_points_inside(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source.geojson"
    square = [[5.36, 43.29], [5.37, 43.29], [5.37, 43.30], [5.36, 43.30], [5.36, 43.29]]
    # A "C": its centroid falls outside, its point on surface does not.
    c_shape = [
        [5.40, 43.30], [5.43, 43.30], [5.43, 43.31], [5.41, 43.31], [5.41, 43.32],
        [5.43, 43.32], [5.43, 43.33], [5.40, 43.33], [5.40, 43.30],
    ]  # fmt: skip
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ref": f"P-{n}", "nom": f"Îlot {n}"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                    for n, ring in enumerate([square, c_shape], start=1)
                ],
            }
        )
    )
    path = tmp_path / "ilots.gpkg"
    ogr2ogr(source, path, "GPKG", "-nln", "ilots")

    report = import_file(
        path, profile="generic", mapping={"ref": "inventory_id", "nom": "designation"}
    )

    assert report.created == 2, report.errors
    for building in Building.objects.all():
        assert building.footprint is not None
        assert building.footprint.geom_type == "MultiPolygon"
        assert building.point is not None
        assert building.footprint.contains(building.point)


# --- The report
def test_the_report_csv_lists_every_issue_and_defuses_formulas(
    tmp_path: Path,
) -> None:
    path = tmp_path / "=cmd.csv"
    path.write_text("=ref;nom\n;Bâtiment\n")

    report = import_file(
        path, profile="generic", mapping={"=ref": "inventory_id", "nom": "designation"}
    )

    lines = report.to_csv().splitlines()
    assert lines == [
        "level,file,row,column,reason",
        "error,'=cmd.csv,2,'=ref,The identifier is empty.",
        "warning,'=cmd.csv,,,No communes are loaded: rows are not linked to any.",
        "warning,'=cmd.csv,,,No départements are loaded: rows are not linked to any.",
    ]
    assert json.loads(json.dumps(report.as_dict()))["rejected"] == 1


# --- Cells and files that passed Python's checks and not the database's
def test_unicode_digits_are_rejected_on_their_row_and_skip_writes_the_others(
    tmp_path: Path,
) -> None:
    """``str.isdigit`` takes "１" and "²"; the table's check wants [0-9]: the
    database refused the whole import, valid rows included, naming no row."""
    path = tmp_path / "batiments.csv"
    path.write_text("ref;nom;cp\nP1;ok;13001\nP2;x;１３００１\nP3;y;1300²\n")
    mapping = {"ref": "inventory_id", "nom": "designation", "cp": "postal_code"}

    report = import_file(path, profile="generic", mapping=mapping, on_error="skip")

    assert report.ok, report.errors
    assert [(e.row, e.column) for e in report.errors] == [(3, "cp"), (4, "cp")]
    assert list(Building.objects.values_list("inventory_id", "postal_code")) == [
        ("P1", "13001")
    ]


def test_a_die_postal_code_with_a_superscript_is_left_out_with_a_warning(
    tmp_path: Path,
) -> None:
    path = write_die(tmp_path, [die_row(1, code_postal="1037²"), die_row(2)])

    report = import_file(path, profile="die")

    assert report.ok, report.errors
    assert report.created == 2
    assert (2, "code_postal") in {(w.row, w.column) for w in report.warnings}
    assert sorted(Building.objects.values_list("postal_code", flat=True)) == [
        "",
        "13001",
    ]


def test_a_geojson_crs_link_is_refused_and_never_fetched(tmp_path: Path) -> None:
    """GDAL's GeoJSON driver fetched a "link" CRS from the network while opening
    the file: any URL, from the server, for whoever uploads a file."""
    import http.server
    import threading

    from tests.data.import_corpus import crs_link_collection

    fetched: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'GEOGCS["WGS 84"]')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x.prj"
        path = tmp_path / "batiments.geojson"
        path.write_text(crs_link_collection(url))
        report = import_file(
            path,
            profile="generic",
            mapping={"ref": "inventory_id", "nom": "designation"},
        )
    finally:
        server.shutdown()
        thread.join()

    assert report.refused
    assert "crs" in report.errors[0].reason
    assert fetched == []
    assert not Building.objects.exists()


def test_a_cnig_re_import_of_points_keeps_a_footprint_drawn_before(
    tmp_path: Path,
) -> None:
    """Like the generic profile: a point has no footprint to give. A re-import
    that updated a site (renamed in the file) erased the footprint drawn since."""
    from django.contrib.gis.geos import MultiPolygon

    report = import_file(SAMPLES / "friches_sample.csv", profile="cnig-friches")
    assert report.created == 3, report.errors
    caserne = Building.objects.get(inventory_id="cnig:13201_0001")
    assert caserne.footprint is None
    assert caserne.point is not None
    drawn = MultiPolygon(caserne.point.buffer(0.001), srid=4326)
    Building.objects.filter(pk=caserne.pk).update(footprint=drawn)
    renamed = tmp_path / "friches_sample.csv"
    renamed.write_text(
        (SAMPLES / "friches_sample.csv")
        .read_text()
        .replace("Ancienne caserne du Muy", "Caserne du Muy")
    )

    again = import_file(renamed, profile="cnig-friches")

    assert (again.created, again.updated) == (0, 1), again.errors
    caserne.refresh_from_db()
    assert caserne.designation == "Caserne du Muy"
    assert caserne.footprint is not None
    assert caserne.footprint.equals_exact(drawn, tolerance=1e-9)


def test_a_filtered_layer_reports_rows_by_their_feature_id(shared_data: Path) -> None:
    """Counted within the filter, the report named "row 11" for feature 331."""
    from django.contrib.gis.gdal import DataSource

    path = shared_data / CARTOFRICHES
    report = import_file(path, profile="cnig-friches", where="dep = '13'", dry_run=True)

    rows = {issue.row for issue in report.warnings if issue.row}
    assert rows
    assert max(rows) > 332  # beyond the 332 features the filter keeps
    layer = DataSource(str(path))[0]
    for row in rows:
        assert layer[row].get("dep") == "13", row


def test_a_workbook_header_below_blank_rows_is_read_where_it_is(
    tmp_path: Path,
) -> None:
    """Read-only sheets pad rows to the sheet's width: blank header cells became a
    column "(6)" reported on row 1, and the stray value under it went unnoticed."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([])
    sheet.append(["ref", "nom"])
    sheet.append(["WB-1", "Bâtiment 1"])
    sheet.append(["WB-2", "Bâtiment 2", None, None, None, "stray"])
    path = tmp_path / "batiments.xlsx"
    book.save(path)

    report = import_file(
        path, profile="generic", mapping={"ref": "inventory_id", "nom": "designation"}
    )

    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(4, None)]
    assert "beyond the header" in report.errors[0].reason
    assert not any("Columns not read" in w.reason for w in report.warnings)


def test_a_vintage_after_today_is_refused_before_it_locks_the_rows(
    tmp_path: Path,
) -> None:
    """Stored with 9999-12-31, rows ignored every real vintage after it (an older
    vintage never overwrites a newer one)."""
    path = write_die(tmp_path, [die_row(1)])
    for vintage in (date(9999, 12, 31), date(1, 1, 1)):
        report = import_file(path, profile="die", vintage=vintage)
        assert report.refused
        assert "vintage" in report.errors[0].reason
    future_name = write_die(
        tmp_path, [die_row(1)], name="parc_immobilier_etat_99991231.csv"
    )
    assert import_file(future_name, profile="die").refused
    assert not Building.objects.exists()
    assert import_file(path, profile="die", vintage=date(2023, 12, 31)).created == 1


def test_merged_cells_in_a_workbook_are_reported(tmp_path: Path) -> None:
    """A value merged over two rows was read in the first row only, silently."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ref", "nom", "site"])
    sheet.append(["WB-1", "Bâtiment 1", "Site C"])
    sheet.append(["WB-2", "Bâtiment 2", None])
    sheet.merge_cells("C2:C3")
    path = tmp_path / "batiments.xlsx"
    book.save(path)
    mapping = {"ref": "inventory_id", "nom": "designation", "site": "site"}

    report = import_file(path, profile="generic", mapping=mapping)

    assert report.ok, report.errors
    assert [(w.row, "merged cells" in w.reason) for w in report.warnings if w.row] == [
        (1, True)
    ]


def test_a_point_outside_its_declared_commune_is_flagged_and_reported(
    reference_13: object, tmp_path: Path
) -> None:
    """The importers never set the flag the API and the demo set: a point in Aix
    declared in Marseille came in unflagged (audit)."""
    path = tmp_path / "batiments.csv"
    mapping = {
        "ref": "inventory_id",
        "nom": "designation",
        "insee": "commune",
        "x": "lon",
        "y": "lat",
    }

    def rows(aix_lon: float, aix_lat: float) -> str:
        return (
            "ref,nom,insee,x,y\n"
            "GEN-IN,Rue Bernard du Bois,13055,5.3838,43.3023\n"
            f"GEN-OUT,Point à Aix,13055,{aix_lon},{aix_lat}\n"
        )

    path.write_text(rows(5.4455, 43.5245), encoding="utf-8")
    report = import_file(path, profile="generic", mapping=mapping)

    assert report.created == 2, report.errors
    flags = dict(
        Building.objects.values_list("inventory_id", "outside_declared_commune")
    )
    assert flags == {"GEN-IN": False, "GEN-OUT": True}
    about_commune = [issue for issue in report.warnings if "13055" in issue.reason]
    assert [issue.row for issue in about_commune] == [3]  # line 3 of the file

    # The corrected file unflags it.
    path.write_text(rows(5.3840, 43.3020), encoding="utf-8")
    again = import_file(path, profile="generic", mapping=mapping)
    assert again.updated == 1, again.errors
    assert not Building.objects.filter(outside_declared_commune=True).exists()


@pytest.mark.parametrize(
    ("dept", "code", "city", "postal"),
    [
        ("975", "97502", "Saint-Pierre", "97500"),
        ("977", "97701", "Gustavia", "97133"),
        ("978", "97801", "Marigot", "97150"),
    ],
)
def test_a_row_of_a_collectivity_with_insee_communes_lands_with_its_commune(
    tmp_path: Path, dept: str, code: str, city: str, postal: str
) -> None:
    """The DIE writes these collectivités d'outre-mer in ``dept`` (975, 977, 978):
    no département row exists for them, so the building is linked by its
    commune alone, without a warning; "977" was refused as no département code."""
    Department.objects.create(code="971", name="Guadeloupe")
    CommuneFactory.create(code=code, name=city, department=None)
    row = die_row(
        1,
        dept=dept,
        code_insee=code,
        ville=city,
        code_postal=postal,
        latitude="17.896",
        longitude="-62.850",
    )

    report = import_file(write_die(tmp_path, [row]), profile="die")

    assert (report.created, report.rejected) == (1, 0), report.errors
    assert issues_at(report, 2) == []
    building = Building.objects.get()
    assert (building.commune_id, building.department_id) == (code, None)
    assert building.site.code.startswith(f"die:{code}:")
