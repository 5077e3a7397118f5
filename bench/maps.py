"""Map benchmark: vector tiles, the low-zoom pyramid, tipg, and the map page.

    .venv/bin/python -m bench.maps [--dataset 200k|1M|<database>] [--runs 15]
        [--only latency,pyramid,tipg,page] [--quick] [--fresh] [--skip-prepare]
        [--skip-install]

Data: a copy of the synthetic inventory of ``python -m bench generate``. The
dataset's database is ``--dataset`` (``200k`` is ``intercalaire_bench``, ``1M``
``intercalaire_bench_1m``, anything else a database name) or else ``BENCH_DB``;
its copy, ``<database>_maps``, is created from it as a template (only while nobody
is connected to it: the benchmark never writes to the other benchmarks'
databases), migrated, and its cluster table rebuilt with ``refresh_clusters``
(the generator loads rows with the triggers off). The copies of the 200k and 1M
datasets coexist; ``--fresh`` recreates one. Results are filed by row count in
var/bench/results.json (section ``maps``, each part replaced when re-run) and
rendered in docs/benchmarks.md by bench/report.py.

Parts (``--only`` picks some):

- ``latency``: for z6, z10, z12 and z14 over Paris and Marseille, the median of
  ``--runs`` warm calls of the app's tile, in process (selector, layer, one
  ST_AsMVT: maps.tiles), for the public and for a national State agent, against
  raw ST_AsMVT over every building point of the tile with the agent's attributes
  (the statement a tile server without pre-aggregation runs), on the same
  connection (serial plans, jit off, as the web role). Target: agent ≤ 1.2 × raw
  at z ≥ 12. Then the sizes of the Paris tiles from z4 to z11.
- ``pyramid``: every tile up to z11 that can hold a building — the tiles of
  metropolitan France's bounding box, plus every tile holding a row of the
  cluster table (overseas included) — once each, uncached (no tile cache exists;
  PostgreSQL's buffers are warm), for the national agent and the public: size
  and time in process. Tiles over 80 ms are timed three more times and their
  median kept, so that a stall of the shared box is told from a slow tile.
  Target: every tile ≤ 500 KB and ≤ 80 ms on the 1M table.
- ``tipg``: z14 throughput over a 4 × 4 block of tiles around Paris, cycled by
  wrk on 4 keep-alive connections (bench.http.wrk_load; Python client threads,
  bench.http.run_load, when wrk is missing), against tipg
  1.6.1 (installed from PyPI by bench/ogc.py into var/ogc-bench/tipg, shared
  with the OGC benchmark) serving views of the same table with the same rows and
  attributes. Ours run under the deployed server as bench/http.py runs them
  (``python -m config.server``); tipg under gunicorn's uvicorn workers, 2 each.
  A gate compares the features of every tile first. Target: ours ≥ 3 × tipg.
  Each round also times our server's /healthz (the same server, middleware
  and one statement, no tile): the stack's floor, whose ratio to tipg's
  public tiles bounds what any tile view of ours can reach.
- ``page``: HTML sizes of the map pages and of the inventory map's JSON
  (its overlays, /carte/couches/, and a filter's update; Django test client),
  and for the
  national inventory map in headless Chromium (Debian's, with the test suite's
  flags; basemap off; a fresh browser context per run, so no cached tile) the
  time from navigation start to the first building tile drawn (an SVG shape in a
  ``.leaflet-tile``, stamped on the next animation frame). Targets: ≤ 50 KB of
  HTML, ≤ 2 s to the first painted tile with 200,000 buildings.

The box is shared: each timed part waits (bounded) for the cores to calm down
and records how busy they were. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from functools import partial
from typing import Any

from bench.common import (
    BENCH_DB,
    PYTHON,
    ROOT,
    connect,
    database_exists,
    database_url,
    django_env,
    load_results,
    log,
    machine_facts,
    maintenance_url,
    manage,
    percentile,
    save_result,
    setup_django,
    size_label,
    wait_quiet,
)

DATASETS = {"200k": "intercalaire_bench", "1M": "intercalaire_bench_1m"}
PLACES = {"Paris": (2.3522, 48.8566), "Marseille": (5.3698, 43.2965)}
ZOOMS = (6, 10, 12, 14)
PARTS = ("latency", "pyramid", "tipg", "page")
MAPS_VAR = ROOT / "var" / "maps-bench"
# Metropolitan France and Corsica (lon, lat): tiles of this box are checked even
# when empty; tiles elsewhere are checked when the cluster table has rows there.
FRANCE_BBOX = (-5.3, 41.2, 9.7, 51.2)
PYRAMID_MAX_ZOOM = 11
THROUGHPUT_ZOOM = 14
THROUGHPUT_BLOCK = 4
QUIET_WAIT = 60.0
TARGETS = {
    "latency_ratio": 1.2,
    "tile_kb": 500.0,
    "tile_ms": 80.0,
    "tipg_ratio": 3.0,
    "page_kb": 50.0,
    "first_tiles_s": 2.0,
}
RAW_SQL = (
    "SELECT ST_AsMVT(t, 'buildings', 4096, 'geom', 'fid') FROM ("
    "SELECT b.id AS fid, b.id, b.status, b.designation, b.city, "
    "round(b.surface_m2)::integer AS surface, b.is_confidential AS confidential, "
    "ST_AsMVTGeom(ST_Transform(b.point, 3857), ST_TileEnvelope(%s, %s, %s), "
    "4096, 64, true) AS geom FROM buildings_building AS b "
    "WHERE b.point && ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)"
    ") AS t"
)
# The peers' views: the rows and attributes of our public and agent tiles. The
# schema and the public view's name are bench/ogc.py's, whose tipg_server probes
# them.
PEER_VIEWS = {
    "public": (
        "buildings",
        "WHERE status IN ('vacant', 'assessed', 'available') AND NOT is_confidential",
        "",
    ),
    "agent": ("agent_buildings", "", ", is_confidential AS confidential"),
}
# The load-table key of /healthz under our server, measured in every tipg round.
FLOOR = "ours floor (/healthz)"
# Stamps the first building tile drawn: VectorGrid's SVG tiles are
# <svg class="leaflet-tile"> holding one <path> per symbol. Runs before the
# page's scripts (an init script, outside the page's CSP).
PAINT_PROBE = """
(() => {
  const seen = () => document.querySelector('.leaflet-tile path');
  const observer = new MutationObserver(() => {
    if (window.firstTilePaint === undefined && seen()) {
      observer.disconnect();
      requestAnimationFrame(() => { window.firstTilePaint = performance.now(); });
    }
  });
  observer.observe(document, {childList: true, subtree: true});
})();
"""
# Caller → (tile path template with {} for z, x, y; request headers).
Routes = dict[str, tuple[str, dict[str, str]]]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


# --- Data
def dataset_db(name: str | None) -> str:
    if not name:
        return BENCH_DB
    return DATASETS.get(name, name)


def copy_db(source: str) -> str:
    """The benchmark's own copy of ``source`` (one per dataset)."""
    return f"{source}_maps"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def prepare(source: str, copy: str, *, fresh: bool) -> None:
    """``copy`` made from ``source`` if missing (or ``fresh``), migrated, with
    its cluster table rebuilt."""
    if not database_exists(source):
        raise SystemExit(
            f"{source} is missing: run `BENCH_DB={source} .venv/bin/python -m bench "
            "generate --rows …` first."
        )
    if fresh or not database_exists(copy):
        from psycopg import sql

        with connect(maintenance_url(), autocommit=True) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [source]
            ).fetchone()[0]
            if busy:
                raise SystemExit(
                    f"{source} is in use by {busy} session(s): PostgreSQL copies a "
                    "database only while nobody is connected. Retry later."
                )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(copy)
                )
            )
            log(f"copying {source} to {copy}")
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(copy), sql.Identifier(source)
                )
            )
    log(f"migrating {copy}")
    manage(copy, "migrate", "--noinput", quiet=True)
    started = time.perf_counter()
    manage(copy, "refresh_clusters")
    log(f"refresh_clusters: {time.perf_counter() - started:.1f} s")
    with connect(database_url(copy), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE maps_buildingcluster")
        conn.execute("VACUUM ANALYZE buildings_building")


# --- In-process tiles (Django is set up on the copy)
def _national() -> Any:
    from organizations.selectors import Persona, Scope

    return Scope(user_id=0, persona=Persona.STATE_AGENT, departments=None)


def app_tile(scope: Any, z: int, x: int, y: int) -> bytes:
    """The app's tile as the view builds it without a filter (maps.views
    ``_building_tile``), minus HTTP."""
    from maps import tiles

    address = tiles.TileAddress(z, x, y)
    return tiles.render_tile(tiles.unfiltered_layer(scope=scope, tile=address), address)


def raw_tile(z: int, x: int, y: int) -> bytes:
    """The bare statement on the same connection (serial plans, as the app's)."""
    from django.db import connection

    from buildings.geojson import serial_plans

    with serial_plans(), connection.cursor() as cursor:
        cursor.execute(RAW_SQL, [z, x, y, z, x, y, 64 / 4096])
        row = cursor.fetchone()
    return bytes(row[0] or b"")


def timed(fn: Callable[[], bytes], runs: int) -> tuple[float, bytes]:
    result = fn()  # warm: plans, PROJ, caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def latency(runs: int) -> dict[str, Any]:
    from organizations.selectors import PUBLIC_SCOPE

    national = _national()
    busy = wait_quiet(max_wait=QUIET_WAIT)
    rows = []
    for place, (lon, lat) in PLACES.items():
        for zoom in ZOOMS:
            z, x, y = tile_of(lon, lat, zoom)
            public_ms, public = timed(partial(app_tile, PUBLIC_SCOPE, z, x, y), runs)
            agent_ms, agent = timed(partial(app_tile, national, z, x, y), runs)
            # Raw low-zoom tiles take up to seconds: fewer runs, no ratio asked.
            raw_ms, raw = timed(
                partial(raw_tile, z, x, y), runs if z >= 12 else max(3, runs // 5)
            )
            rows.append(
                {
                    "place": place,
                    "tile": f"{z}/{x}/{y}",
                    "z": z,
                    "public_ms": public_ms,
                    "public_kb": len(public) / 1024,
                    "agent_ms": agent_ms,
                    "agent_kb": len(agent) / 1024,
                    "raw_ms": raw_ms,
                    "raw_kb": len(raw) / 1024,
                    "agent_over_raw": agent_ms / raw_ms if raw_ms else None,
                }
            )
            log(f"  {place} {z}/{x}/{y}: agent {agent_ms:.1f} ms, raw {raw_ms:.1f} ms")
    sizes = []
    lon, lat = PLACES["Paris"]
    for zoom in range(4, PYRAMID_MAX_ZOOM + 1):
        z, x, y = tile_of(lon, lat, zoom)
        sizes.append(
            {
                "tile": f"{z}/{x}/{y}",
                "agent_kb": len(app_tile(national, z, x, y)) / 1024,
                "public_kb": len(app_tile(PUBLIC_SCOPE, z, x, y)) / 1024,
                "raw_kb": len(raw_tile(z, x, y)) / 1024,
            }
        )
    return {"runs": runs, "busy": busy, "tiles": rows, "paris_sizes": sizes}


def pyramid_tiles(max_zoom: int) -> list[tuple[int, int, int]]:
    """Every tile of FRANCE_BBOX up to ``max_zoom``, and every tile holding a row
    of the cluster table, by zoom."""
    from django.db import connection

    from maps.models import CELLS_PER_TILE

    west, south, east, north = FRANCE_BBOX
    found: set[tuple[int, int, int]] = set()
    for zoom in range(max_zoom + 1):
        _z, x0, y0 = tile_of(west, north, zoom)
        _z, x1, y1 = tile_of(east, south, zoom)
        found |= {(zoom, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT zoom, x / %s, y / %s FROM maps_buildingcluster "
            "WHERE zoom <= %s",
            [CELLS_PER_TILE, CELLS_PER_TILE, max_zoom],
        )
        found |= {(int(z), int(x), int(y)) for z, x, y in cursor.fetchall()}
    return sorted(found)


def pyramid(max_zoom: int = PYRAMID_MAX_ZOOM) -> dict[str, Any]:
    from organizations.selectors import PUBLIC_SCOPE

    addresses = pyramid_tiles(max_zoom)
    log(f"pyramid: {len(addresses):,} tiles up to z{max_zoom}, two callers each")
    busy = wait_quiet(max_wait=QUIET_WAIT)
    personas: dict[str, Any] = {}
    for persona, scope in (("agent", _national()), ("public", PUBLIC_SCOPE)):
        samples: list[tuple[tuple[int, int, int], float, int]] = []
        started = time.perf_counter()
        for z, x, y in addresses:
            t0 = time.perf_counter()
            size = len(app_tile(scope, z, x, y))
            samples.append(((z, x, y), (time.perf_counter() - t0) * 1000, size))
        elapsed = time.perf_counter() - started
        slow = [s for s in samples if s[1] > TARGETS["tile_ms"]]
        confirmed = []
        for (z, x, y), first_ms, _size in slow:
            again = []
            for _ in range(3):
                t0 = time.perf_counter()
                app_tile(scope, z, x, y)
                again.append((time.perf_counter() - t0) * 1000)
            ms = statistics.median(again)
            if ms > TARGETS["tile_ms"]:
                confirmed.append(
                    {"tile": f"{z}/{x}/{y}", "first_ms": first_ms, "median_ms": ms}
                )
        by_zoom = []
        for zoom in range(max_zoom + 1):
            level = [s for s in samples if s[0][0] == zoom]
            times = [s[1] for s in level]
            sizes = [s[2] for s in level]
            by_zoom.append(
                {
                    "z": zoom,
                    "tiles": len(level),
                    "non_empty": sum(1 for size in sizes if size),
                    "median_ms": statistics.median(times),
                    "p95_ms": percentile(times, 0.95),
                    "max_ms": max(times),
                    "max_kb": max(sizes) / 1024,
                    "total_mb": sum(sizes) / 1024 / 1024,
                }
            )
        heaviest = max(samples, key=lambda s: s[2])
        slowest = max(samples, key=lambda s: s[1])
        personas[persona] = {
            "seconds": elapsed,
            "by_zoom": by_zoom,
            "max_kb": heaviest[2] / 1024,
            "heaviest": "{}/{}/{}".format(*heaviest[0]),
            "max_ms": slowest[1],
            "slowest": "{}/{}/{}".format(*slowest[0]),
            "first_pass_over": len(slow),
            "over_target": confirmed,
        }
        log(
            f"  {persona}: {len(samples):,} tiles in {elapsed:.1f} s; max "
            f"{slowest[1]:.1f} ms ({personas[persona]['slowest']}), "
            f"{heaviest[2] / 1024:.1f} KB; over {TARGETS['tile_ms']:.0f} ms: "
            f"{len(slow)} first pass, {len(confirmed)} confirmed"
        )
    return {"max_zoom": max_zoom, "tiles": len(addresses), "busy": busy, **personas}


# --- HTTP: our tiles under the deployed server against tipg
def create_peer_views(copy: str) -> None:
    from bench.ogc import SCHEMA

    with connect(database_url(copy), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for view, where, extra in PEER_VIEWS.values():
            conn.execute(f"DROP VIEW IF EXISTS {SCHEMA}.{view}")
            conn.execute(
                f"CREATE VIEW {SCHEMA}.{view} AS SELECT id, status, designation, "
                f"city, round(surface_m2)::integer AS surface{extra}, point "
                f"FROM buildings_building {where}"
            )


def agent_cookie() -> str:
    """A session of a national State agent (bench.http's), as a Cookie header."""
    from django.conf import settings
    from django.test import Client

    from bench.http import ensure_agent

    user, _token = ensure_agent()
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def cycling_worker(
    port: int, paths: list[str], headers: dict[str, str], start: Iterable[int]
) -> Callable[[], tuple[Callable[[], tuple[int, int]], Callable[[], int]]]:
    """bench.http.http_worker over several paths, each thread from its own offset."""
    from bench.http import NoDelayConnection

    offsets = iter(start)

    def make() -> tuple[Callable[[], tuple[int, int]], Callable[[], int]]:
        conn = NoDelayConnection("127.0.0.1", port, timeout=120)
        first = next(offsets) % len(paths)
        cycle = itertools.cycle(paths[first:] + paths[:first])

        def call() -> tuple[int, int]:
            conn.request("GET", next(cycle), headers=headers)
            response = conn.getresponse()
            body = response.read()
            return response.status, len(body)

        return call, lambda: conn.connects

    return make


def _tile_ids(body: bytes) -> list[int]:
    """Ids of the features strictly inside the tile: buffers differ by server,
    and a point on an edge is drawn by one server and not the other."""
    import mapbox_vector_tile

    ids = []
    for layer in mapbox_vector_tile.decode(body).values():
        extent = layer.get("extent", 4096)
        for feature in layer["features"]:
            x, y = feature["geometry"]["coordinates"]
            if 0 < x < extent and 0 < y < extent:
                ids.append(int(feature["properties"].get("id", feature.get("id"))))
    return sorted(ids)


def throughput(
    copy: str, *, skip_install: bool, quick: bool, repeat: int = 3
) -> dict[str, Any]:
    from bench import ogc
    from bench.http import (
        BUDGET,
        CONCURRENCY,
        QUICK_BUDGET,
        Server,
        median_round,
        request_once,
        wrk_available,
        wrk_load,
    )
    from bench.http import run_load as load

    create_peer_views(copy)
    tipg_env = ogc.venv("tipg", ogc.TIPG, "gunicorn", "uvicorn", skip=skip_install)
    lon, lat = PLACES["Paris"]
    z, x0, y0 = tile_of(lon, lat, THROUGHPUT_ZOOM)
    half = THROUGHPUT_BLOCK // 2
    block = [
        (z, x, y)
        for x in range(x0 - half, x0 - half + THROUGHPUT_BLOCK)
        for y in range(y0 - half, y0 - half + THROUGHPUT_BLOCK)
    ]
    cookie = {"Cookie": agent_cookie()}
    ours: Routes = {
        "public": ("/tiles/public/buildings/{}/{}/{}.pbf", {}),
        "agent": ("/tiles/buildings/{}/{}/{}.pbf", cookie),
    }
    peers: Routes = {
        persona: (
            f"/collections/{ogc.SCHEMA}.{view}/tiles/WebMercatorQuad/{{}}/{{}}/{{}}",
            {},
        )
        for persona, (view, _where, _extra) in PEER_VIEWS.items()
    }
    requests, seconds = (QUICK_BUDGET if quick else BUDGET)[30]
    results: dict[str, Any] = {
        "zoom": THROUGHPUT_ZOOM,
        "tiles": [f"{z}/{x}/{y}" for z, x, y in block],
        "concurrency": CONCURRENCY,
        "gate": {},
        "load": {},
    }
    expected: dict[str, list[list[int]]] = {}

    def run(server_name: str, port: int, routes: Routes) -> None:
        for persona, (template, headers) in routes.items():
            paths = [template.format(*address) for address in block]
            ids = []
            for path in paths:
                status, body, _h = request_once(port, path, headers)
                if status not in (200, 204):
                    raise SystemExit(f"{server_name} {path}: {status} {body[:200]!r}")
                ids.append(_tile_ids(body) if body else [])
            key = f"{server_name} {persona}"
            same = expected.setdefault(persona, ids) == ids
            results["gate"][key] = {
                "features": sum(len(tile) for tile in ids),
                "same_features_as_ours": same,
            }
            if not same:
                log(f"  {key}: gate FAILED (features differ), not timed")
                continue
            timed_load(key, port, paths, headers)

    def timed_load(
        key: str, port: int, paths: list[str], headers: dict[str, str]
    ) -> None:
        if wrk_available():
            measure = wrk_load(key, port, paths, headers, seconds=seconds)
        else:
            measure = load(
                key,
                cycling_worker(port, paths, headers, range(0, 64, 4)),
                requests=requests * 2,
                seconds=seconds,
                concurrency=CONCURRENCY,
                warmup=max(16, requests // 20),
            )
        rounds.setdefault(key, []).append(asdict(measure))
        log(
            f"  {key}: {measure.rps:.0f} req/s, median {measure.median_ms:.1f} "
            f"ms, p95 {measure.p95_ms:.1f} ms ({measure.requests} requests, "
            f"{measure.errors} errors)"
        )

    # Rounds of both servers (performance.md §6.6: repeat, report the median):
    # on a shared 2-core box one run can move by a third.
    rounds: dict[str, list[dict[str, Any]]] = {}
    for round_number in range(repeat):
        log(f"  round {round_number + 1}/{repeat}")
        with Server(DATABASE_URL=database_url(copy)) as server:
            run("ours", server.port, ours)
            # The stack's own ceiling: the same server, middleware and one
            # statement, without a tile. No tile view can serve faster.
            timed_load(FLOOR, server.port, ["/healthz"], {})
        peer = ogc.tipg_server(tipg_env)
        peer.env["DATABASE_URL"] = database_url(copy).replace(
            "postgres://", "postgresql://", 1
        )
        with peer:
            run("tipg", peer.port, peers)
    results["repeat"] = repeat
    for key, figures in rounds.items():
        results["load"][key] = median_round(figures)
    # Each ratio compares figures of one round; the median round's is reported.
    compared = {
        f"ratio_{persona}": (f"ours {persona}", f"tipg {persona}")
        for persona in PEER_VIEWS
    }
    compared["floor_ratio"] = (FLOOR, "tipg public")
    for name, (ours_key, theirs_key) in compared.items():
        ratios = sorted(
            a["rps"] / b["rps"]
            for a, b in zip(
                rounds.get(ours_key, []), rounds.get(theirs_key, []), strict=False
            )
            if b["rps"]
        )
        if ratios:
            results[name] = ratios[(len(ratios) - 1) // 2]
            results[f"{name}_rounds"] = ratios
    return results


# --- The page, in the test client and in Chromium
def collect_static(copy: str) -> str:
    """Static files as production serves them (hashed names, WhiteNoise)."""
    root = MAPS_VAR / "static"
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=django_env(copy, STATIC_ROOT=str(root)),
        check=True,
    )
    return str(root)


def html_sizes(runs: int) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    user, _ = User.objects.get_or_create(
        username="maps-bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    # Static URLs from the finders: this process did not run collectstatic.
    plain_static = override_settings(
        BASEMAP_URL="",
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        },
    )
    rows = []
    with plain_static:
        for path in (
            "/carte/",
            "/carte/?department=13",
            "/carte/couches/",
            "/carte/selection/?department=13",
            "/carte-publique/",
            # The agents' building list beside the map: the whole inventory for a
            # national agent, sorted by designation, then a département.
            "/batiments/",
            "/batiments/?department=13",
        ):
            page_ms, content = timed(
                partial(lambda path: client.get(path).content, path), max(3, runs // 3)
            )
            rows.append({"path": path, "ms": page_ms, "kb": len(content) / 1024})
            log(f"  {path}: {len(content) / 1024:.1f} KB, {page_ms:.0f} ms")
    return rows


TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const tiles = performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes('/tiles/buildings/'));
  return {
    paint: window.firstTilePaint,
    html: nav.responseEnd,
    html_bytes: nav.decodedBodySize,
    dom: nav.domContentLoadedEventEnd,
    first_tile: Math.min(...tiles.map((entry) => entry.responseEnd)),
    tiles: tiles.length,
  };
}"""


def _paint_once(browser: Any, origin: str, cookie: str) -> dict[str, Any]:
    """One cold visit of /carte/ (a new context: no cache) and its timings, in ms
    from navigation start."""
    from django.conf import settings

    context = browser.new_context(
        locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": origin}]
    )
    context.add_init_script(PAINT_PROBE)
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []

    def on_request(request: Any) -> None:
        if not request.url.startswith((origin, "data:", "blob:")):
            foreign.append(request.url)

    page.on("request", on_request)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(origin + "/carte/", wait_until="commit", timeout=60_000)
        page.wait_for_function(
            "() => window.firstTilePaint !== undefined", timeout=60_000
        )
        timing: dict[str, Any] = page.evaluate(TIMING)
    finally:
        context.close()
    if foreign or errors:
        raise SystemExit(f"/carte/: requests to {foreign}, page errors {errors}")
    return timing


def first_tiles(copy: str, runs: int) -> dict[str, Any]:
    """Time to the first painted building tile of /carte/ in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from bench.http import Server

    cookie = agent_cookie().split("=", 1)[1]
    static_root = collect_static(copy)
    samples = []
    with Server(
        DATABASE_URL=database_url(copy), STATIC_ROOT=static_root, BASEMAP_URL=""
    ) as server:
        origin = f"http://127.0.0.1:{server.port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            _paint_once(browser, origin, cookie)  # warms the server's workers
            for run in range(runs):
                timing = _paint_once(browser, origin, cookie)
                samples.append(timing)
                log(
                    f"  run {run + 1}: HTML {timing['html']:.0f} ms, first tile "
                    f"response {timing['first_tile']:.0f} ms, painted "
                    f"{timing['paint']:.0f} ms"
                )
            browser.close()
    return {
        "runs": runs,
        "median_paint_ms": statistics.median(s["paint"] for s in samples),
        "max_paint_ms": max(s["paint"] for s in samples),
        "median_html_ms": statistics.median(s["html"] for s in samples),
        "median_first_tile_ms": statistics.median(s["first_tile"] for s in samples),
        "html_kb": samples[0]["html_bytes"] / 1024,
        "samples": samples,
    }


def page(copy: str, runs: int, *, quick: bool) -> dict[str, Any]:
    busy = wait_quiet(max_wait=QUIET_WAIT)
    return {
        "busy": busy,
        "html": html_sizes(runs),
        "chromium": first_tiles(copy, 3 if quick else 7),
    }


# --- Output
def print_tables(result: dict[str, Any]) -> None:
    from bench.report import maps_section

    print(maps_section(result))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.maps", description=__doc__)
    parser.add_argument("--dataset", help="200k, 1M or a database (else BENCH_DB)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}"
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--fresh", action="store_true", help="recreate the copy")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of the tipg comparison"
    )
    parser.add_argument("--skip-prepare", action="store_true")
    parser.add_argument("--skip-install", action="store_true")
    options = parser.parse_args()
    parts = [part.strip() for part in options.only.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    source = dataset_db(options.dataset)
    copy = copy_db(source)
    if not options.skip_prepare:
        prepare(source, copy, fresh=options.fresh)
    setup_django(copy)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM buildings_building")
        (buildings,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM maps_buildingcluster")
        (clusters,) = cursor.fetchone()
    label = size_label(buildings)
    log(f"{copy}: {buildings:,} buildings ({label}), {clusters:,} cluster rows")
    result: dict[str, Any] = dict(load_results().get(label, {}).get("maps") or {})
    result.update(
        {
            "rows": buildings,
            "cluster_rows": clusters,
            "database": copy,
            "targets": TARGETS,
            "machine": machine_facts(),
        }
    )
    runs = 3 if options.quick else options.runs
    for part in parts:
        log(f"{part}…")
        if part == "latency":
            result["latency"] = latency(runs)
        elif part == "pyramid":
            result["pyramid"] = pyramid()
        elif part == "tipg":
            result["tipg"] = throughput(
                copy,
                skip_install=options.skip_install,
                quick=options.quick,
                repeat=1 if options.quick else options.repeat,
            )
        elif part == "page":
            result["page"] = page(copy, runs, quick=options.quick)
        # Saved after each part: a long run that fails keeps what it measured.
        save_result(label, "maps", result)
    print_tables(result)
    from bench import report

    report.write()


if __name__ == "__main__":
    main()
