"""HTTP latency of GET /api/v1/buildings/ against the physical limit and a stock build.

For bbox pages of about 30, 1,000 and 5,000 features (boxes calibrated on the data
around Paris, Lyon or Marseille), as an anonymous caller and as a national State
agent, three ways of producing the same FeatureCollection are measured from the
same client threads:

- ``api``: the application under the deployed server (``python -m config.server``:
  granian, 2 workers of 2 threads, keep-alive), DEBUG off, throttles raised out of
  the way;
- ``raw``: the physical limit, ``string_agg(ST_AsGeoJSON(t.*, 'geom', 6), ',')``
  over the same filter, columns, order and limit, through psycopg (one persistent
  connection per client thread, no prepared statements, parallel plans off as in
  the API's own transaction);
- ``drf-gis``: a stock ``GeoFeatureModelSerializer`` list over the same queryset
  (bench/drfgis_urls.py), under the same server.

Each scenario: warm-up requests (discarded), then a fixed number of requests bounded
in time, from 4 concurrent client threads (keep-alive asked for, TCP_NODELAY set
on every client socket); and a sequential run (1 thread) for the latency ratio.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    BENCH_DB,
    PYTHON,
    ROOT,
    VAR,
    connect,
    database_url,
    django_env,
    log,
    manage,
    median,
    nagle_suspect,
    percentile,
    wait_quiet,
)

CONCURRENCY = 4
WORKERS = 2
CITIES = {
    "Paris": (2.3488, 48.8534),
    "Lyon": (4.8357, 45.7640),
    "Marseille": (5.3698, 43.2965),
}
# Target feature count → cities to try, in order.
TARGETS = {
    30: ("Paris",),
    1000: ("Paris", "Lyon"),
    5000: ("Lyon", "Paris", "Marseille"),
}
PUBLIC_STATUSES = ("vacant", "assessed", "available")
# Requests per scenario (measured, after warm-up) and the time bound, by page size.
BUDGET = {30: (600, 10.0), 1000: (250, 12.0), 5000: (60, 15.0)}
QUICK_BUDGET = {30: (200, 4.0), 1000: (80, 5.0), 5000: (24, 6.0)}
SEQUENTIAL = {30: 100, 1000: 40, 5000: 15}
# wrk rounds of the 1,000-feature pages' throughput (the median is kept).
WRK_ROUNDS = 5
# (requests, seconds, concurrency): stock drf-gis needs seconds per 5,000 features,
# so that page is measured sequentially, on a few requests.
DRF_GIS_BUDGET = {30: (200, 8.0, 4), 1000: (24, 10.0, 4), 5000: (3, 10.0, 1)}
TARGET_RATIO = 1.3
TARGET_RPS_1000 = 170.0
# Seconds to wait for other users of the box to leave the cores, before each run.
QUIET_WAIT = 2.0


# --- Scenarios
@dataclass
class Box:
    city: str
    bbox: tuple[float, float, float, float]
    matched: int


@dataclass
class Scenario:
    persona: str  # "anonymous" | "agent"
    target: int
    geometry: str
    box: Box

    @property
    def name(self) -> str:
        return f"{self.persona} {self.target} {self.geometry}"

    def query(self, limit: int | None = None) -> dict[str, Any]:
        return {
            "bbox": ",".join(f"{v:.6f}" for v in self.box.bbox),
            "limit": limit or self.target,
            "geometry": self.geometry,
        }


def _count(conn: Any, persona: str, bbox: tuple[float, float, float, float]) -> int:
    visible = (
        "AND status = ANY(%s) AND NOT is_confidential"
        if persona == "anonymous"
        else "AND %s::text[] IS NOT NULL"
    )
    return int(
        conn.execute(
            "SELECT count(*) FROM buildings_building WHERE point && "
            "ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
            "AND ST_Intersects(point, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) "
            + visible,
            [*bbox, *bbox, list(PUBLIC_STATUSES)],
        ).fetchone()[0]
    )


def _box(lon: float, lat: float, half: float) -> tuple[float, float, float, float]:
    # Roughly square on the ground: a degree of longitude is shorter than one
    # of latitude.
    import math

    half_lat = half * math.cos(math.radians(lat))
    return (
        round(lon - half, 6),
        round(lat - half_lat, 6),
        round(lon + half, 6),
        round(lat + half_lat, 6),
    )


def calibrate(conn: Any, persona: str, target: int) -> Box:
    """The smallest square box around a city with ``target`` visible features."""
    best: Box | None = None
    for city in TARGETS[target]:
        lon, lat = CITIES[city]
        low, high = 0.0005, 1.0 if city != "Paris" else 6.0
        if _count(conn, persona, _box(lon, lat, high)) < target:
            continue
        for _ in range(22):
            mid = (low + high) / 2
            if _count(conn, persona, _box(lon, lat, mid)) >= target:
                high = mid
            else:
                low = mid
        bbox = _box(lon, lat, high)
        best = Box(city=city, bbox=bbox, matched=_count(conn, persona, bbox))
        break
    if best is None:
        raise SystemExit(
            f"no box around {TARGETS[target]} holds {target} features for {persona}"
        )
    return best


# --- Raw SQL (the physical limit)
def raw_sql(persona: str, geometry: str) -> str:
    """The FeatureCollection in one statement: same filter, columns, order, limit."""
    from buildings.geojson import AGENT_PROPERTIES, PUBLIC_PROPERTIES
    from buildings.models import Building

    properties = PUBLIC_PROPERTIES if persona == "anonymous" else AGENT_PROPERTIES
    columns = []
    for name in properties:
        column = Building._meta.get_field(name).column  # type: ignore[union-attr]
        columns.append(f"b.{column}" if column == name else f"b.{column} AS {name}")
    geom = "ST_ForcePolygonCCW(b.footprint)" if geometry == "footprint" else "b.point"
    visible = (
        " AND b.status = ANY(%(statuses)s) AND NOT b.is_confidential"
        if persona == "anonymous"
        else ""
    )
    return (
        'SELECT \'{"type":"FeatureCollection","features":[\' || '
        "coalesce(string_agg(ST_AsGeoJSON(t.*, 'geom', 6), ','), '') || ']}' FROM ("
        f"SELECT b.id, {', '.join(columns)}, {geom} AS geom FROM buildings_building b "
        # The API's predicate: ST_Intersects alone (it brings its && index test).
        "WHERE ST_Intersects(b.point, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, "
        "%(y1)s, 4326))"
        f"{visible} ORDER BY b.id LIMIT %(limit)s) AS t"
    )


def raw_params(scenario: Scenario) -> dict[str, Any]:
    x0, y0, x1, y1 = scenario.box.bbox
    return {
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "limit": scenario.target,
        "statuses": list(PUBLIC_STATUSES),
    }


def raw_connection() -> Any:
    """The raw-SQL baseline's connection, with the session settings of the web
    role's (the ``options`` config/settings.py gives Django's connections: JIT
    off, serial plans). Without them the baseline ran with PostgreSQL's default
    ``jit = on``, which the API never does: JIT compilation then slowed the
    baseline's costlier statements (and ``EXPLAIN`` of the 1M estimate, 1.5 ms
    against 0.2), flattering the API's ratios to it."""
    from django.conf import settings

    options = settings.DATABASES["default"].get("OPTIONS", {}).get("options", "")
    conn = connect(
        database_url(BENCH_DB),
        autocommit=True,
        prepare_threshold=None,
        options=str(options),
    )
    # As the API's own transaction does (buildings.geojson.serial_plans_only).
    conn.execute("SET max_parallel_workers_per_gather = 0")
    return conn


# --- The deployed server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The deployed server (``python -m config.server``: granian, config/server.py) on
    127.0.0.1:<random port>, started and stopped by us (its pid only)."""

    def __init__(self, *, settings_module: str = "config.settings", **env: str):
        self.port = free_port()
        self.settings_module = settings_module
        self.extra_env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = VAR / f"server-{self.port}.log"

    def __enter__(self) -> Server:
        env = django_env(
            BENCH_DB, DJANGO_SETTINGS_MODULE=self.settings_module, **self.extra_env
        )
        args = [
            PYTHON,
            "-m",
            "config.server",
            "--port",
            str(self.port),
            "--workers",
            str(WORKERS),
        ]
        VAR.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: see {self.log_path}")
            try:
                status, _body, _h = request_once(self.port, "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__(SystemExit, None, None)  # stop it, keep its log
        raise SystemExit(
            f"the server did not answer on port {self.port}: see {self.log_path}"
        )

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not exc or exc[0] is None:
            self.log_path.unlink(missing_ok=True)  # kept only when something failed

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []


def request_once(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    conn = NoDelayConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


class NoDelayConnection(http.client.HTTPConnection):
    """Keep-alive when the server allows it; TCP_NODELAY on every socket it opens."""

    connects = 0

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1


# --- Load generation
@dataclass
class Measure:
    label: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    median_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    rps: float = 0.0
    bytes: int = 0
    connects: int = 0
    warmup: int = 0
    background_cpu: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    # Python client threads (run_load) or wrk (wrk_load).
    generator: str = "python"
    # wrk: the server's connections per process, largest first, seen during the run.
    worker_split: list[int] | None = None


def run_load(
    label: str,
    make_worker: Callable[[], tuple[Callable[[], tuple[int, int]], Callable[[], int]]],
    *,
    requests: int,
    seconds: float,
    concurrency: int,
    warmup: int,
) -> Measure:
    """``concurrency`` threads issue ``requests`` calls in all (or stop at ``seconds``).

    ``make_worker`` gives each thread its call (returning status and body size) and
    a function telling how many connections it opened.
    """
    measure = Measure(label=label, concurrency=concurrency, warmup=warmup)
    measure.background_cpu = wait_quiet(max_wait=QUIET_WAIT)
    workers = [make_worker() for _ in range(concurrency)]
    # Warm-up: every thread, so that every connection and worker is warm; discarded.
    per_thread = max(1, -(-warmup // concurrency))
    for call, _connects in workers:
        for _ in range(per_thread):
            call()
    start_connects = sum(connects() for _call, connects in workers)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()
    counter = itertools.count()
    barrier = threading.Barrier(concurrency + 1)
    deadline_box: list[float] = [0.0]

    def loop(call: Callable[[], tuple[int, int]]) -> None:
        barrier.wait()
        local: list[tuple[float, int, int]] = []
        while True:
            index = next(counter)
            if index >= requests or time.perf_counter() > deadline_box[0]:
                break
            t0 = time.perf_counter()
            try:
                status, size = call()
            except OSError:
                status, size = 599, 0
            local.append((time.perf_counter() - t0, status, size))
        with lock:
            for latency, status, size in local:
                latencies.append(latency)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                sizes.append(size)

    threads = [threading.Thread(target=loop, args=(call,)) for call, _c in workers]
    for thread in threads:
        thread.start()
    deadline_box[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    measure.connects = sum(connects() for _call, connects in workers) - start_connects
    ok = latencies
    measure.requests = len(latencies)
    measure.errors = sum(count for status, count in statuses.items() if status != "200")
    measure.seconds = elapsed
    measure.median_ms = median(ok) * 1000
    measure.p95_ms = percentile(ok, 0.95) * 1000
    measure.p99_ms = percentile(ok, 0.99) * 1000
    measure.rps = len(latencies) / elapsed if elapsed else 0.0
    measure.bytes = int(median(sizes)) if sizes else 0
    measure.statuses = statuses
    return measure


# wrk's Lua: each connection cycles the paths from its own offset (wrk.thread
# holds one thread; connections share it, so a counter spreads them).
WRK_SCRIPT = """
local paths = {%(paths)s}
local headers = {%(headers)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, "
    .. "\\"non2xx\\": %%d, \\"errors\\": %%d, \\"p50\\": %%f, \\"p95\\": %%f, "
    .. "\\"p99\\": %%f, \\"bytes\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.bytes))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def worker_split(port: int) -> list[int] | None:
    """How the server's processes share the client connections on ``port`` now
    (largest first), from ``ss``; None where ``ss`` is missing.

    A pre-forked server (granian, gunicorn, uvicorn workers) keeps each keep-alive
    connection in the process that accepted it, and the first process awake
    often accepts them all: with 4 connections on 2 workers, a 4+0 split runs
    every request through one process and halves the throughput of small
    responses. The split explains a round that differs from the others.
    """
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"sport = :{port}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    owners = Counter(match.group(1) for match in re.finditer(r"pid=(\d+)", out))
    return sorted(owners.values(), reverse=True)


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round of median requests/s (a Measure as a dict), with every round's
    requests/s and connection split in the order the rounds ran."""
    middle = sorted(rounds, key=lambda figure: figure["rps"])[(len(rounds) - 1) // 2]
    return {
        **middle,
        "rps_rounds": [figure["rps"] for figure in rounds],
        "split_rounds": [figure.get("worker_split") for figure in rounds],
    }


def wrk_load(
    label: str,
    port: int,
    paths: list[str],
    headers: dict[str, str],
    *,
    seconds: float,
    concurrency: int = CONCURRENCY,
    warmup_seconds: float = 2.0,
) -> Measure:
    """Closed-loop throughput under wrk (C, one thread, ``concurrency`` keep-alive
    connections), the load generator of performance.md §6.4: at hundreds of
    requests per second, Python client threads take a core of their own and cap
    every server at the same rate. The paths are cycled."""
    script = VAR / "wrk.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        WRK_SCRIPT
        % {
            "paths": ", ".join(json.dumps(path) for path in paths),
            "headers": ", ".join(
                f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
            ),
        },
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}/"
    base = ["wrk", "-t1", f"-c{concurrency}", "-s", str(script), url]
    measure = Measure(label=label, concurrency=concurrency)
    measure.background_cpu = wait_quiet(max_wait=QUIET_WAIT)

    def run(duration: float) -> dict[str, Any]:
        with subprocess.Popen(
            [*base[:3], f"-d{duration:g}s", *base[3:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            time.sleep(min(1.0, duration / 3))
            measure.worker_split = worker_split(port)
            out, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"wrk failed ({process.returncode}): {err.strip()}")
        line = next(line for line in out.splitlines() if line.startswith("JSON "))
        return dict(json.loads(line[5:]))

    measure.warmup = run(warmup_seconds)["requests"]
    data = run(seconds)
    measure.requests = data["requests"]
    measure.errors = data["non2xx"] + data["errors"]
    measure.seconds = data["seconds"]
    measure.median_ms = data["p50"]
    measure.p95_ms = data["p95"]
    measure.p99_ms = data["p99"]
    measure.rps = data["requests"] / data["seconds"] if data["seconds"] else 0.0
    measure.bytes = data["bytes"] // max(1, data["requests"])
    measure.statuses = {"non-2xx": data["non2xx"], "socket errors": data["errors"]}
    measure.generator = "wrk"
    return measure


def http_worker(
    port: int, path: str, headers: dict[str, str]
) -> Callable[[], tuple[Callable[[], tuple[int, int]], Callable[[], int]]]:
    def make() -> tuple[Callable[[], tuple[int, int]], Callable[[], int]]:
        conn = NoDelayConnection("127.0.0.1", port, timeout=120)

        def call() -> tuple[int, int]:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            return response.status, len(body)

        return call, lambda: conn.connects

    return make


def sql_worker(
    sql: str, params: dict[str, Any]
) -> Callable[[], tuple[Callable[[], tuple[int, int]], Callable[[], int]]]:
    def make() -> tuple[Callable[[], tuple[int, int]], Callable[[], int]]:
        conn = raw_connection()

        def call() -> tuple[int, int]:
            text = conn.execute(sql, params).fetchone()[0]
            return 200, len(text.encode())

        return call, lambda: 1

    return make


# --- Correctness gate
def _features(body: bytes) -> list[dict[str, Any]]:
    return list(json.loads(body)["features"])


def _first_coordinate(feature: dict[str, Any]) -> list[float]:
    coordinates: Any = feature["geometry"]["coordinates"]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return list(coordinates)


def gate(api_body: bytes, raw_text: str, scenario: Scenario) -> dict[str, Any]:
    api = _features(api_body)
    raw = _features(raw_text.encode())
    api_ids = [f["id"] for f in api]
    raw_ids = [f["properties"]["id"] for f in raw]
    result: dict[str, Any] = {
        "api_features": len(api),
        "raw_features": len(raw),
        "same_ids": api_ids == raw_ids,
        "same_properties": bool(api)
        and bool(raw)
        and set(api[0]["properties"]) == set(raw[0]["properties"]) - {"id"},
    }
    if api and raw:
        a, r = _first_coordinate(api[0]), _first_coordinate(raw[0])
        result["coordinates_agree"] = all(
            abs(x - y) <= 1e-6 for x, y in zip(a, r, strict=False)
        )
    meta = json.loads(api_body)
    result["numberMatched"] = meta.get("numberMatched")
    result["numberMatchedIsEstimate"] = meta.get("numberMatchedIsEstimate")
    result["ok"] = (
        bool(
            result["same_ids"]
            and result["same_properties"]
            and result.get("coordinates_agree", True)
        )
        and len(api) == scenario.target
    )
    return result


# --- Traps
# A page of about 600 KB (the first 1,000 public buildings): written in several
# segments, where Nagle's algorithm could hold the last one back.
LARGE_PAGE = "/api/v1/buildings/?limit=1000"


def nodelay_probe() -> dict[str, Any]:
    """Keep-alive, and whether a 40 ms Nagle / delayed-ACK stall shows on one
    connection, for a small and a large response.

    granian sets no TCP_NODELAY on the sockets it accepts (there is no setsockopt
    in its accept path: strace, session 7); it writes a response whose body is
    complete in one vectored write, and Linux sends the tail segment of a write
    at once after full-sized ones. The stall is measured here rather than assumed
    away, and every measurement of the run is checked for it too (``nagle``).
    """
    timings: dict[str, list[float]] = {"/healthz": [], LARGE_PAGE: []}
    headers_seen = []
    with Server() as server:
        conn = NoDelayConnection("127.0.0.1", server.port, timeout=30)
        for path, seen in timings.items():
            for _ in range(9):
                start = time.perf_counter()
                conn.request("GET", path, headers={"Connection": "keep-alive"})
                response = conn.getresponse()
                body = response.read()
                seen.append((time.perf_counter() - start) * 1000)
                headers_seen.append(response.getheader("Connection"))
            del seen[0]  # the connection's first request warms its worker
        connects = conn.connects
        conn.close()
    return {
        "server": "granian (config/server.py)",
        "keep_alive_ms": {
            path: {"median": median(seen), "max": max(seen)}
            for path, seen in timings.items()
        },
        "large_bytes": len(body),
        "connection_header": sorted({h or "" for h in headers_seen}),
        "connects_for_18_requests": connects,
    }


def capture_api_sql(scenario: Scenario, agent: Any) -> dict[str, Any]:
    """The SQL the list view runs (in-process), the web role's parallel setting,
    and the plan the feature statement gets with and without the view's guard."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory, force_authenticate

    from buildings.api.views import BuildingViewSet

    factory = APIRequestFactory(HTTP_HOST="127.0.0.1")
    view = BuildingViewSet.as_view({"get": "list"})
    request = factory.get("/api/v1/buildings/", scenario.query())
    if scenario.persona == "agent":
        force_authenticate(request, user=agent)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        session_setting = cursor.fetchone()[0]
        cursor.execute("SHOW jit")
        jit_setting = cursor.fetchone()[0]
    with CaptureQueriesContext(connection) as captured:
        response = view(request)
    queries = [q["sql"] for q in captured.captured_queries]
    guard = any("max_parallel_workers_per_gather = 0" in q for q in queries)
    feature_sql = next((q for q in queries if "string_agg" in q), None)
    plans: dict[str, Any] = {}
    timings: dict[str, float] = {}
    if feature_sql is not None:
        with connect(
            database_url(BENCH_DB), autocommit=True, prepare_threshold=None
        ) as conn:
            for workers in (session_setting, "0"):
                conn.execute(f"SET max_parallel_workers_per_gather = {int(workers)}")
                plan = conn.execute("EXPLAIN " + feature_sql).fetchall()
                text = "\n".join(row[0] for row in plan)
                plans[f"workers={workers}"] = (
                    "parallel" if "Gather" in text else "serial"
                )
            conn.execute("SET max_parallel_workers_per_gather = 0")
            for jit, key in ((jit_setting, "api_statement_ms"), ("off", "jit_off_ms")):
                conn.execute(f"SET jit = {'on' if jit == 'on' else 'off'}")
                samples = []
                for _ in range(3):
                    conn.execute(feature_sql).fetchone()
                for _ in range(7):
                    t0 = time.perf_counter()
                    conn.execute(feature_sql).fetchone()
                    samples.append(time.perf_counter() - t0)
                timings[key] = median(samples) * 1000
    return {
        "status": response.status_code,
        "queries": len(queries),
        "session_max_parallel_workers_per_gather": session_setting,
        "session_jit": jit_setting,
        "view_sets_serial_plans": guard,
        "plans": plans,
        **timings,
    }


def ensure_agent() -> tuple[Any, str]:
    """A national State agent (a State service with no territory) and an API token."""
    from django.contrib.auth.models import User

    from organizations.models import (
        LegalForm,
        Membership,
        Organization,
        OrganizationKind,
        Role,
    )
    from organizations.services import token_issue

    organization, _ = Organization.objects.get_or_create(
        name="Direction de l'immobilier de l'État (bench)",
        defaults={
            "kind": OrganizationKind.STATE_SERVICE,
            "legal_form": LegalForm.STATE,
            "territory_departments": [],
        },
    )
    user, created = User.objects.get_or_create(
        username="bench-agent", defaults={"email": "bench@example.gouv.fr"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": Role.VIEWER}
    )
    _instance, token = token_issue(user=user)
    return user, token


# --- The whole run
def run(*, quick: bool = False, skip_drf_gis: bool = False) -> dict[str, Any]:
    from buildings.geojson import properties_for  # noqa: F401 - fails early if absent

    # The dataset may predate the latest migrations (indexes among them).
    manage(BENCH_DB, "migrate", "--noinput", quiet=True)
    agent, token = ensure_agent()
    auth = {"anonymous": {}, "agent": {"Authorization": f"Token {token}"}}
    budget = QUICK_BUDGET if quick else BUDGET

    with connect(database_url(BENCH_DB)) as conn:
        rows = conn.execute("SELECT count(*) FROM buildings_building").fetchone()[0]
        scenarios: list[Scenario] = []
        for persona in ("anonymous", "agent"):
            for target in (30, 1000, 5000):
                box = calibrate(conn, persona, target)
                scenarios.append(Scenario(persona, target, "footprint", box))
                log(
                    f"calibrated {persona} {target}: {box.city} bbox {box.bbox} → "
                    f"{box.matched} matched"
                )
        # Points (the API's default geometry) at 1,000 features, for comparison.
        for persona in ("anonymous", "agent"):
            box = next(
                s.box for s in scenarios if s.persona == persona and s.target == 1000
            )
            scenarios.append(Scenario(persona, 1000, "point", box))

    log("probing TCP_NODELAY and keep-alive on a separate server run")
    nodelay = nodelay_probe()
    log(f"  {nodelay}")
    traps = {"nodelay": nodelay}
    traps["web_role"] = capture_api_sql(
        next(s for s in scenarios if s.target == 1000), agent
    )
    log(f"  web role: {traps['web_role']}")

    results: list[dict[str, Any]] = []
    api_ids: dict[str, list[int]] = {}
    with Server() as server:
        log(f"server (app) on port {server.port}, workers {server.worker_pids()}")
        for scenario in scenarios:
            path = "/api/v1/buildings/?" + urlencode(scenario.query())
            headers = auth[scenario.persona]
            sql = raw_sql(scenario.persona, scenario.geometry)
            params = raw_params(scenario)
            status, api_body, _h = request_once(server.port, path, headers)
            if status != 200:
                raise SystemExit(f"{scenario.name}: HTTP {status}: {api_body[:500]!r}")
            with raw_connection() as conn:
                raw_text = conn.execute(sql, params).fetchone()[0]
            check = gate(api_body, raw_text, scenario)
            api_ids[scenario.name] = [f["id"] for f in _features(api_body)]
            requests, seconds = budget[scenario.target]
            warmup = max(8, requests // 10)
            entry: dict[str, Any] = {
                "scenario": scenario.name,
                "persona": scenario.persona,
                "target": scenario.target,
                "geometry": scenario.geometry,
                "box": asdict(scenario.box),
                "gate": check,
                "body_kb": round(len(api_body) / 1024, 1),
                "raw_kb": round(len(raw_text.encode()) / 1024, 1),
            }
            log(f"{scenario.name}: gate {check}")
            for label, worker in (
                ("api", http_worker(server.port, path, headers)),
                ("raw", sql_worker(sql, params)),
            ):
                for concurrency, (n, limit_s) in (
                    (CONCURRENCY, (requests, seconds)),
                    (1, (SEQUENTIAL[scenario.target] // (2 if quick else 1), seconds)),
                ):
                    measure = run_load(
                        f"{label} c={concurrency}",
                        worker,
                        requests=n,
                        seconds=limit_s,
                        concurrency=concurrency,
                        warmup=warmup if concurrency > 1 else 4,
                    )
                    entry[f"{label}_c{concurrency}"] = asdict(measure)
                    log(
                        f"  {label:4} c={concurrency}: {measure.requests} req, p50 "
                        f"{measure.median_ms:.1f} ms, "
                        f"p95 {measure.p95_ms:.1f} ms, {measure.rps:.0f} req/s, "
                        f"{measure.connects} connects, background CPU "
                        f"{measure.background_cpu:.0%}"
                    )
            if scenario.target == 1000 and wrk_available():
                # The throughput target's figure, from the protocol's load generator
                # (Python client threads take CPU of their own at these sizes), in
                # rounds: each opens new connections, which the kernel spreads
                # over the workers anew (4+0 to 2+2), and the median round is kept.
                rounds = []
                for _ in range(1 if quick else WRK_ROUNDS):
                    measure = wrk_load(
                        "api wrk c=4", server.port, [path], headers, seconds=seconds
                    )
                    rounds.append(asdict(measure))
                    log(
                        f"  api  wrk c=4: {measure.requests} req, p50 "
                        f"{measure.median_ms:.1f} ms, {measure.rps:.0f} req/s, "
                        f"split {measure.worker_split}"
                    )
                entry["api_wrk"] = median_round(rounds)
            entry["ratio_c1"] = (
                entry["api_c1"]["median_ms"] / entry["raw_c1"]["median_ms"]
            )
            entry["ratio_c4"] = (
                entry["api_c4"]["median_ms"] / entry["raw_c4"]["median_ms"]
            )
            entry["nagle_suspect"] = nagle_suspect(entry)
            captured = capture_api_sql(scenario, agent)
            entry["api_sql_ms"] = captured.get("api_statement_ms")
            entry["api_sql_jit_off_ms"] = captured.get("jit_off_ms")
            entry["api_sql_plans"] = captured.get("plans")
            results.append(entry)

    if not skip_drf_gis:
        with Server(settings_module="bench.drfgis_settings") as server:
            log(f"server (stock drf-gis reference) on port {server.port}")
            for entry, scenario in zip(results, scenarios, strict=True):
                if scenario.geometry != "footprint":
                    continue
                path = "/drfgis/buildings/?" + urlencode(scenario.query())
                headers = auth[scenario.persona]
                status, body, _h = request_once(server.port, path, headers)
                if status != 200:
                    log(f"  drf-gis {scenario.name}: HTTP {status}")
                    continue
                drf = _features(body)
                entry["gate"]["drf_gis_same_ids"] = [f["id"] for f in drf] == api_ids[
                    scenario.name
                ]
                entry["drf_gis_features"] = len(drf)
                entry["drf_gis_kb"] = round(len(body) / 1024, 1)
                n, limit_s, concurrency = DRF_GIS_BUDGET[scenario.target]
                if quick:
                    n = max(2, n // 3)
                measure = run_load(
                    f"drf-gis c={concurrency}",
                    http_worker(server.port, path, headers),
                    requests=n,
                    seconds=limit_s,
                    concurrency=concurrency,
                    warmup=concurrency,
                )
                entry["drf_gis"] = asdict(measure)
                raw = entry[f"raw_c{concurrency}"]["median_ms"]
                entry["drf_gis_over_raw"] = measure.median_ms / raw
                log(
                    f"  drf-gis {scenario.name}: p50 {measure.median_ms:.1f} ms, "
                    f"{measure.rps:.1f} req/s "
                    f"({len(drf)} features)"
                )

    return {
        "rows": rows,
        "concurrency": CONCURRENCY,
        "server": f"{WORKERS} workers, python -m config.server (granian, keep-alive)",
        "quick": quick,
        "scenarios": results,
        "traps": traps,
        "targets": {"ratio": TARGET_RATIO, "rps_1000": TARGET_RPS_1000},
        "cpu_count": os.cpu_count(),
    }
