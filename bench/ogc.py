"""OGC API – Features items pages: /ogc/ against pygeoapi and tipg, same table.

``python -m bench.ogc [--quick] [--skip-install]`` (not part of the test suite).

- Data: its own database, ``intercalaire_ogc_bench`` (``--rows``, 200k by
  default), made by bench/generate.py's generator from the same template, so that
  it never races the other benchmarks over ``intercalaire_bench``; ``--reuse``
  keeps it between runs. The peers read a view
  ``ogc_bench.buildings`` over it holding exactly what /ogc/ serves: the public
  stock (vacant, assessed, available; not confidential), its public properties
  (buildings.geojson.PUBLIC_PROPERTIES) and the point.
- Peers: pygeoapi 0.21.0 (the last release for Python 3.11, PostgreSQL provider)
  and tipg 1.6.1, each installed by this script from PyPI into its own virtual
  environment under var/ogc-bench/.
- Servers: 2 workers each. /ogc/ as deployed (bench.http.Server: ``python -m
  config.server``, granian, 2 threads a worker, keep-alive), and the same with one
  thread per worker ("ogc+1t": no two requests of one worker contend for its
  interpreter lock); the peers under gunicorn with TCP_NODELAY: pygeoapi on sync
  workers (which close the connection after each response) and on gthread
  workers of one thread with keep-alive ("pygeoapi+ka"); tipg on uvicorn workers
  (keep-alive). Throttles are raised out of the way for Django
  (bench.common.django_env).
- Queries: a bbox page of 30 and of 1,000 features around Paris (boxes
  calibrated on the data by bench.http.calibrate), ordered by id on every server
  (``sortby=id`` for the peers, the keyset order for /ogc/).
- Gate: before timing, the three servers must return the same feature ids in the
  same order (and as many as asked); a server failing it is reported, not timed.
- Metrics: 4 concurrent keep-alive clients from wrk (C, one thread; installed by
  ``scripts/bootstrap.sh --bench``), a 2 s warm-up run discarded: median, p95,
  requests/s, body size, CPU per request, and the share of the cores other
  processes kept busy just before (the box is shared). Without wrk, 4 Python
  client threads (bench.http.run_load), which also count connections opened; at
  hundreds of requests per second they take a core of their own and cap every
  server near the same rate, which squeezes the ratios towards 1.
- Repeats (``--repeat``): the whole round of servers again; each figure reported
  is the median over the rounds, each ratio the median of the rounds' own ratios
  (a ratio compares figures of one round, taken minutes apart at most).
- Targets (issue #7): at least 5× the requests/s of each peer at 1,000 features
  and 2× at 30, our server as deployed ("ogc") against each peer's best set-up.
  "ogc+1t" is reported, not judged: a site runs one thread count for every page,
  so picking the better of the two per page size would judge a set-up no one
  runs (and with all 4 connections in one worker, one thread cannot overlap a
  request's wait on PostgreSQL with another's Python, which halves its big
  pages).

Results: var/bench/results.json (section ``ogc`` of the dataset, through
bench.common.save_result, rendered by bench/report.py into docs/benchmarks.md;
only a run of every server is recorded there), var/bench/ogc.json (the last run,
whatever its servers), and a Markdown table on standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import (
    ROOT,
    TEMPLATE_DB,
    VAR,
    base_database_url,
    connect,
    create_database,
    database_exists,
    database_url,
    ensure_template,
    log,
    machine_facts,
    manage,
    median,
    save_result,
    setup_django,
    size_label,
    wait_quiet,
)
from bench.http import (
    BUDGET,
    CONCURRENCY,
    QUICK_BUDGET,
    WORKERS,
    Box,
    Server,
    calibrate,
    free_port,
    http_worker,
    median_round,
    request_once,
    run_load,
    wrk_available,
    wrk_load,
)
from bench.report import connects_cell

PEERS_DIR = ROOT / "var" / "ogc-bench"
OGC_DB = "intercalaire_ogc_bench"
RESULTS = VAR / "ogc.json"
SCHEMA = "ogc_bench"
VIEW = f"{SCHEMA}.buildings"
PYGEOAPI = "pygeoapi==0.21.0"
TIPG = "tipg==1.6.1"
TARGETS = (30, 1000)
# Throughput against each peer, by page size (issue #7).
TARGET_RATIOS = {30: 2.0, 1000: 5.0}
SERVERS = ("ogc", "ogc+1t", "pygeoapi", "pygeoapi+ka", "tipg")
# Judged: the server as deployed (see Targets above); the other set-ups inform.
OURS = ("ogc",)
PEERS = {"pygeoapi": ("pygeoapi", "pygeoapi+ka"), "tipg": ("tipg",)}
PUBLIC_STATUSES = ("vacant", "assessed", "available")


# --- The shared view
def create_view() -> list[str]:
    """The public stock with its public properties and the point, as the peers
    will serve it; returns the property names."""
    from buildings.geojson import PUBLIC_PROPERTIES
    from buildings.models import Building

    columns = []
    for name in PUBLIC_PROPERTIES:
        column = Building._meta.get_field(name).column  # type: ignore[union-attr]
        columns.append(column if column == name else f"{column} AS {name}")
    statuses = ", ".join(f"'{status}'" for status in PUBLIC_STATUSES)
    with connect(database_url(OGC_DB), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"DROP VIEW IF EXISTS {VIEW}")
        conn.execute(
            f"CREATE VIEW {VIEW} AS SELECT id, {', '.join(columns)}, point "
            f"FROM buildings_building WHERE status IN ({statuses}) "
            "AND NOT is_confidential"
        )
    return list(PUBLIC_PROPERTIES)


def drop_view() -> None:
    if not database_exists(OGC_DB):
        return
    with connect(database_url(OGC_DB), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


# --- Peers' environments
def venv(name: str, *packages: str, skip: bool) -> Path:
    """var/ogc-bench/<name>, with ``packages`` installed from PyPI."""
    path = PEERS_DIR / name
    python = path / "bin" / "python"
    marker = path / ".installed"
    wanted = " ".join(packages)
    if marker.exists() and marker.read_text() == wanted:
        return path
    if skip:
        raise SystemExit(f"{path} is not installed (run without --skip-install)")
    log(f"installing {wanted} into {path}")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True
    )
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    marker.write_text(wanted)
    return path


def _libpq() -> dict[str, str]:
    parts = urlsplit(base_database_url().replace("postgis://", "postgres://", 1))
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "password": parts.password or "",
    }


def pygeoapi_config(port: int, properties: list[str]) -> Path:
    """A pygeoapi configuration with one collection over the view (JSON is YAML)."""
    db = _libpq()
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-US",
            "cors": False,
            "pretty_print": False,
            "limit": 10000,
            "limits": {"default_items": 1000, "max_items": 10000},
            "map": {"url": "http://127.0.0.1/", "attribution": ""},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "bench",
                "keywords": ["bench"],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": "http://127.0.0.1/",
            },
            "license": {"name": "CC-BY 4.0", "url": "http://127.0.0.1/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1/"},
            "contact": {"name": "bench"},
        },
        "resources": {
            "buildings": {
                "type": "collection",
                "title": "buildings",
                "description": "buildings",
                "keywords": ["buildings"],
                "links": [],
                "extents": {
                    "spatial": {
                        "bbox": [-180, -90, 180, 90],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": {
                            "host": db["host"],
                            "port": db["port"],
                            "dbname": OGC_DB,
                            "user": db["user"],
                            "password": db["password"],
                            "search_path": [SCHEMA, "public"],
                        },
                        "id_field": "id",
                        "table": "buildings",
                        "geom_field": "point",
                        "properties": properties,
                    }
                ],
            }
        },
    }
    path = PEERS_DIR / "pygeoapi-config.yml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path


class PeerServer:
    """A peer's gunicorn on 127.0.0.1:<port>, started and stopped by its pid."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], probe: str):
        self.name = name
        self.args = args
        self.env = env
        self.probe = probe
        self.port = int(args[args.index("--bind") + 1].rsplit(":", 1)[1])
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = VAR / f"ogc-{name}-{self.port}.log"

    def __enter__(self) -> PeerServer:
        VAR.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited: see {self.log_path}")
            try:
                status, _body, _headers = request_once(self.port, self.probe)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise SystemExit(f"{self.name} did not start: see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(extra)
    return env


KEEP_ALIVE = ["--worker-class", "gthread", "--threads", "1", "--keep-alive", "5"]


def pygeoapi_server(
    path: Path, properties: list[str], *, skip: bool, keep_alive: bool = False
) -> PeerServer:
    port = free_port()
    config = pygeoapi_config(port, properties)
    openapi = PEERS_DIR / "pygeoapi-openapi.yml"
    env = _clean_env(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    if not (skip and openapi.exists()):
        subprocess.run(
            [
                str(path / "bin" / "pygeoapi"),
                "openapi",
                "generate",
                str(config),
                "--output-file",
                str(openapi),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    args = [
        str(path / "bin" / "gunicorn"),
        "pygeoapi.flask_app:APP",
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *(KEEP_ALIVE if keep_alive else []),
    ]
    return PeerServer("pygeoapi", args, env, "/collections/buildings?f=json")


def tipg_server(path: Path) -> PeerServer:
    port = free_port()
    url = database_url(OGC_DB).replace("postgis://", "postgresql://", 1)
    url = url.replace("postgres://", "postgresql://", 1)
    env = _clean_env(
        DATABASE_URL=url,
        TIPG_DB_SCHEMAS=json.dumps([SCHEMA]),
        TIPG_MAX_FEATURES_PER_QUERY="10000",
        TIPG_DEFAULT_FEATURES_PER_QUERY="1000",
    )
    args = [
        str(path / "bin" / "gunicorn"),
        "tipg.main:app",
        "-k",
        "uvicorn.workers.UvicornWorker",
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    return PeerServer("tipg", args, env, f"/collections/{VIEW}")


# --- Queries, gate, load
def paths(box: Box, limit: int) -> dict[str, str]:
    bbox = ",".join(f"{value:.6f}" for value in box.bbox)
    return {
        "ogc": "/ogc/collections/buildings/items?"
        + urlencode({"bbox": bbox, "limit": limit}),
        "pygeoapi": "/collections/buildings/items?"
        + urlencode({"bbox": bbox, "limit": limit, "sortby": "id", "f": "json"}),
        "tipg": f"/collections/{VIEW}/items?"
        + urlencode({"bbox": bbox, "limit": limit, "sortby": "id", "f": "geojson"}),
    }


def feature_ids(port: int, path: str) -> tuple[list[Any], int]:
    status, body, _headers = request_once(
        port, path, {"Accept": "application/geo+json"}
    )
    if status != 200:
        raise SystemExit(f"{path} answered {status}: {body[:300]!r}")
    features = json.loads(body)["features"]
    return [int(feature["id"]) for feature in features], len(body)


def statement_costs(path: str, runs: int = 15) -> dict[str, Any]:
    """PostgreSQL's own time for /ogc/'s page statement at ``path``: planning and
    execution, from EXPLAIN (ANALYZE, SUMMARY) on one warm connection (median of
    ``runs``). For small pages planning outweighs execution: what a per-request
    server cannot avoid without prepared statements, and the reason a server
    that prepares its statements (tipg, asyncpg) needs less PostgreSQL time."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from buildings.geojson import explain

    client = Client(HTTP_HOST="localhost")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, HTTP_ACCEPT="application/geo+json")
    if response.status_code != 200 or len(captured.captured_queries) != 1:
        raise SystemExit(
            f"{path}: {response.status_code}, "
            f"{len(captured.captured_queries)} statements (one expected)"
        )
    sql = captured.captured_queries[0]["sql"]
    planning, execution = [], []
    with connection.cursor() as cursor:
        for _ in range(runs + 2):  # the first two warm the connection's caches
            plan = explain(cursor, sql, options="ANALYZE, SUMMARY, TIMING OFF")
            planning.append(plan["Planning Time"])
            execution.append(plan["Execution Time"])
    return {
        "planning_ms": round(median(planning[2:]), 3),
        "execution_ms": round(median(execution[2:]), 3),
        "runs": runs,
    }


# --- CPU per request: what a figure costs the server and PostgreSQL, whatever
# else the shared box runs meanwhile (requests/s depend on that; this does not).
def _ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _process_tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue
        pending += [int(child) for child in children.split()]
    return pids


def _cpu_snapshot(server_pid: int) -> dict[tuple[str, int], int]:
    """CPU ticks of the server's processes and of every PostgreSQL backend on
    the benchmark database (this process's own connection excluded)."""
    with connect(database_url(OGC_DB), autocommit=True) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [OGC_DB],
            ).fetchall()
        ]
    return {
        **{("server", pid): _ticks(pid) for pid in _process_tree(server_pid)},
        **{("db", pid): _ticks(pid) for pid in backends},
    }


def measure(
    server: Any, path: str, limit: int, quick: bool, label: str
) -> dict[str, Any]:
    requests, seconds = (QUICK_BUDGET if quick else BUDGET)[limit]
    warmup = max(8, requests // 20)
    pid = server.process.pid
    before = _cpu_snapshot(pid)
    headers = {"Accept": "application/geo+json"}
    if wrk_available():
        # Warm-up included in the CPU window: count its requests too.
        result = wrk_load(label, server.port, [path], headers, seconds=seconds)
        after = _cpu_snapshot(pid)
        served = result.requests + result.warmup
    else:
        result = run_load(
            label,
            http_worker(server.port, path, headers),
            requests=requests,
            seconds=seconds,
            concurrency=CONCURRENCY,
            warmup=warmup,
        )
        after = _cpu_snapshot(pid)
        served = result.requests + -(-warmup // CONCURRENCY) * CONCURRENCY
    figure = asdict(result)
    for part in ("server", "db"):
        ticks = sum(
            value - before.get(key, 0) for key, value in after.items() if key[0] == part
        )
        figure[f"{part}_cpu_ms"] = ticks * 1000 / os.sysconf("SC_CLK_TCK") / served
    figure["cpu_ms_per_request"] = figure["server_cpu_ms"] + figure["db_cpu_ms"]
    log(
        f"  {label}: median {result.median_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
        f"{result.rps:.0f} req/s, CPU ms/request: server "
        f"{figure['server_cpu_ms']:.2f} + PostgreSQL {figure['db_cpu_ms']:.2f} "
        f"({result.requests} requests, {result.errors} errors)"
    )
    return figure


def make_database(rows: int, *, reuse: bool) -> None:
    """intercalaire_ogc_bench with ``rows`` synthetic buildings (bench/generate.py)."""
    from bench import generate

    url = database_url(OGC_DB)
    if reuse and database_exists(OGC_DB):
        with connect(url) as conn:
            found = conn.execute("SELECT count(*) FROM buildings_building").fetchone()
        if found[0] == rows:
            # Migrations added since it was made (the application's SQL reads
            # what they create); the peers' view, left by --keep-view, would
            # stand in the way of one that alters a column it reads.
            drop_view()
            manage(OGC_DB, "migrate", "--noinput", quiet=True)
            refresh_stored_features(url)
            return
    ensure_template()
    log(f"creating {OGC_DB} from {TEMPLATE_DB} with {rows:,} buildings")
    create_database(OGC_DB, template=TEMPLATE_DB)
    data = generate.generate(rows, generate.load_reference(url))
    generate.load(data, url)
    refresh_stored_features(url)


def refresh_stored_features(url: str) -> None:
    """Rebuild the stored Feature texts (buildings.models.BuildingFeature) when
    they do not cover every building: the generator loads with triggers off."""
    with connect(url, autocommit=True) as conn:
        if conn.execute(
            "SELECT to_regproc('buildings_feature_refresh') IS NULL"
        ).fetchone()[0]:
            return
        stale = conn.execute(
            "SELECT (SELECT count(*) FROM buildings_building) <> "
            "(SELECT count(*) FROM buildings_buildingfeature)"
        ).fetchone()[0]
        if stale:
            log("rendering the stored Feature texts (buildings_feature_refresh)")
            conn.execute("SELECT buildings_feature_refresh()")
            conn.execute("VACUUM ANALYZE buildings_buildingfeature")


def run(
    *,
    quick: bool,
    skip_install: bool,
    quiet_wait: float = 0.0,
    rows: int = 200_000,
    reuse: bool = False,
    servers: tuple[str, ...] = SERVERS,
    repeat: int = 1,
) -> dict[str, Any]:
    make_database(rows, reuse=reuse)
    setup_django(OGC_DB)
    properties = create_view()
    wanted = set(servers)

    def pygeoapi_env() -> Path:
        return venv(
            "pygeoapi",
            PYGEOAPI,
            "psycopg2-binary",
            "SQLAlchemy<2.1",
            "GeoAlchemy2",
            "pygeofilter",
            "gunicorn",
            skip=skip_install,
        )

    def tipg_env() -> Path:
        return venv("tipg", TIPG, "gunicorn", "uvicorn", skip=skip_install)

    # Installed before anything is timed (later calls only read the marker).
    if wanted & {"pygeoapi", "pygeoapi+ka"}:
        pygeoapi_env()
    if "tipg" in wanted:
        tipg_env()
    with connect(database_url(OGC_DB)) as conn:
        rows = conn.execute("SELECT count(*) FROM buildings_building").fetchone()[0]
        boxes = {limit: calibrate(conn, "anonymous", limit) for limit in TARGETS}
    # Every server reads the table with fresh statistics and visibility map (a
    # reused database included).
    with connect(database_url(OGC_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE buildings_building")
    log(f"{rows:,} buildings; boxes: {boxes}")
    statement = (
        {
            str(limit): statement_costs(paths(boxes[limit], limit)["ogc"])
            for limit in TARGETS
        }
        if "ogc" in wanted
        else {}
    )
    log(f"/ogc/ page statement in PostgreSQL: {statement}")
    url = database_url(OGC_DB)
    # (Throttles on but out of the way, with a short history: bench.common.)
    starters: dict[str, Callable[[], Any]] = {
        "ogc": lambda: Server(DATABASE_URL=url),
        "ogc+1t": lambda: Server(WEB_THREADS="1", DATABASE_URL=url),
        "pygeoapi": lambda: pygeoapi_server(
            pygeoapi_env(), properties, skip=skip_install
        ),
        "pygeoapi+ka": lambda: pygeoapi_server(
            pygeoapi_env(), properties, skip=True, keep_alive=True
        ),
        "tipg": lambda: tipg_server(tipg_env()),
    }
    results: dict[str, Any] = {
        "rows": rows,
        "boxes": {str(k): asdict(v) for k, v in boxes.items()},
        "machine": machine_facts(),
        "servers": [name for name in SERVERS if name in wanted],
        "repeat": repeat,
        "quick": quick,
        "gate": {},
        "load": {},
        "rounds": [],
        "statement": statement,
    }
    # The gate's reference: /ogc/'s own ids, else the first server's.
    expected: dict[int, list[int]] = {}
    for round_number in range(repeat):
        measured: dict[str, Any] = {}
        # One server at a time, each alone on the box while it is measured.
        for name in results["servers"]:
            if quiet_wait:
                busy = wait_quiet(max_wait=quiet_wait)
                log(f"{name}: the cores were {busy:.0%} busy before it started")
            with starters[name]() as server:
                for limit in TARGETS:
                    key = f"{name} {limit}"
                    path = paths(boxes[limit], limit)[name.split("+")[0]]
                    ids, size = feature_ids(server.port, path)
                    expected.setdefault(limit, ids)
                    ok = ids == expected[limit] and len(ids) == limit
                    results["gate"][key] = {
                        "features": len(ids),
                        "same_ids_as_ogc": ids == expected[limit],
                        "bytes": size,
                        "ok": ok,
                    }
                    if not ok:
                        log(f"  {key}: gate FAILED, not timed")
                        continue
                    measured[key] = measure(
                        server,
                        path,
                        limit,
                        quick,
                        f"{key} (round {round_number + 1}/{repeat})",
                    )
        results["rounds"].append(measured)
    for key in {key for measured in results["rounds"] for key in measured}:
        results["load"][key] = median_round(
            [m[key] for m in results["rounds"] if key in m]
        )
    results["ratios"] = ratios(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    if set(results["servers"]) == set(SERVERS):
        from bench import report

        save_result(size_label(rows), "ogc", results)
        report.write()
        log("recorded in var/bench/results.json and docs/benchmarks.md")
    else:
        log("not every server ran: var/bench/results.json is left as it was")
    return results


def _best(load: dict[str, Any], names: tuple[str, ...], limit: int) -> Any:
    """(requests/s, name) of the set-up of ``names`` fastest at ``limit``, or None."""
    figures = [
        (load[f"{name} {limit}"]["rps"], name)
        for name in names
        if f"{name} {limit}" in load
    ]
    return max(figures) if figures else None


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Our requests/s as deployed over each peer's best, by page size (issue
    #7): the median over the rounds of each round's own ratio."""
    out = []
    for limit in TARGETS:
        ours = _best(results["load"], OURS, limit)
        for peer, names in PEERS.items():
            theirs = _best(results["load"], names, limit)
            per_round = []
            for measured in results["rounds"]:
                mine, other = (
                    _best(measured, OURS, limit),
                    _best(measured, names, limit),
                )
                if mine and other and other[0]:
                    per_round.append(mine[0] / other[0])
            ratio = median(per_round) if per_round else None
            cpu = None
            if ours and theirs:
                load = results["load"]
                mine_cpu = load[f"{ours[1]} {limit}"].get("cpu_ms_per_request")
                their_cpu = load[f"{theirs[1]} {limit}"].get("cpu_ms_per_request")
                if mine_cpu and their_cpu:
                    cpu = their_cpu / mine_cpu
            out.append(
                {
                    "limit": limit,
                    "peer": peer,
                    "ours": ours[1] if ours else None,
                    "ours_rps": ours[0] if ours else None,
                    "theirs": theirs[1] if theirs else None,
                    "theirs_rps": theirs[0] if theirs else None,
                    "ratio": ratio,
                    "ratio_rounds": per_round,
                    # The peer's server + PostgreSQL CPU per request over ours:
                    # the throughput ratio on cores no one else uses.
                    "cpu_ratio": cpu,
                    "target": TARGET_RATIOS[limit],
                    "ok": None if ratio is None else ratio >= TARGET_RATIOS[limit],
                }
            )
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['rows']:,} buildings; {CONCURRENCY} concurrent keep-alive "
        f"clients (wrk when installed), {WORKERS} workers per server; "
        f"{results.get('repeat', 1)} round(s).",
        "",
        "| page | server | same ids | median ms | p95 ms | req/s | CPU ms/request "
        "| KB | connections | other load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for limit in TARGETS:
        for name in results.get("servers", SERVERS):
            key = f"{name} {limit}"
            gate = results["gate"].get(key, {})
            load = results["load"].get(key)
            if load is None:
                lines.append(
                    f"| {limit} | {name} | {gate.get('ok')} | – | – | – | – | – | – "
                    "| – |"
                )
                continue
            connects = connects_cell(load)
            lines.append(
                f"| {limit} | {name} | {gate['same_ids_as_ogc']} | "
                f"{load['median_ms']:.1f} | {load['p95_ms']:.1f} | {load['rps']:.0f} | "
                f"{load.get('cpu_ms_per_request', float('nan')):.2f} | "
                f"{load['bytes'] / 1024:.0f} | "
                f"{'–' if connects is None else connects} | "
                f"{load['background_cpu']:.0%} |"
            )
    lines.append("")
    for entry in results.get("ratios", []):
        ratio = entry["ratio"]
        if entry["theirs"] is None:
            continue
        lines.append(
            f"- {entry['limit']} features: {entry['ours']} / {entry['theirs']} = "
            + ("–" if ratio is None else f"{ratio:.1f}×")
            + f" (target ≥ {entry['target']:.0f}×)"
            + (
                f"; CPU per request: theirs {entry['cpu_ratio']:.1f}× ours"
                if entry.get("cpu_ratio")
                else ""
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ogc", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument(
        "--skip-install", action="store_true", help="reuse var/ogc-bench as it is"
    )
    parser.add_argument(
        "--keep-view", action="store_true", help=f"leave {VIEW} in the database"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        help="seconds to wait, before each server, for other processes to leave "
        "the cores (the box is shared; the busy share is recorded with each figure)",
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--reuse", action="store_true", help=f"keep {OGC_DB} if it has --rows rows"
    )
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated subset of: " + ", ".join(SERVERS) + " (a subset is "
        "not recorded in var/bench/results.json)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of every server (median kept)"
    )
    arguments = parser.parse_args()
    servers = tuple(name.strip() for name in arguments.servers.split(",") if name)
    unknown = set(servers) - set(SERVERS)
    if unknown or not servers:
        parser.error(f"unknown servers: {', '.join(sorted(unknown)) or '(none)'}")
    try:
        results = run(
            quick=arguments.quick,
            skip_install=arguments.skip_install,
            quiet_wait=arguments.wait_quiet,
            rows=arguments.rows,
            reuse=arguments.reuse,
            servers=servers,
            repeat=max(1, arguments.repeat),
        )
    finally:
        if not arguments.keep_view:
            drop_view()
    print(table(results))


if __name__ == "__main__":
    main()
