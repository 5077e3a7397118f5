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
- Servers: gunicorn with 2 workers each (as bench/http.py): sync workers for
  Django and pygeoapi, uvicorn workers for tipg; TCP_NODELAY on every socket.
  Sync workers close the connection after each response while tipg keeps it
  alive, so Django and pygeoapi also run on gthread workers (one thread each,
  keep-alive 5 s): the "+ka" rows. Throttles are raised out of the way for
  Django (bench.common.django_env).
- Queries: a bbox page of 30 and of 1,000 features around Paris (boxes
  calibrated on the data by bench.http.calibrate), ordered by id on every server
  (``sortby=id`` for the peers, the keyset order for /ogc/).
- Gate: before timing, the three servers must return the same feature ids in the
  same order (and as many as asked); a server failing it is reported, not timed.
- Metrics: 4 concurrent client threads asking for keep-alive, warm-up discarded,
  then a bounded number of requests: median, p95, requests/s, connections opened
  (sync workers close after each response), body size.

Results: var/bench/ogc.json, and a Markdown table on standard output.
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
    setup_django,
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
    request_once,
    run_load,
)

PEERS_DIR = ROOT / "var" / "ogc-bench"
OGC_DB = "intercalaire_ogc_bench"
RESULTS = VAR / "ogc.json"
SCHEMA = "ogc_bench"
VIEW = f"{SCHEMA}.buildings"
PYGEOAPI = "pygeoapi==0.21.0"
TIPG = "tipg==1.6.1"
TARGETS = (30, 1000)
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


def keep_alive_config() -> Path:
    """gunicorn settings for bench.http.Server (its command line fixes the rest)."""
    path = PEERS_DIR / "gunicorn_keepalive.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('worker_class = "gthread"\nkeepalive = 5\n', encoding="utf-8")
    return path


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


def measure(
    port: int, path: str, limit: int, quick: bool, label: str
) -> dict[str, Any]:
    requests, seconds = (QUICK_BUDGET if quick else BUDGET)[limit]
    result = run_load(
        label,
        http_worker(port, path, {"Accept": "application/geo+json"}),
        requests=requests,
        seconds=seconds,
        concurrency=CONCURRENCY,
        warmup=max(8, requests // 20),
    )
    log(
        f"  {label}: median {result.median_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, "
        f"{result.rps:.0f} req/s ({result.requests} requests, {result.errors} errors)"
    )
    return asdict(result)


def make_database(rows: int, *, reuse: bool) -> None:
    """intercalaire_ogc_bench with ``rows`` synthetic buildings (bench/generate.py)."""
    from bench import generate

    if reuse and database_exists(OGC_DB):
        with connect(database_url(OGC_DB)) as conn:
            found = conn.execute("SELECT count(*) FROM buildings_building").fetchone()
        if found[0] == rows:
            return
    ensure_template()
    log(f"creating {OGC_DB} from {TEMPLATE_DB} with {rows:,} buildings")
    create_database(OGC_DB, template=TEMPLATE_DB)
    url = database_url(OGC_DB)
    data = generate.generate(rows, generate.load_reference(url))
    generate.load(data, url)


def run(
    *,
    quick: bool,
    skip_install: bool,
    quiet_wait: float = 0.0,
    rows: int = 200_000,
    reuse: bool = False,
) -> dict[str, Any]:
    make_database(rows, reuse=reuse)
    setup_django(OGC_DB)
    properties = create_view()
    pygeoapi_env = venv(
        "pygeoapi",
        PYGEOAPI,
        "psycopg2-binary",
        "SQLAlchemy<2.1",
        "GeoAlchemy2",
        "pygeofilter",
        "gunicorn",
        skip=skip_install,
    )
    tipg_env = venv("tipg", TIPG, "gunicorn", "uvicorn", skip=skip_install)
    with connect(database_url(OGC_DB)) as conn:
        rows = conn.execute("SELECT count(*) FROM buildings_building").fetchone()[0]
        boxes = {limit: calibrate(conn, "anonymous", limit) for limit in TARGETS}
    log(f"{rows:,} buildings; boxes: {boxes}")
    servers: dict[str, Callable[[], Any]] = {
        "ogc": lambda: Server(DATABASE_URL=database_url(OGC_DB)),
        "ogc+ka": lambda: Server(
            config=keep_alive_config(), DATABASE_URL=database_url(OGC_DB)
        ),
        "pygeoapi": lambda: pygeoapi_server(
            pygeoapi_env, properties, skip=skip_install
        ),
        "pygeoapi+ka": lambda: pygeoapi_server(
            pygeoapi_env, properties, skip=True, keep_alive=True
        ),
        "tipg": lambda: tipg_server(tipg_env),
    }
    results: dict[str, Any] = {
        "rows": rows,
        "boxes": {str(k): asdict(v) for k, v in boxes.items()},
        "machine": machine_facts(),
        "gate": {},
        "load": {},
    }
    # One server at a time, each alone on the box while it is measured.
    expected: dict[int, list[int]] = {}
    for name, start in servers.items():
        if quiet_wait:
            busy = wait_quiet(max_wait=quiet_wait)
            log(f"{name}: the cores were {busy:.0%} busy before it started")
        with start() as server:
            for limit in TARGETS:
                path = paths(boxes[limit], limit)[name.removesuffix("+ka")]
                ids, size = feature_ids(server.port, path)
                expected.setdefault(limit, ids)
                ok = ids == expected[limit] and len(ids) == limit
                results["gate"][f"{name} {limit}"] = {
                    "features": len(ids),
                    "same_ids_as_ogc": ids == expected[limit],
                    "bytes": size,
                    "ok": ok,
                }
                if not ok:
                    log(f"  {name} {limit}: gate FAILED, not timed")
                    continue
                results["load"][f"{name} {limit}"] = measure(
                    server.port, path, limit, quick, f"{name} {limit}"
                )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['rows']:,} buildings; {CONCURRENCY} client threads, keep-alive "
        f"asked, gunicorn {WORKERS} workers per server.",
        "",
        "| page | server | same ids | median ms | p95 ms | req/s | KB | connections |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for limit in TARGETS:
        for name in ("ogc", "ogc+ka", "pygeoapi", "pygeoapi+ka", "tipg"):
            key = f"{name} {limit}"
            gate = results["gate"].get(key, {})
            load = results["load"].get(key)
            if load is None:
                lines.append(
                    f"| {limit} | {name} | {gate.get('ok')} | – | – | – | – | – |"
                )
                continue
            lines.append(
                f"| {limit} | {name} | {gate['same_ids_as_ogc']} | "
                f"{load['median_ms']:.1f} | {load['p95_ms']:.1f} | {load['rps']:.0f} | "
                f"{load['bytes'] / 1024:.0f} | {load['connects']} |"
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
    arguments = parser.parse_args()
    try:
        results = run(
            quick=arguments.quick,
            skip_install=arguments.skip_install,
            quiet_wait=arguments.wait_quiet,
            rows=arguments.rows,
            reuse=arguments.reuse,
        )
    finally:
        if not arguments.keep_view:
            drop_view()
    print(table(results))


if __name__ == "__main__":
    main()
