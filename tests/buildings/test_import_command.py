"""``manage.py import_buildings``: arguments in, report out, exit status."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from buildings.models import Building
from tests.data.import_corpus import DIE_NAME, die_row, write_die

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "importers"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_buildings", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_good_file_is_imported_and_the_report_printed(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1), die_row(2)])

    out, _ = run(str(path), "--profile", "die")

    assert out.splitlines()[0] == (
        f"{DIE_NAME} (die): 2 rows read; 2 created, 0 updated, 0 unchanged, "
        "0 rejected; 0 errors, 2 warnings."
    )
    assert "Imported." in out
    assert Building.objects.count() == 2


def test_rejected_rows_under_abort_exit_with_status_1_and_write_nothing(
    tmp_path: Path,
) -> None:
    path = write_die(tmp_path, [die_row(1), die_row(2, erp="Peut-être")])
    out = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import_buildings", str(path), "--profile", "die", stdout=out)

    assert raised.value.returncode == 1
    assert "nothing was written" in str(raised.value)
    assert f"{DIE_NAME}, row 3, column “erp”: “Peut-être” is neither" in out.getvalue()
    assert not Building.objects.exists()


def test_a_refused_file_exits_with_status_1(tmp_path: Path) -> None:
    path = tmp_path / DIE_NAME
    path.write_bytes(b"")

    with pytest.raises(CommandError) as raised:
        run(str(path), "--profile", "die")

    assert raised.value.returncode == 1
    assert str(raised.value) == "The file was refused: nothing was written."


def test_skip_imports_the_valid_rows_and_exits_normally(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1), die_row(2, erp="Peut-être")])

    out, _ = run(str(path), "--profile", "die", "--on-error", "skip")

    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert Building.objects.count() == 1


def test_skip_with_every_row_rejected_exits_with_status_1(tmp_path: Path) -> None:
    """It printed "Imported." and exited 0 for a file that gave nothing."""
    path = write_die(tmp_path, [die_row(1, erp="?"), die_row(2, erp="Peut-être")])
    out = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command(
            "import_buildings", str(path), "--profile", "die", "--on-error", "skip",
            stdout=out,
        )  # fmt: skip

    assert raised.value.returncode == 1
    assert str(raised.value) == "Every row was rejected: nothing was imported."
    assert "0 created, 0 updated, 0 unchanged, 2 rejected" in out.getvalue()
    assert "Imported." not in out.getvalue()
    assert not Building.objects.exists()


def test_a_report_that_cannot_be_written_stops_before_the_import(
    tmp_path: Path,
) -> None:
    """It failed with a traceback after the rows were committed."""
    path = write_die(tmp_path, [die_row(1)])

    with pytest.raises(CommandError) as raised:
        run(str(path), "--profile", "die", "--report", str(tmp_path / "no" / "r.csv"))

    assert "Cannot write the report" in str(raised.value)
    assert not Building.objects.exists()


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1)])

    out, _ = run(str(path), "--profile", "die", "--dry-run")

    assert "1 created" in out
    assert "(dry run)" in out
    assert "Dry run: nothing was written." in out
    assert not Building.objects.exists()


def test_the_report_is_written_as_csv(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1), die_row(2, surface_m2="12,5")])
    report = tmp_path / "report.csv"

    out, _ = run(
        str(path), "--profile", "die", "--on-error", "skip", "--report", str(report)
    )

    assert f"Report written to {report}." in out
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [(row["level"], row["row"], row["column"]) for row in rows] == [
        ("error", "3", "surface_m2"),
        ("warning", "", ""),
        ("warning", "", ""),
    ]


def test_the_report_is_written_even_when_the_import_fails(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1, erp="?")])
    report = tmp_path / "report.csv"

    with pytest.raises(CommandError):
        run(str(path), "--profile", "die", "--report", str(report))

    assert "error,parc_immobilier_etat_20231231.csv,2,erp," in report.read_text()


def test_the_vintage_option_is_a_date(tmp_path: Path) -> None:
    path = write_die(tmp_path, [die_row(1)], "inventaire.csv")

    run(str(path), "--profile", "die", "--vintage", "2022-12-31")

    assert Building.objects.get().source_vintage == date(2022, 12, 31)


def test_a_mapping_file_drives_the_generic_profile(tmp_path: Path) -> None:
    out, _ = run(
        str(SAMPLES / "generic_buildings.csv"),
        "--profile",
        "generic",
        "--mapping",
        str(SAMPLES / "generic_mapping.json"),
    )

    assert "2 created" in out
    assert set(Building.objects.values_list("inventory_id", flat=True)) == {
        "GEN-1",
        "GEN-2",
    }


def test_a_mapping_that_is_not_json_is_a_command_error(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text("{ref: inventory_id}")

    with pytest.raises(CommandError, match="Cannot read the mapping"):
        run(
            str(SAMPLES / "generic_buildings.csv"),
            "--profile",
            "generic",
            "--mapping",
            str(mapping),
        )


def test_an_srid_and_a_layer_filter_reach_the_importer(tmp_path: Path) -> None:
    path = tmp_path / "batiments.csv"
    path.write_text("ref;nom;x;y\nL93-1;Vieux-Port;892394.89;6246879.70\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"ref": "inventory_id", "nom": "designation", "x": "lon", "y": "lat"}
        )
    )

    run(str(path), "--profile", "generic", "--mapping", str(mapping), "--srid", "2154")

    point = Building.objects.get().point
    assert point is not None
    assert (round(point.x, 4), round(point.y, 4)) == (5.3698, 43.2951)


def test_large_files_show_their_progress_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "batiments.csv"
    lines = ["ref;nom"] + [f"B{n};Bâtiment {n}" for n in range(5000)]
    path.write_text("\n".join(lines) + "\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"ref": "inventory_id", "nom": "designation"}))

    _, err = run(str(path), "--profile", "generic", "--mapping", str(mapping))

    assert "reading: 5000 rows" in err
    assert "writing: 5000/5000 rows" in err


def test_small_files_show_no_progress(tmp_path: Path) -> None:
    _, err = run(str(write_die(tmp_path, [die_row(1)])), "--profile", "die")

    assert err == ""
