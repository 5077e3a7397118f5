"""Deep pages (keyset cursor vs OFFSET) and the cost of ``numberMatched``.

The selection is the Île-de-France box as a national State agent when it holds
more than 160,000 buildings (the 1M table), else the whole table (200k). Pages of
1,000 footprints are read at offsets 0 … 150,000:

- through the API, with a cursor crafted for the row just before the offset (what
  following ``next`` links would reach, signed with the server's key), and checked
  against the OFFSET page's ids, then one ``next`` link followed;
- in SQL, keyset (``id > :last``) and OFFSET, ids only (performance.md §3.6's shape)
  and as the FeatureCollection.

Counts: exact ``count(*)``, the count capped at 10,001 that the API runs, and the
planner's estimate (``EXPLAIN``), on the big selection and on a selection under
the cap.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import log, median, wait_quiet
from bench.http import Server, calibrate, ensure_agent, raw_connection, request_once

IDF = (1.40, 48.10, 3.60, 49.25)
PAGE = 1000
OFFSETS = (0, 1_000, 50_000, 150_000)
BIG = 160_000
CAP = 10_000
TARGETS = {
    "keyset_sql_ms": 5.0,
    "deep_over_first": 1.5,
    "estimate_ms": 1.0,
    "capped_count_ms": 60.0,
}


def _time(conn: Any, sql: str, params: Any, runs: int = 7) -> tuple[float, Any]:
    result = None
    for _ in range(2):
        result = conn.execute(sql, params).fetchall()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = conn.execute(sql, params).fetchall()
        samples.append(time.perf_counter() - t0)
    return median(samples) * 1000, result


def run() -> dict[str, Any]:
    from bench.http import raw_sql
    from buildings.api.pagination import Cursor, Ordering, cursor_encode

    _agent, token = ensure_agent()
    headers = {"Authorization": f"Token {token}"}
    background = wait_quiet(max_wait=20.0)
    # The API's own predicate (buildings/api/filters.py): ST_Intersects brings its
    # index test; an explicit && on top counts the box's selectivity twice, and on
    # the 1M table the planner then sorts 194k box rows instead of walking the
    # primary key (647 ms against 7 ms for a deep keyset page, measured).
    box_where = (
        "ST_Intersects(point, ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326))"
    )
    box = dict(zip(("x0", "y0", "x1", "y1"), IDF, strict=True))
    with raw_connection() as conn:
        total = conn.execute("SELECT count(*) FROM buildings_building").fetchone()[0]
        in_box = conn.execute(
            f"SELECT count(*) FROM buildings_building WHERE {box_where}", box
        ).fetchone()[0]
        use_box = in_box >= BIG
        where = box_where if use_box else "true"
        params: dict[str, Any] = dict(box) if use_box else {}
        matched = in_box if use_box else total
        selection = (
            f"Île-de-France box {IDF}" if use_box else "the whole table (no filter)"
        )
        log(f"paging over {selection}: {matched} buildings")
        offsets = [o for o in OFFSETS if o + PAGE <= matched]

        pages: list[dict[str, Any]] = []
        feature_sql = raw_sql("agent", "footprint")
        # raw_sql filters on a box; without one, a box around the world is the same set.
        world = {"x0": -180.0, "y0": -90.0, "x1": 180.0, "y1": 90.0}
        fc_box = box if use_box else world
        for offset in offsets:
            last = None
            if offset:
                last = conn.execute(
                    f"SELECT id FROM buildings_building WHERE {where} ORDER BY id "
                    "OFFSET %(o)s LIMIT 1",
                    {**params, "o": offset - 1},
                ).fetchone()[0]
            keyset_ms, keyset_rows = _time(
                conn,
                f"SELECT id FROM buildings_building WHERE {where} AND id > %(last)s "
                f"ORDER BY id LIMIT {PAGE}",
                {**params, "last": last or 0},
            )
            offset_ms, offset_rows = _time(
                conn,
                f"SELECT id FROM buildings_building WHERE {where} ORDER BY id OFFSET "
                f"%(o)s LIMIT {PAGE}",
                {**params, "o": offset},
                runs=5,
            )
            fc_keyset_ms, _ = _time(
                conn,
                feature_sql.replace(
                    "ORDER BY b.id", "AND b.id > %(last)s ORDER BY b.id"
                ),
                {**fc_box, "limit": PAGE, "last": last or 0, "statuses": []},
            )
            fc_offset_ms, _ = _time(
                conn,
                feature_sql.replace("LIMIT %(limit)s", "LIMIT %(limit)s OFFSET %(o)s"),
                {**fc_box, "limit": PAGE, "o": offset, "statuses": []},
                runs=5,
            )
            pages.append(
                {
                    "offset": offset,
                    "last_id": last,
                    "sql_keyset_ms": keyset_ms,
                    "sql_offset_ms": offset_ms,
                    "fc_keyset_ms": fc_keyset_ms,
                    "fc_offset_ms": fc_offset_ms,
                    "same_rows": [r[0] for r in keyset_rows]
                    == [r[0] for r in offset_rows],
                    "ids": [r[0] for r in offset_rows],
                }
            )
            log(
                f"  offset {offset}: SQL keyset {keyset_ms:.1f} ms vs OFFSET "
                f"{offset_ms:.1f} ms; "
                f"FeatureCollection keyset {fc_keyset_ms:.1f} ms vs OFFSET "
                f"{fc_offset_ms:.1f} ms"
            )

        # numberMatched: exact, capped (as the API), estimated; big and under the cap.
        counts: dict[str, Any] = {}
        # Under the cap: the box of the 5,000-feature agent scenario (bench/http.py).
        small_box = calibrate(conn, "agent", 5000).bbox
        small = dict(zip(("x0", "y0", "x1", "y1"), small_box, strict=True))
        for label, count_where, count_params in (
            ("big", where, params),
            ("small", box_where, small),
        ):
            exact_ms, exact = _time(
                conn,
                f"SELECT count(*) FROM buildings_building WHERE {count_where}",
                count_params,
                runs=5,
            )
            capped_ms, capped = _time(
                conn,
                "SELECT count(*) FROM (SELECT id FROM buildings_building WHERE "
                f"{count_where} LIMIT {CAP + 1}) c",
                count_params,
            )
            estimate_ms, plan = _time(
                conn,
                "EXPLAIN (FORMAT JSON) SELECT id FROM buildings_building WHERE "
                f"{count_where}",
                count_params,
            )
            document = plan[0][0]
            if isinstance(document, str):
                document = json.loads(document)
            estimate = int(document[0]["Plan"]["Plan Rows"])
            counts[label] = {
                "exact": exact[0][0],
                "exact_ms": exact_ms,
                "capped": capped[0][0],
                "capped_ms": capped_ms,
                "estimate": estimate,
                "estimate_ms": estimate_ms,
                "estimate_error": (estimate - exact[0][0]) / exact[0][0]
                if exact[0][0]
                else None,
            }
            log(f"  count {label}: {counts[label]}")

        diagnosis = diagnose(conn, pages[-1]["last_id"] if use_box else None)

    # Through the API: crafted cursors, one followed next link, and a 10,000 page.
    ordering = Ordering.parse("id")
    api: list[dict[str, Any]] = []
    query_base = {"limit": PAGE, "geometry": "footprint"}
    if use_box:
        query_base["bbox"] = ",".join(str(v) for v in IDF)
    with Server() as server:
        for page in pages:
            query = dict(query_base)
            if page["last_id"] is not None:
                query["cursor"] = cursor_encode(Cursor(ordering, (page["last_id"],)))
            path = "/api/v1/buildings/?" + urlencode(query)
            samples = []
            body = b""
            for run_index in range(12):
                t0 = time.perf_counter()
                status, body, _h = request_once(server.port, path, headers)
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise SystemExit(
                        f"API page at offset {page['offset']}: HTTP {status} "
                        f"{body[:300]!r}"
                    )
                if run_index >= 2:
                    samples.append(elapsed)
            document = json.loads(body)
            ids = [f["id"] for f in document["features"]]
            entry = {
                "offset": page["offset"],
                "api_ms": median(samples) * 1000,
                "same_ids_as_offset_page": ids == page["ids"],
                "numberMatched": document.get("numberMatched"),
                "numberMatchedIsEstimate": document.get("numberMatchedIsEstimate"),
            }
            next_link = next(
                (
                    link["href"]
                    for link in document.get("links", [])
                    if link["rel"] == "next"
                ),
                None,
            )
            if next_link and page["offset"] == offsets[-1]:
                parts = urlsplit(next_link)
                status, next_body, _h = request_once(
                    server.port, f"{parts.path}?{parts.query}", headers
                )
                next_ids = [f["id"] for f in json.loads(next_body)["features"]]
                with raw_connection() as conn:
                    expected = [
                        r[0]
                        for r in conn.execute(
                            f"SELECT id FROM buildings_building WHERE {where} ORDER BY "
                            f"id OFFSET %(o)s LIMIT {PAGE}",
                            {**params, "o": page["offset"] + PAGE},
                        ).fetchall()
                    ]
                entry["next_link_follows"] = status == 200 and next_ids == expected
            api.append(entry)
            log(
                f"  API offset {page['offset']}: {entry['api_ms']:.1f} ms, ids match "
                f"{entry['same_ids_as_offset_page']}"
            )
        # A 10,000-feature page of the big selection (performance.md §7, Q4 on B1M:
        # ≤ 150 ms).
        query = {**query_base, "limit": 10_000}
        path = "/api/v1/buildings/?" + urlencode(query)
        samples = []
        for run_index in range(7):
            t0 = time.perf_counter()
            status, body, _h = request_once(server.port, path, headers)
            if run_index >= 2:
                samples.append(time.perf_counter() - t0)
        big_page = {
            "features": len(json.loads(body)["features"]) if status == 200 else 0,
            "api_ms": median(samples) * 1000,
            "mb": round(len(body) / 1e6, 2),
        }
        log(f"  API 10,000 features: {big_page}")

    # numberMatched through the API: the first page under three caps (settings
    # API_COUNT_CAP): 100 (a capped count, then the estimate), the default 10,000,
    # and 1,000,000 (an exact count of the whole selection).
    path = "/api/v1/buildings/?" + urlencode(query_base)
    count_caps = []
    for cap in (100, CAP, 1_000_000):
        with Server(API_COUNT_CAP=str(cap)) as server:
            samples = []
            document = {}
            for run_index in range(7):
                t0 = time.perf_counter()
                status, body, _h = request_once(server.port, path, headers)
                if run_index >= 2:
                    samples.append(time.perf_counter() - t0)
                document = json.loads(body) if status == 200 else {}
        count_caps.append(
            {
                "cap": cap,
                "api_ms": median(samples) * 1000,
                "numberMatched": document.get("numberMatched"),
                "estimate": document.get("numberMatchedIsEstimate"),
            }
        )
        log(f"  API first page with API_COUNT_CAP={cap}: {count_caps[-1]}")

    for page in pages:
        page.pop("ids")
    first = next(a["api_ms"] for a in api if a["offset"] == 0)
    deepest = api[-1]
    return {
        "selection": selection,
        "matched": matched,
        "page": PAGE,
        "sql": pages,
        "api": api,
        "api_10000": big_page,
        "api_count_caps": count_caps,
        "counts": counts,
        "deep_over_first": deepest["api_ms"] / first if first else None,
        "diagnosis": diagnosis,
        "targets": TARGETS,
        "background_cpu": background,
    }


# The list filter's spelling (buildings/api/filters.py): an explicit ``&&`` and then
# ``ST_Intersects``, whose PostGIS 3 support function adds the same ``&&`` again.
BOX = "ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)"
FILTERS = {
    "&& + ST_Intersects (as the API)": (
        f"point && {BOX} AND ST_Intersects(point, {BOX})"
    ),
    "ST_Intersects alone": f"ST_Intersects(point, {BOX})",
}


def diagnose(conn: Any, last_id: int | None) -> dict[str, Any]:
    """Why a keyset page of the Île-de-France box costs what it costs: the filter's
    spelling (row estimate, plan) and JIT compilation, each switched on and off."""
    box = dict(zip(("x0", "y0", "x1", "y1"), IDF, strict=True))
    exact = conn.execute(
        "SELECT count(*) FROM buildings_building WHERE "
        + FILTERS["ST_Intersects alone"],
        box,
    ).fetchone()[0]
    out: dict[str, Any] = {
        "box": IDF,
        "exact": exact,
        "after_id": last_id or 0,
        "rows": [],
    }
    for label, where in FILTERS.items():
        plan = conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT id FROM buildings_building WHERE {where}",
            box,
        ).fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        sql = (
            f"SELECT id FROM buildings_building WHERE {where} AND id > %(last)s "
            f"ORDER BY id LIMIT {PAGE}"
        )
        params = {**box, "last": last_id or 0}
        for jit in ("on", "off"):
            conn.execute(f"SET jit = {jit}")
            text = "\n".join(
                row[0]
                for row in conn.execute(f"EXPLAIN (ANALYZE, FORMAT TEXT) {sql}", params)
            )
            jit_ms = re.search(r"Timing: .*Total ([\d.]+) ms", text)
            elapsed, _ = _time(conn, sql, params, runs=5)
            top = next(
                (
                    line.strip(" ->")
                    for line in text.splitlines()[1:]
                    if "Scan" in line or "Sort" in line
                ),
                "",
            ).split("  (")[0]
            out["rows"].append(
                {
                    "filter": label,
                    "jit": jit,
                    "estimate": estimate,
                    "ms": elapsed,
                    "jit_ms": float(jit_ms.group(1)) if jit_ms else 0.0,
                    "plan": top,
                }
            )
        conn.execute("RESET jit")
    log(f"  diagnosis: {out}")
    return out
