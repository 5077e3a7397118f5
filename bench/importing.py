"""Import time of N rows through the real importer (``import_file(…, profile="die")``).

The synthetic inventory of bench/generate.py (same seed, so the same buildings) is
written as a DIE open-data CSV: the real 28-column header, ``;``-separated, UTF-8,
with the file's quirks (département codes without their leading zero, ``0.0`` for
an unknown surface, confidential rows with hashed identifiers holding ``;``, ``\\``
and quotes, and no coordinates). It is imported into ``intercalaire_bench_import``,
a fresh copy of the migrated template holding only the reference layers, in a
separate process so that the figure is the importer's alone (Django start-up
excluded). A second run of the same file measures the "nothing changed" path.
"""

from __future__ import annotations

import csv
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import (
    IMPORT_DB,
    PYTHON,
    ROOT,
    SHARED_DATA,
    TEMPLATE_DB,
    VAR,
    connect,
    create_database,
    database_url,
    django_env,
    ensure_template,
    log,
    size_label,
)
from bench.generate import (
    CONDITION_DIE,
    MANAGERS,
    OWNERS,
    SEED,
    TYPES,
    VINTAGE,
    generate,
    load_reference,
)

DIE_SAMPLE = (
    SHARED_DATA / "state-inventory" / "parc_immobilier_etat_20231231_excerpt.csv"
)
TARGET_SECONDS = 60.0
PROBE_ROWS = 10_000
PROFILE_ROWS = 3_000

# Runs in the child process: Django set up on the import database, then one call.
CHILD = r"""
import json, sys, time
import django
django.setup()
from buildings.importers import import_file
path = sys.argv[1]
profile = len(sys.argv) > 2
if profile:
    import cProfile, io, pstats
    profiler = cProfile.Profile()
    profiler.enable()
import os, resource
from django.db import connection
connection.ensure_connection()
backend = connection.connection.info.backend_pid
def server_cpu():
    # The import's PostgreSQL backend, when the server runs on this machine.
    try:
        with open(f"/proc/{backend}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
cpu_before, server_before = own_cpu(), server_cpu()
started = time.perf_counter()
report = import_file(path, profile="die", on_error="skip")
seconds = time.perf_counter() - started
python_cpu = own_cpu() - cpu_before
server_after = server_cpu()
top = ""
if profile:
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
    marks = ("buildings/", "geos/", "psycopg/", "pghistory")
    keep = [line for line in out.getvalue().splitlines()
            if any(mark in line for mark in marks)]
    top = "\n".join(keep[:22])
data = report.as_dict()
errors = data.pop("errors")
warnings = data.pop("warnings")
data["errors"] = len(errors)
data["warnings"] = len(warnings)
data["first_errors"] = [str(e) for e in errors[:5]]
data["first_warnings"] = [str(w) for w in warnings[:5]]
data["seconds"] = seconds
# CPU seconds of each side: on a shared box, wall time says little alone.
data["python_cpu_s"] = round(python_cpu, 2)
data["server_cpu_s"] = (
    None if server_before is None or server_after is None
    else round(server_after - server_before, 2)
)
data["profile_top"] = top
print("RESULT " + json.dumps(data))
"""


def die_header() -> list[str]:
    with DIE_SAMPLE.open(encoding="utf-8-sig") as handle:
        return next(csv.reader(handle, delimiter=";"))


def write_die_csv(data: dict[str, Any], path: Path, regions: dict[str, str]) -> int:
    """The generated rows as a DIE open-data file; returns its size in bytes."""
    header = die_header()
    rows = data["rows"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        for i in range(rows):
            confidential = bool(data["confidential"][i])
            department = str(data["department"][i])
            dept = department.lstrip("0") if department.isdigit() else department
            kind = TYPES[int(data["type"][i])][0]
            manager_label, manager_type = MANAGERS[int(data["manager"][i])]
            erp = int(data["erp"][i])
            row = {
                "code_chorus": data["code_chorus"][i],
                "id": data["inventory_id"][i],
                "designation_site": data["designation"][i]
                if confidential
                else data["site_designation"][int(data["site_of"][i])],
                "designation_batiment_terrain": data["designation"][i],
                "type": kind,
                "fonction": data["function"][i],
                "adresse": data["address"][i],
                "ville": "" if confidential else data["city"][i],
                "dept": dept,
                "code_postal": "" if confidential else data["postal"][i],
                "code_insee": "" if confidential else data["commune"][i],
                "libelle_nouvelle_region": regions.get(department, ""),
                "pays": "France",
                "latitude": "" if confidential else f"{data['lat'][i]:.6f}",
                "longitude": "" if confidential else f"{data['lon'][i]:.6f}",
                "ministere": data["ministry"][i],
                "libelle_gestionnaire": manager_label,
                "type_gestionnaire": manager_type,
                "libelle_proprietaire": OWNERS[data["domaniality"][i]],
                "type_proprietaire": "Etat",
                "surface_m2": f"{data['surface'][i]:.1f}"
                if data["surface_known"][i]
                else "0.0",
                "consommation_kwh_ef": f"{data['energy'][i]:.2f}"
                if data["energy_known"][i]
                else "",
                "type_de_chauffage": data["heating"][i],
                "etat_de_sante": CONDITION_DIE[data["condition"][i]],
                "annee_de_construction": str(int(data["year"][i]))
                if data["year_known"][i]
                else "",
                "tri_des_dechets": "",
                "erp": {1: "Oui", 0: "Non"}.get(erp, ""),
                "date_de_reference": "2021-12-31",
            }
            writer.writerow([row.get(column, "") for column in header])
    return path.stat().st_size


def _child(path: Path, *, profile: bool = False) -> dict[str, Any]:
    env = django_env(IMPORT_DB, IMPORT_MAX_MB="2000")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-c", CHILD, str(path), *(["profile"] if profile else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            data: dict[str, Any] = json.loads(line[len("RESULT ") :])
            data["process_seconds"] = wall
            return data
    raise RuntimeError(
        "import failed (exit "
        f"{result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )


def run(rows: int, *, budget_s: float = 300.0) -> dict[str, Any]:
    ensure_template()
    template_url = database_url(TEMPLATE_DB)
    try:
        import buildings.importers  # noqa: F401
    except ImportError as error:
        log(f"the importer is not there yet ({error}): import benchmark skipped")
        return {"rows": rows, "skipped": f"buildings.importers not importable: {error}"}

    reference = load_reference(template_url)
    data = generate(rows, reference, SEED)
    with connect(template_url) as conn:
        regions = dict(
            conn.execute(
                "SELECT d.code, r.name FROM buildings_department d JOIN "
                "buildings_region r ON r.code = d.region_id"
            ).fetchall()
        )
    VAR.mkdir(parents=True, exist_ok=True)
    # The vintage is read from the file name, as for the real file.
    path = VAR / f"parc_immobilier_etat_{VINTAGE:%Y%m%d}_bench_{size_label(rows)}.csv"
    size = write_die_csv(data, path, regions)
    log(f"wrote {path.relative_to(ROOT)} ({size / 1e6:.1f} MB, {rows} rows)")

    # A probe first: the full run only when its projection fits the time budget.
    probe_path = path.with_name(path.stem + "_probe.csv")
    _head(path, probe_path, min(PROBE_ROWS, rows))
    create_database(IMPORT_DB, template=TEMPLATE_DB)
    probe = _child(probe_path)
    probe_rows = min(PROBE_ROWS, rows)
    rate = probe_rows / probe["seconds"]
    projected = rows / rate
    log(
        f"probe: {probe_rows} rows in {probe['seconds']:.1f} s ({rate:.0f} rows/s) → "
        f"{rows} rows ≈ {projected:.0f} s"
    )
    result: dict[str, Any] = {
        "rows": rows,
        "file_mb": round(size / 1e6, 1),
        "target_s": TARGET_SECONDS,
        "probe": probe,
    }
    if projected > budget_s and probe_rows < rows:
        log(
            f"projected {projected:.0f} s exceeds the budget ({budget_s:.0f} s): full "
            "import not run (--import-budget)"
        )
        result.update(
            first=probe,
            seconds=projected,
            rows_per_s=rate,
            projected_from=probe_rows,
            stored=None,
            located=None,
            note=(
                f"The full {rows:,}-row import was not run: a {probe_rows:,}-row probe "
                f"ran at {rate:.0f} rows/s, "
                f"so {rows:,} rows would take about {projected:.0f} s, beyond this "
                "run's budget of "
                f"{budget_s:.0f} s (`python -m bench import --import-budget 3600` runs "
                "it)."
            ),
            **{"pass": False},
        )
    else:
        create_database(IMPORT_DB, template=TEMPLATE_DB)
        log(f"importing {rows} rows into {IMPORT_DB} (profile die)…")
        first = _child(path)
        log(
            f"first import: {first['seconds']:.1f} s, {first['created']} created, "
            f"{first['rejected']} rejected, {first['warnings']} warnings; CPU: "
            f"Python {first['python_cpu_s']} s, PostgreSQL {first['server_cpu_s']} s"
        )
        result.update(
            first=first, seconds=first["seconds"], rows_per_s=rows / first["seconds"]
        )
        if first["seconds"] <= 2 * budget_s / 3:
            second = _child(path)
            log(
                f"re-import of the same file: {second['seconds']:.1f} s, "
                f"{second['unchanged']} unchanged"
            )
            result["second"] = second
        with connect(database_url(IMPORT_DB)) as conn:
            result["stored"], result["located"] = conn.execute(
                "SELECT count(*), count(point) FROM buildings_building"
            ).fetchone()
        result["pass"] = bool(
            first["seconds"] <= TARGET_SECONDS and first.get("written")
        )
    if not result["pass"]:
        profile_path = path.with_name(path.stem + "_profile.csv")
        _head(path, profile_path, min(PROFILE_ROWS, rows))
        create_database(IMPORT_DB, template=TEMPLATE_DB)
        profiled = _child(profile_path, profile=True)
        result["profile_top"] = profiled.get("profile_top", "")
        profile_path.unlink(missing_ok=True)
    probe_path.unlink(missing_ok=True)
    return result


def _head(source: Path, target: Path, rows: int) -> None:
    with (
        source.open(encoding="utf-8") as inp,
        target.open("w", encoding="utf-8") as out,
    ):
        reader = csv.reader(inp, delimiter=";")
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        for index, row in enumerate(reader):
            if index > rows:
                break
            writer.writerow(row)
