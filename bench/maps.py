"""Map benchmark: vector tiles against raw ST_AsMVT, tile sizes, page sizes.

    .venv/bin/python -m bench.maps [--runs 15] [--fresh]

Reads a copy of the synthetic inventory of ``python -m bench generate``
(``intercalaire_bench``, 200,000 buildings by default): ``intercalaire_maps_bench``
is created from it as a template (only while nobody is connected to it; the
benchmark never writes to the other benchmarks' databases), migrated, and its
cluster table rebuilt with ``refresh_clusters`` (the generator loads rows with the
triggers off). ``--fresh`` recreates the copy.

For each tile (z6, z10, z12, z14 over Paris and Marseille) it times, warm, the
median of ``--runs`` calls of
- the app's tile for the public and for a national State agent (maps.tiles: one
  ST_AsMVT, clusters from the cluster table at z ≤ 11, points above), and
- raw ST_AsMVT over every building point of the tile with the same attributes
  (the statement a tile server without pre-aggregation runs),
then prints tile sizes from z4 to z11 and the HTML sizes of the map pages.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from functools import partial
from typing import Any

from bench.common import (
    BENCH_DB,
    connect,
    database_exists,
    database_url,
    log,
    maintenance_url,
    manage,
    setup_django,
)

MAPS_DB = "intercalaire_maps_bench"
PLACES = {"Paris": (2.3522, 48.8566), "Marseille": (5.3698, 43.2965)}
ZOOMS = (6, 10, 12, 14)
RAW_SQL = (
    "SELECT ST_AsMVT(t, 'buildings', 4096, 'geom', 'fid') FROM ("
    "SELECT b.id AS fid, b.id, b.status, b.designation, b.city, "
    "round(b.surface_m2)::integer AS surface, "
    "ST_AsMVTGeom(ST_Transform(b.point, 3857), ST_TileEnvelope(%s, %s, %s), "
    "4096, 64, true) AS geom FROM buildings_building AS b "
    "WHERE b.point && ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)"
    ") AS t"
)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def prepare(*, fresh: bool) -> None:
    """The benchmark's own copy of the inventory, with its cluster table."""
    if not database_exists(BENCH_DB):
        raise SystemExit(
            f"{BENCH_DB} is missing: run `.venv/bin/python -m bench generate` first."
        )
    if fresh or not database_exists(MAPS_DB):
        from psycopg import sql

        with connect(maintenance_url(), autocommit=True) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                [BENCH_DB],
            ).fetchone()[0]
            if busy:
                raise SystemExit(
                    f"{BENCH_DB} is in use by {busy} session(s): PostgreSQL copies a "
                    "database only while nobody is connected. Retry later."
                )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(MAPS_DB)
                )
            )
            log(f"copying {BENCH_DB} to {MAPS_DB}")
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(MAPS_DB), sql.Identifier(BENCH_DB)
                )
            )
    log(f"migrating {MAPS_DB}")
    manage(MAPS_DB, "migrate", "--noinput", quiet=True)
    started = time.perf_counter()
    manage(MAPS_DB, "refresh_clusters")
    log(f"refresh_clusters: {time.perf_counter() - started:.1f} s")
    with connect(database_url(MAPS_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE maps_buildingcluster")


def timed(fn: Any, runs: int) -> tuple[float, bytes]:
    result = fn()  # warm: plans, PROJ, caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def measure(runs: int) -> None:
    setup_django(MAPS_DB)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.http import QueryDict
    from django.test import Client, override_settings

    from buildings.geojson import serial_plans_only
    from maps import tiles
    from maps.selectors import building_selection
    from organizations.selectors import PUBLIC_SCOPE, Persona, Scope

    national = Scope(user_id=0, persona=Persona.STATE_AGENT, departments=None)

    def app_tile(scope: Scope, z: int, x: int, y: int) -> bytes:
        address = tiles.TileAddress(z, x, y)
        selection = building_selection(scope=scope, params=QueryDict())
        layer = tiles.building_layer(
            scope=scope,
            tile=address,
            queryset=selection.queryset,
            active_filters=selection.active,
        )
        return tiles.render_tile(layer, address)

    def raw_tile(z: int, x: int, y: int) -> bytes:
        with transaction.atomic():
            serial_plans_only()
            with connection.cursor() as cursor:
                cursor.execute(RAW_SQL, [z, x, y, z, x, y, 64 / 4096])
                row = cursor.fetchone()
        return bytes(row[0] or b"")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM buildings_building")
        (buildings,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM maps_buildingcluster")
        (clusters,) = cursor.fetchone()
    print(
        f"\n{buildings:,} buildings, {clusters:,} cluster rows; median of {runs} runs"
    )
    print(
        f"\n{'tile':<22} {'public ms':>10} {'KB':>7} {'agent ms':>9} {'KB':>7} "
        f"{'raw ms':>8} {'KB':>8} {'raw/agent':>9}"
    )
    for place, (lon, lat) in PLACES.items():
        for z in ZOOMS:
            z, x, y = tile_of(lon, lat, z)
            public_ms, public = timed(partial(app_tile, PUBLIC_SCOPE, z, x, y), runs)
            agent_ms, agent = timed(partial(app_tile, national, z, x, y), runs)
            raw_ms, raw = timed(partial(raw_tile, z, x, y), max(3, runs // 3))
            print(
                f"{place + f' {z}/{x}/{y}':<22} {public_ms:>10.1f} "
                f"{len(public) / 1024:>7.1f} {agent_ms:>9.1f} "
                f"{len(agent) / 1024:>7.1f} {raw_ms:>8.1f} {len(raw) / 1024:>8.1f} "
                f"{raw_ms / agent_ms:>9.1f}"
            )
    print(
        f"\n{'low-zoom tile (Paris)':<22} {'agent KB':>9} {'public KB':>10} "
        f"{'raw KB':>9}"
    )
    lon, lat = PLACES["Paris"]
    for z in range(4, 12):
        z, x, y = tile_of(lon, lat, z)
        print(
            f"{f'{z}/{x}/{y}':<22} {len(app_tile(national, z, x, y)) / 1024:>9.1f} "
            f"{len(app_tile(PUBLIC_SCOPE, z, x, y)) / 1024:>10.1f} "
            f"{len(raw_tile(z, x, y)) / 1024:>9.1f}"
        )
    user, _ = User.objects.get_or_create(
        username="maps-bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    # Static URLs from the finders: the benchmark does not run collectstatic.
    plain_static = override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        }
    )
    plain_static.enable()
    print(f"\n{'page':<22} {'ms':>8} {'HTML KB':>9}")
    for name, path in (
        ("/carte/ (national)", "/carte/"),
        ("/carte-publique/", "/carte-publique/"),
        ("/carte/?department=13", "/carte/?department=13"),
    ):
        page_ms, response = timed(partial(client.get, path), max(3, runs // 3))
        print(f"{name:<22} {page_ms:>8.1f} {len(response.content) / 1024:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.maps", description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--skip-prepare", action="store_true")
    options = parser.parse_args()
    if not options.skip_prepare:
        prepare(fresh=options.fresh)
    measure(options.runs)


if __name__ == "__main__":
    main()
