"""Shared plumbing of the benchmarks: databases, Django set-up, results, machine facts.

Benchmarks never run inside the test suite and never touch the development
database: they create ``intercalaire_bench`` (and ``intercalaire_bench_import``,
``intercalaire_bench_tpl``) next to it, on the same server with the same
credentials as ``DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
VAR = ROOT / "var" / "bench"
RESULTS_FILE = VAR / "results.json"
DOC_FILE = ROOT / "docs" / "benchmarks.md"
PYTHON = sys.executable

TEMPLATE_DB = "intercalaire_bench_tpl"
# Several datasets can live side by side (200k and 1M): BENCH_DB names the one a
# command works on; results are filed by row count whatever the name.
BENCH_DB = os.environ.get("BENCH_DB", "intercalaire_bench")
IMPORT_DB = "intercalaire_bench_import"

SIZES = {"200k": 200_000, "1M": 1_000_000}


def size_label(rows: int) -> str:
    for label, count in SIZES.items():
        if count == rows:
            return label
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Environment and databases
def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def base_env() -> dict[str, str]:
    """The project's settings environment: var/local.env under the real environment."""
    env_file = Path(os.environ.get("INTERCALAIRE_ENV_FILE", ROOT / "var/local.env"))
    merged = _read_env_file(env_file)
    merged.update(os.environ)
    return merged


def base_database_url() -> str:
    url = base_env().get("DATABASE_URL")
    if not url:
        raise SystemExit(
            "DATABASE_URL is not set (neither in the environment nor in var/local.env)."
        )
    return url


def database_url(name: str) -> str:
    """DATABASE_URL with its database name replaced: same server, same credentials."""
    parts = urlsplit(base_database_url())
    return urlunsplit(parts._replace(path="/" + name))


def maintenance_url() -> str:
    return database_url("postgres")


def connect(url: str, **kwargs: Any) -> Any:
    import psycopg

    # psycopg wants libpq names; the project's URLs are plain postgres:// URLs.
    return psycopg.connect(url.replace("postgis://", "postgres://", 1), **kwargs)


def django_env(db_name: str, **extra: str) -> dict[str, str]:
    """Environment of a Django process (manage.py, the server) on a bench database."""
    env = base_env()
    env.update(
        {
            "DATABASE_URL": database_url(db_name),
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            # Throttles on, as deployed, but out of the way (they would answer 429
            # within a second), and pages up to 10,000 features (the settings' own
            # ceiling). Per second, not per minute: a throttle's history (one
            # timestamp per request in its window, pickled to the cache and back on
            # every request) then stays as short as in production; a minute of
            # requests at these rates costs more than a small page.
            "API_THROTTLE_ANON": "100000/second",
            "API_THROTTLE_USER": "100000/second",
            "API_MAX_PAGE_SIZE": "10000",
        }
    )
    env.update(extra)
    return env


def manage(db_name: str, *args: str, quiet: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=django_env(db_name),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"manage.py {' '.join(args)} failed on "
            f"{db_name}:\n{result.stdout}\n{result.stderr}"
        )
    if not quiet and result.stdout.strip():
        for line in result.stdout.strip().splitlines():
            log(f"  {line}")
    return result.stdout


FORCED_KEYS = {
    "DATABASE_URL",
    "DJANGO_DEBUG",
    "DJANGO_SECURE",
    "DJANGO_LOG_LEVEL",
    "DJANGO_ALLOWED_HOSTS",
    "API_THROTTLE_ANON",
    "API_THROTTLE_USER",
    "API_MAX_PAGE_SIZE",
}


def setup_django(db_name: str = BENCH_DB) -> None:
    """Configure Django in this process against a benchmark database."""
    import django

    for key, value in django_env(db_name).items():
        if key in FORCED_KEYS:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    django.setup()


def database_exists(name: str) -> bool:
    with connect(maintenance_url(), autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            is not None
        )


def drop_database(name: str) -> None:
    from psycopg import sql

    with connect(maintenance_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def create_database(name: str, *, template: str | None = None) -> None:
    from psycopg import sql

    drop_database(name)
    with connect(maintenance_url(), autocommit=True) as conn:
        if template:
            # No session may stay on the template while it is copied.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [template],
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_template() -> None:
    """A migrated database holding the reference layers and no building."""
    if not database_exists(TEMPLATE_DB):
        log(f"creating {TEMPLATE_DB}")
        create_database(TEMPLATE_DB)
    log(f"migrating {TEMPLATE_DB}")
    manage(TEMPLATE_DB, "migrate", "--noinput", quiet=True)
    with connect(database_url(TEMPLATE_DB)) as conn:
        communes = conn.execute("SELECT count(*) FROM buildings_commune").fetchone()[0]
        located = conn.execute(
            "SELECT count(*) FROM buildings_department WHERE geometry IS NOT NULL"
        ).fetchone()[0]
    if communes == 0 or located == 0:
        log(
            "loading the official code list and département boundaries "
            "(load_reference_layers)"
        )
        manage(
            TEMPLATE_DB,
            "load_reference_layers",
            "--departements",
            str(SHARED_DATA / "boundaries" / "departements.geojson"),
        )


# --- Results
def load_results() -> dict[str, Any]:
    if RESULTS_FILE.exists():
        loaded: dict[str, Any] = json.loads(RESULTS_FILE.read_text(encoding="utf-8"))
        return loaded
    return {}


def save_result(dataset: str, section: str, value: Any) -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    results = load_results()
    results.setdefault(dataset, {})[section] = value
    results[dataset][section + "_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS_FILE.write_text(
        json.dumps(results, indent=1, default=str), encoding="utf-8"
    )


# --- Statistics
def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.5)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


# --- Machine
def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        facts["cpu"] = match.group(1).strip() if match else "?"
        facts["cpu_mhz"] = (
            m.group(1)
            if (m := re.search(r"^cpu MHz\s*:\s*(.+)$", cpuinfo, re.M))
            else "?"
        )
    except OSError:
        facts["cpu"] = "?"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
        facts["ram_gib"] = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        facts["ram_gib"] = "?"
    try:
        import django
        import psycopg
        import rest_framework
        import rest_framework_gis

        facts["django"] = django.get_version()
        facts["drf"] = rest_framework.VERSION
        del rest_framework_gis  # its __version__ is a tuple; the package's is plain
        facts["drf_gis"] = _dist_version("djangorestframework-gis")
        facts["granian"] = _dist_version("granian")
        facts["psycopg"] = psycopg.__version__
    except ImportError:
        pass
    try:
        with connect(
            database_url(TEMPLATE_DB if database_exists(TEMPLATE_DB) else "postgres")
        ) as conn:
            facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            try:
                facts["postgis"] = conn.execute(
                    "SELECT postgis_lib_version()"
                ).fetchone()[0]
                facts["geos"] = conn.execute(
                    "SELECT postgis_geos_version()"
                ).fetchone()[0]
                facts["proj"] = conn.execute(
                    "SELECT postgis_proj_version()"
                ).fetchone()[0]
            except Exception:  # noqa: BLE001 - postgis not installed in that database
                conn.rollback()
            rows = conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings "
                "WHERE name = ANY(%s) ORDER BY name",
                [
                    [
                        "shared_buffers",
                        "work_mem",
                        "maintenance_work_mem",
                        "effective_cache_size",
                        "jit",
                        "random_page_cost",
                        "max_parallel_workers_per_gather",
                        "max_connections",
                        "synchronous_commit",
                        "jit_above_cost",
                    ]
                ],
            ).fetchall()
            facts["pg_settings"] = dict(rows)
    except Exception as error:  # noqa: BLE001 - facts are best effort
        facts["postgresql"] = f"unavailable: {error}"
    return facts


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


# --- Background load: the box is shared, so every figure records how busy it was.
def _cpu_times() -> tuple[int, int]:
    fields = [
        int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over ``seconds`` (0–1), whoever uses them."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_quiet(*, threshold: float = 0.15, max_wait: float = 30.0) -> float:
    """Wait (bounded) until other processes leave the cores; returns the busy share
    measured last, taken while this benchmark itself is idle."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy(1.0)
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# A delayed ACK (performance.md §4.1) holds a response 40 ms.
NAGLE_WINDOW = (38.0, 45.0)


def nagle_suspect(entry: dict[str, Any]) -> bool:
    """Whether a fast scenario's median looks held by a delayed ACK.

    Sequentially (c=1) a median in the 38–45 ms window is suspect. Under load,
    a median near ``concurrency / throughput`` is the wait behind busy cores
    (Little's law), not a stall: suspect only when it sits well above that.
    """
    if entry["target"] > 30:
        return False
    for key in ("api_c1", "api_c4"):
        measure = entry[key]
        median_ms = measure["median_ms"]
        if not NAGLE_WINDOW[0] <= median_ms <= NAGLE_WINDOW[1]:
            continue
        if measure["concurrency"] == 1 or not measure["rps"]:
            return True
        queueing_ms = measure["concurrency"] / measure["rps"] * 1000
        if median_ms > 1.5 * queueing_ms:
            return True
    return False
