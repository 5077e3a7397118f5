"""Bad files change nothing and say where they are bad (reliability.md F1, G).

The corpus (tests/data/import_corpus.py) covers broken structure, encodings,
delimiters, columns, keys, values, geometries, CRSs, unsafe paths and archives,
for CSV, XLSX, GeoJSON, GeoPackage and zipped shapefiles.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import translation
from pytest_django.fixtures import Settings

from buildings.importers import import_file
from buildings.models import Building
from tests.buildings.factories import BuildingFactory
from tests.data.import_corpus import (
    CNIG_FIRST_ID,
    CORPUS,
    CORPUS_MAX_BYTES,
    DIE_FIRST_ID,
    BadFile,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English, whatever LANGUAGE_CODE says."""
    with translation.override("en"):
        yield


def table_state() -> dict[str, tuple[int, str]]:
    """Row count and checksum of every row of the tables an import writes."""
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


@pytest.fixture
def stored(db: None, settings: Settings) -> list[Building]:
    """Buildings under the keys of the corpus' good rows: a partial write of a bad
    file would update them, and change the checksum."""
    settings.IMPORT_MAX_BYTES = CORPUS_MAX_BYTES
    return [
        BuildingFactory.create(inventory_id=DIE_FIRST_ID),
        BuildingFactory.create(inventory_id=CNIG_FIRST_ID),
        BuildingFactory.create(inventory_id="GEN-1"),
    ]


def test_the_corpus_holds_at_least_thirty_bad_files_of_every_kind() -> None:
    assert len(CORPUS) >= 30
    assert {bad.profile for bad in CORPUS} == {"die", "cnig-friches", "generic"}
    assert len({bad.name for bad in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("bad", CORPUS, ids=lambda bad: bad.name)
def test_a_bad_file_changes_no_table_and_its_report_says_where(
    bad: BadFile, stored: list[Building], tmp_path: Path
) -> None:
    path = bad.build(tmp_path)
    before = table_state()

    dry = import_file(path, profile=bad.profile, dry_run=True, **bad.options)
    report = import_file(path, profile=bad.profile, **bad.options)

    assert table_state() == before
    assert not report.ok
    assert not report.written
    assert report.created == report.updated == 0 or report.rejected
    # A dry run reports exactly what the real run does.
    assert dry.errors == report.errors
    assert all(issue.file == path.name for issue in report.errors)
    if bad.file_level:
        assert report.refused, report.errors
        assert report.errors[0].reason
    else:
        assert not report.refused, report.errors
        assert (bad.row, bad.column) in {
            (issue.row, issue.column) for issue in report.errors
        }, report.errors


def test_a_zip_with_parent_paths_writes_nothing_outside_its_directory(
    stored: list[Building], tmp_path: Path
) -> None:
    bad = next(bad for bad in CORPUS if bad.name == "zip with ../ paths")
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)

    report = import_file(bad.build(folder), profile="generic", **bad.options)

    assert report.refused
    assert not any(path.name == "evil.txt" for path in tmp_path.rglob("*"))
    assert "unsafe path" in report.errors[0].reason


def test_a_repaired_polygon_is_a_warning_and_the_empty_one_beside_it_an_error(
    stored: list[Building], tmp_path: Path
) -> None:
    bad = next(bad for bad in CORPUS if bad.name.startswith("self-intersecting"))

    report = import_file(bad.build(tmp_path), profile="cnig-friches", on_error="skip")

    assert [(issue.row, issue.column) for issue in report.warnings] == [(2, "geometry")]
    assert "repaired" in report.warnings[0].reason
    # In plain words with where, not GEOS's own ("Self-intersection[5.38 43.29]").
    assert "cross themselves" in report.warnings[0].reason
    assert "Self-intersection" not in report.warnings[0].reason
    assert [(issue.row, issue.reason) for issue in report.errors] == [
        (3, "The geometry is empty.")
    ]
    # Under "skip" the repaired row is written, as a valid MultiPolygon footprint.
    building = Building.objects.get(inventory_id=CNIG_FIRST_ID)
    assert building.footprint is not None
    assert building.footprint.valid
    assert building.footprint.geom_type == "MultiPolygon"
