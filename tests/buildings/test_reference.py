"""Reference layers: the official code list, boundaries, and the point-in-commune check.

The expected counts are those of ``@etalab/decoupage-administratif`` 6.0.0, the
version package-lock.json pins: a new vintage of the code list should fail here and
be reviewed, not slip in.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from buildings.models import Building, Commune, Department, Region
from buildings.reference import (
    CODE_LIST_DIR,
    ReferenceReport,
    flag_points_outside_commune,
    load_reference_layers,
)
from tests.buildings.factories import (
    AIX_POINT,
    MARSEILLE_POINT,
    BuildingFactory,
    CommuneFactory,
    wgs84,
)

MARSEILLE_ARRONDISSEMENTS = [str(code) for code in range(13201, 13217)]


def table_checksum(model: type[Model]) -> str:
    """md5 of every column of every row, geometry included (as EWKB)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT md5(string_agg(t::text, '|' ORDER BY t.code)) FROM {table} t"
        )
        return str(cursor.fetchone()[0])


def row_versions(model: type[Model]) -> list[str]:
    """Where each row version lives: an UPDATE, even to equal values, moves it."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ctid::text FROM {table} ORDER BY code")
        return [row[0] for row in cursor.fetchall()]


def feature_collection(path: Path, features: list[tuple[str, dict[str, Any]]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": code, "nom": code},
                        "geometry": geometry,
                    }
                    for code, geometry in features
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def square(longitude: float, latitude: float, side: float = 0.01) -> dict[str, Any]:
    # Clockwise, as in the shared boundaries: storage does not care.
    x, y = longitude, latitude
    ring = [[x, y], [x, y + side], [x + side, y + side], [x + side, y], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_the_code_list_is_the_pinned_vintage() -> None:
    package = json.loads((CODE_LIST_DIR.parent / "package.json").read_text())
    assert package["version"] == "6.0.0"


@pytest.mark.slow
@pytest.mark.django_db
def test_the_whole_code_list_gives_101_departements_and_34924_communes_once() -> None:
    report = load_reference_layers()

    # 13 metropolitan regions + Guadeloupe, Martinique, Guyane, La Réunion, Mayotte;
    # the 8 collectivités d'outre-mer of the list (975, 977, 978, 984, 986–989) are
    # not regions.
    assert Region.objects.count() == 18
    assert report.regions.skipped == 8
    # 96 metropolitan départements (Corsica as 2A and 2B) + 971–974 and 976.
    assert Department.objects.count() == 101
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= set(
        Department.objects.values_list("code", flat=True)
    )
    assert not Department.objects.filter(code__in=["20", "975", "977"]).exists()
    assert Department.objects.filter(region__isnull=True).count() == 0
    # 34,969 current communes + 45 municipal arrondissements (Paris 20, Lyon 9,
    # Marseille 16) − 90 communes of the Pacific collectivities (984, 986–989),
    # whose codes are outside the INSEE pattern; 2,576 communes déléguées and
    # associées are former communes and skipped too.
    assert Commune.objects.count() == 34_924
    assert report.communes.created == 34_924
    assert report.communes.skipped == 90 + 2_576
    assert Commune.objects.filter(arrondissement_of__isnull=False).count() == 45
    # Saint-Pierre-et-Miquelon, Saint-Barthélemy and Saint-Martin: INSEE communes
    # outside any département.
    assert set(
        Commune.objects.filter(department__isnull=True).values_list("code", flat=True)
    ) == {"97501", "97502", "97701", "97801"}
    assert Commune.objects.get(code="13055").population == 886_040

    again = load_reference_layers()

    for level in again.levels:
        assert (level.created, level.updated, level.stale_codes) == (0, 0, [])
    assert again.communes.unchanged == 34_924


def test_marseille_arrondissements_point_to_marseille(
    reference_13: ReferenceReport,
) -> None:
    arrondissements = Commune.objects.filter(arrondissement_of="13055")

    assert sorted(arrondissements.values_list("code", flat=True)) == (
        MARSEILLE_ARRONDISSEMENTS
    )
    assert Commune.objects.get(code="13201").name == "Marseille 1er Arrondissement"
    assert Commune.objects.get(code="13055").arrondissement_of is None


@pytest.mark.django_db
def test_paris_and_lyon_arrondissements_point_to_their_city() -> None:
    load_reference_layers(departments=["69", "75"])

    parents = dict(
        Commune.objects.filter(arrondissement_of__isnull=False).values_list(
            "code", "arrondissement_of"
        )
    )
    assert {code for code, parent in parents.items() if parent == "75056"} == {
        str(code) for code in range(75101, 75121)
    }
    assert {code for code, parent in parents.items() if parent == "69123"} == {
        str(code) for code in range(69381, 69390)
    }


def test_the_119_communes_of_the_bouches_du_rhone_get_their_boundary(
    reference_13: ReferenceReport,
) -> None:
    assert reference_13.communes.geometries == 119
    assert reference_13.communes.unknown_codes == []
    assert reference_13.departments.geometries == 96
    communes_13 = Commune.objects.filter(department="13")
    # The arrondissements are in the code list but not in communes-13.geojson.
    assert communes_13.count() == 119 + 16
    assert communes_13.filter(geometry__isnull=False).count() == 119
    # 116 features are Polygons in the file: all are stored as MultiPolygons.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT GeometryType(geometry), ST_SRID(geometry) "
            "FROM buildings_commune WHERE geometry IS NOT NULL"
        )
        assert cursor.fetchall() == [("MULTIPOLYGON", 4326)]


def test_marseille_boundary_holds_the_former_roads_directorate(
    reference_13: ReferenceReport,
) -> None:
    marseille = Commune.objects.get(code="13055")
    roads_directorate = wgs84(*MARSEILLE_POINT)

    assert marseille.geometry is not None
    assert marseille.geometry.covers(roads_directorate)
    assert list(
        Commune.objects.filter(geometry__covers=roads_directorate).values_list(
            "code", flat=True
        )
    ) == ["13055"]
    bouches_du_rhone = Department.objects.get(code="13").geometry
    assert bouches_du_rhone is not None
    assert bouches_du_rhone.covers(roads_directorate)


def test_a_second_load_creates_nothing_and_rewrites_no_row(
    reference_13: ReferenceReport, shared_data: Path
) -> None:
    checksums = [table_checksum(model) for model in (Region, Department, Commune)]
    versions = [row_versions(model) for model in (Region, Department, Commune)]
    boundaries = shared_data / "boundaries"

    again = load_reference_layers(
        department_files=[boundaries / "departements.geojson"],
        commune_files=[boundaries / "communes-13.geojson"],
        departments=["13"],
    )

    for level in again.levels:
        assert (level.created, level.updated) == (0, 0)
    assert again.communes.unchanged == 135
    assert [table_checksum(model) for model in (Region, Department, Commune)] == (
        checksums
    )
    assert [row_versions(model) for model in (Region, Department, Commune)] == versions


def test_loading_the_code_list_alone_keeps_the_boundaries_loaded_before(
    reference_13: ReferenceReport,
) -> None:
    load_reference_layers(departments=["13"])

    assert Commune.objects.filter(geometry__isnull=False).count() == 119
    assert Department.objects.filter(geometry__isnull=False).count() == 96


@pytest.mark.django_db
def test_a_boundary_whose_code_is_not_in_the_code_list_is_reported_not_inserted(
    tmp_path: Path,
) -> None:
    boundaries = feature_collection(
        tmp_path / "communes.geojson",
        [
            ("13999", square(5.40, 43.50)),  # well-formed, but no such commune
            ("13001", square(5.44, 43.52)),  # Aix-en-Provence
            ("13005", {"type": "Point", "coordinates": [5.57, 43.29]}),
        ],
    )

    report = load_reference_layers(commune_files=[boundaries], departments=["13"])

    assert report.communes.unknown_codes == ["13999"]
    assert report.communes.rejected_geometries == ["13005"]
    assert report.communes.geometries == 1
    assert not Commune.objects.filter(code="13999").exists()
    assert Commune.objects.get(code="13005").geometry is None
    aix = Commune.objects.get(code="13001").geometry
    assert aix is not None
    assert aix.geom_type == "MultiPolygon"


@pytest.mark.django_db
def test_ristolas_merged_since_the_2018_boundaries_is_reported_as_unknown(
    shared_data: Path,
) -> None:
    # communes-paca.geojson is of 2018; Ristolas (05120) has since become a commune
    # déléguée of Abriès-Ristolas (05001), which the code list skips.
    report = load_reference_layers(
        commune_files=[shared_data / "boundaries" / "communes-paca.geojson"],
        departments=["05"],
    )

    assert report.communes.unknown_codes == ["05120"]
    assert not Commune.objects.filter(code="05120").exists()
    assert Commune.objects.get(code="05001").geometry is not None


@pytest.mark.django_db
def test_a_self_intersecting_boundary_is_repaired_before_it_is_stored(
    tmp_path: Path,
) -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[4.6, 43.6], [4.7, 43.7], [4.7, 43.6], [4.6, 43.7], [4.6, 43.6]]
        ],
    }
    boundaries = feature_collection(tmp_path / "arles.geojson", [("13004", bow_tie)])

    report = load_reference_layers(commune_files=[boundaries], departments=["13"])

    arles = Commune.objects.get(code="13004").geometry
    assert report.communes.repaired_geometries == ["13004"]
    assert arles is not None
    assert arles.valid
    assert arles.geom_type == "MultiPolygon"


def test_a_point_in_aix_declared_in_marseille_is_flagged_and_a_correct_one_is_not(
    reference_13: ReferenceReport,
) -> None:
    misplaced = BuildingFactory.create(point=wgs84(*AIX_POINT))
    correct = BuildingFactory.create()

    assert len(flag_points_outside_commune()) == 1

    misplaced.refresh_from_db()
    correct.refresh_from_db()
    assert misplaced.outside_declared_commune
    assert not correct.outside_declared_commune


def test_a_building_moved_back_into_its_commune_is_unflagged(
    reference_13: ReferenceReport,
) -> None:
    building = BuildingFactory.create(point=wgs84(*AIX_POINT))
    flag_points_outside_commune()
    Building.objects.filter(pk=building.pk).update(point=wgs84(*MARSEILLE_POINT))

    assert flag_points_outside_commune() == []

    building.refresh_from_db()
    assert not building.outside_declared_commune


def test_buildings_without_a_point_or_a_commune_boundary_are_left_unflagged(
    reference_13: ReferenceReport,
) -> None:
    # Marseille 1er has no boundary in the shipped data: nothing to contradict.
    in_an_arrondissement = BuildingFactory.create(
        commune=CommuneFactory.create(first_arrondissement=True),
        point=wgs84(*AIX_POINT),
    )
    unlocated = BuildingFactory.create(unlocated=True)
    without_commune = BuildingFactory.create(commune=None, point=wgs84(*AIX_POINT))

    assert flag_points_outside_commune() == []

    for building in (in_an_arrondissement, unlocated, without_commune):
        building.refresh_from_db()
        assert not building.outside_declared_commune


def test_flagging_is_one_update_limited_to_the_queryset(
    reference_13: ReferenceReport,
) -> None:
    checked = BuildingFactory.create(point=wgs84(*AIX_POINT))
    not_checked = BuildingFactory.create(point=wgs84(*AIX_POINT))

    with CaptureQueriesContext(connection) as queries:
        flagged = flag_points_outside_commune(
            queryset=Building.objects.filter(pk=checked.pk)
        )

    # One statement flags and reads back the flagged rows.
    (statement,) = [q["sql"] for q in queries]
    assert "UPDATE" in statement
    assert "ST_Covers" in statement
    assert flagged == [(checked.inventory_id, checked.commune_id)]
    not_checked.refresh_from_db()
    assert not not_checked.outside_declared_commune


@pytest.mark.django_db
def test_the_command_prints_what_it_did_and_the_unknown_codes(tmp_path: Path) -> None:
    boundaries = feature_collection(
        tmp_path / "communes.geojson", [("13999", square(5.40, 43.50))]
    )
    out = StringIO()

    call_command(
        "load_reference_layers",
        "--department",
        "13",
        "--communes",
        str(boundaries),
        stdout=out,
    )

    printed = out.getvalue()
    assert "regions: 18 created" in printed
    assert "départements: 101 created" in printed
    assert "communes: 135 created" in printed
    assert "1 unknown codes (features not loaded): 13999" in printed


@pytest.mark.django_db
def test_the_command_refuses_a_missing_code_list(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"regions\.json"):
        call_command("load_reference_layers", "--code-list", str(tmp_path))
