"""Tables on stdout and docs/benchmarks.md, from var/bench/results.json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.common import DOC_FILE, SIZES, load_results, median, nagle_suspect

Row = Sequence[Any]


def table(header: Row, rows: Sequence[Row]) -> str:
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    lines = [
        "| " + " | ".join(cells[0]) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "not run"
    return "**PASS**" if ok else "**FAIL**"


# --- Sections
def generate_section(result: dict[str, Any]) -> str:
    facts, timings = result["facts"], result["timings"]
    rows = [
        ("buildings", facts["buildings"]),
        ("sites", facts["sites"]),
        (
            "sites placed on a Cartofriches point (± 300 m)",
            facts.get("sites_on_friches"),
        ),
        ("public stock (vacant/assessed/available, not confidential)", facts["public"]),
        ("confidential", facts["confidential"]),
        ("ERP", facts["erp"]),
        ("in Paris (75)", facts["paris"]),
        ("median surface (m²)", facts["median_surface_m2"]),
        ("median footprint (m², 5 % sample)", facts["median_footprint_m2"]),
        (
            "table size (heap / with indexes and TOAST)",
            f"{facts['heap_size']} / {facts['table_size']}",
        ),
        ("seed", facts["seed"]),
    ]
    steps = ", ".join(
        f"{key} {value:.1f} s" for key, value in timings.items() if key != "total"
    )
    return (
        table(("dataset", "value"), rows)
        + f"\n\nGeneration and load: **{timings['total']:.0f} s** in all ({steps})."
    )


def import_section(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return f"Not run: {result['skipped']}"
    first, second = result["first"], result.get("second") or {}
    projected = result.get("projected_from")
    rows = [
        (
            "first import"
            + (f" (projected from {projected:,} rows)" if projected else ""),
            result["rows"],
            first.get("created"),
            first.get("rejected"),
            first.get("warnings"),
            result.get("seconds", first["seconds"]),
            result["rows_per_s"],
            f"≤ {result['target_s']:.0f} s",
            verdict(result["pass"]),
        )
    ]
    if second:
        rows.append(
            (
                "re-import, same file (no-op)",
                second.get("rows_read"),
                second.get("created"),
                second.get("rejected"),
                second.get("warnings"),
                second["seconds"],
                second["rows_read"] / second["seconds"]
                if second.get("seconds")
                else None,
                "–",
                "–",
            )
        )
    text = table(
        ("run", "rows", "created", "rejected", "warnings", "s", "rows/s", "target", ""),
        rows,
    )
    text += (
        f"\n\nFile: {result['file_mb']} MB DIE CSV (28 columns, `;`), imported with "
        '`import_file(path, profile="die", on_error="skip")` into a fresh database '
        f"holding the reference layers; {_cell(result.get('stored'))} buildings "
        f"stored, {_cell(result.get('located'))} located (confidential rows carry "
        "no coordinates, as in the DIE file)."
    )
    if result.get("note"):
        text += f"\n\n{result['note']}"
    if result.get("profile_top"):
        text += (
            "\n\nWhere the time goes (cProfile of a 3,000-row import, cumulative "
            "seconds):\n\n```\n"
        )
        text += result["profile_top"] + "\n```"
    return text


def _ms(measure: dict[str, Any] | None) -> str:
    if not measure:
        return "–"
    return f"{measure['median_ms']:.1f} / {measure['p95_ms']:.1f}"


def http_section(result: dict[str, Any]) -> str:
    rows = []
    for entry in result["scenarios"]:
        box = entry["box"]
        drf = entry.get("drf_gis") or entry.get("drf_gis_c4")  # older runs: c4
        if drf and "drf_gis_over_raw" not in entry:
            entry["drf_gis_over_raw"] = drf["median_ms"] / entry["raw_c4"]["median_ms"]
        rows.append(
            (
                entry["persona"],
                entry["geometry"],
                f"{box['city']} ({box['matched']:,} matched)",
                entry["gate"]["api_features"],
                entry["body_kb"],
                _ms(entry["api_c4"]),
                entry["api_c4"]["rps"],
                _ms(entry["raw_c4"]),
                entry["raw_c4"]["rps"],
                entry["api_c1"]["median_ms"],
                entry.get("api_sql_ms"),
                entry.get("api_sql_jit_off_ms"),
                entry["raw_c1"]["median_ms"],
                f"{entry['ratio_c1']:.2f}",
                f"{entry['ratio_c4']:.2f}",
                f"c={drf['concurrency']}: {drf['median_ms']:.0f} ms, "
                f"{drf['rps']:.1f}/s, {entry['drf_gis_over_raw']:.0f}× raw"
                if drf
                else "–",
                "ok" if entry["gate"]["ok"] else "FAILED",
                f"{entry['api_c4']['background_cpu']:.0%}",
            )
        )
    header = (
        "caller",
        "geometry",
        "bbox",
        "features",
        "KB",
        "API c=4 p50 / p95 ms",
        "API req/s",
        "raw SQL c=4 p50 / p95 ms",
        "raw req/s",
        "API c=1 p50 ms",
        "API's SQL alone ms",
        "same, jit off",
        "raw c=1 p50 ms",
        "API/raw c=1",
        "API/raw c=4",
        "stock drf-gis p50, req/s",
        "gate",
        "other load",
    )
    text = table(header, rows)
    boxes = sorted(
        {
            (e["persona"], e["target"], tuple(e["box"]["bbox"]))
            for e in result["scenarios"]
        }
    )
    text += "\n\nBoxes (min lon, min lat, max lon, max lat): " + "; ".join(
        f"{persona} {target}: {bbox}" for persona, target, bbox in boxes
    )
    wrk_rows = [e for e in result["scenarios"] if e.get("api_wrk")]
    if wrk_rows:
        text += (
            "\n\nThroughput of the 1,000-feature pages under wrk (C, one thread, 4 "
            "keep-alive connections, 2 s warm-up discarded; performance.md §6.4's "
            "load generator, lighter than the Python client threads of the *API c=4* "
            "column; the median of its rounds, each round's requests/s with how the "
            "server's two processes shared the connections): "
            + "; ".join(
                f"{e['scenario']}: {e['api_wrk']['rps']:.0f} req/s, p50 "
                f"{e['api_wrk']['median_ms']:.1f} ms"
                + (
                    f" (rounds {rounds_cell(e['api_wrk'])})"
                    if e["api_wrk"].get("rps_rounds")
                    else split_note(e["api_wrk"].get("worker_split"))
                )
                for e in wrk_rows
            )
            + "."
        )
    elif result.get("wrk"):
        wrk = result["wrk"]
        text += (
            f"\n\nCross-check with wrk (C, `-t1 -c4`, 10 s) on {wrk['scenario']}: "
            f"{wrk['rps']} req/s, p50 {wrk['p50_ms']} ms."
        )
    return text


def http_targets(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for entry in result["scenarios"]:
        if entry["target"] != 1000 or entry["geometry"] != "footprint":
            continue
        ratio_ok = entry["ratio_c1"] <= result["targets"]["ratio"]
        # wrk's figure when it ran (the protocol's generator), else the threads'.
        by_wrk = entry.get("api_wrk")
        rps = (by_wrk or entry["api_c4"])["rps"]
        rps_ok = rps >= result["targets"]["rps_1000"]
        out.append(
            (
                f"API / raw SQL at 1,000 features, {entry['persona']} (p50, c=1)",
                f"≤ {result['targets']['ratio']}",
                f"{entry['ratio_c1']:.2f} (c=4: {entry['ratio_c4']:.2f})",
                verdict(ratio_ok),
            )
        )
        out.append(
            (
                f"API throughput at 1,000 features, {entry['persona']} (c=4)",
                f"≥ {result['targets']['rps_1000']:.0f} req/s",
                f"{rps:.0f} req/s"
                + (
                    f" (wrk; Python threads: {entry['api_c4']['rps']:.0f})"
                    if by_wrk
                    else ""
                ),
                verdict(rps_ok),
            )
        )
    failed = [e["scenario"] for e in result["scenarios"] if not e["gate"]["ok"]]
    drf_failed = [
        e["scenario"]
        for e in result["scenarios"]
        if e["gate"].get("drf_gis_same_ids") is False
    ]
    out.append(
        (
            f"correctness gate ({len(result['scenarios'])} scenarios: API vs raw SQL)",
            "same ids, order, property names; coordinates within 1e-6",
            "all agree" if not failed else "FAILED: " + ", ".join(failed),
            verdict(not failed),
        )
    )
    if drf_failed:
        out.append(
            (
                "stock drf-gis returns the same ids",
                "same ids and order",
                "differs: " + ", ".join(drf_failed),
                verdict(False),
            )
        )
    # Judged again from the stored figures (the rule may be newer than the run).
    stalls = [e["scenario"] for e in result["scenarios"] if nagle_suspect(e)]
    out.append(
        (
            "no 40 ms Nagle floor (fast requests: p50 outside 38–45 ms, or at "
            "c=4 explained by queueing, c ÷ req/s)",
            "none",
            ", ".join(stalls) or "none",
            verdict(not stalls),
        )
    )
    return out


def traps_section(result: dict[str, Any]) -> str:
    traps = result["traps"]
    nd = traps["nodelay"]
    web = traps["web_role"]
    timings = "; ".join(
        f"`{path}` median {t['median']:.1f} ms, max {t['max']:.1f} ms"
        for path, t in nd["keep_alive_ms"].items()
    )
    lines = [
        f"- **TCP_NODELAY.** The server, {nd['server']}, sets none on the "
        "sockets it accepts (no setsockopt in its accept path, seen with "
        "strace); it writes a response whose body is complete in one vectored "
        "write, and Linux sends the tail of a write at once after full-sized "
        "segments, so Nagle's algorithm has nothing to hold back. Measured on "
        "a probe run, 8 requests each on one kept-alive connection: "
        f"{timings} (the large page: {nd['large_bytes'] / 1024:.0f} KB; a "
        "stall would show as 40 ms). The client sets it on its own sockets. "
        f"Responses answer `Connection: {', '.join(nd['connection_header'])}`"
        f", and {nd['connects_for_18_requests']} connection(s) served the 18 "
        "requests asked with keep-alive (1 means the connection was kept).",
        "- **Parallel plans.** The web role's connections run with "
        "`max_parallel_workers_per_gather = "
        f"{web['session_max_parallel_workers_per_gather']}` and jit "
        f"{web['session_jit']} (config/settings.py sets both in the connection "
        "options); the list view adds `SET LOCAL max_parallel_workers_per_gather = "
        "0` only on a connection without them ("
        f"{'sent' if web['view_sets_serial_plans'] else 'not sent'} here). "
        "Plan of the API's statement for the 1,000-feature page: "
        + ", ".join(f"{k}: {v}" for k, v in web["plans"].items())
        + ". The raw-SQL baseline runs with 0 too.",
        "- **JIT (a fourth trap, not in performance.md §4).** With PostgreSQL's "
        "default `jit = on`, a statement "
        "whose estimated cost passes `jit_above_cost` (100,000; large boxes, deep "
        "pages and mis-estimated plans on the 1M table do) is compiled with LLVM "
        "before it runs, on every request; the web role's connections run with "
        f"jit {web['session_jit']}. Column *same, jit off* of the HTTP "
        "table, and the *JIT compile ms* and *page ms* columns of the paging "
        "diagnosis, measure it; performance.md §3 measured with `jit = off`.",
        f"- **The API's own statement** (captured in-process, {web['queries']} queries "
        "per request), run "
        f"alone through psycopg: {web.get('api_statement_ms', float('nan')):.1f} ms "
        "(it also counts up to "
        "10,001 rows and reads the cursor keys, which the raw baseline does not).",
        "- **Warm cache.** Every scenario starts with warm-up requests on every client "
        "thread "
        "(≥ 8, discarded); the tables fit in RAM (OS page cache; `shared_buffers` as "
        "configured below).",
        "- **Same attribute list.** The raw SQL selects "
        "`buildings.geojson.PUBLIC_PROPERTIES` or "
        "`AGENT_PROPERTIES` (by caller), the API's filter "
        "(`ST_Intersects(point, box)`, "
        "plus the public-stock condition for anonymous callers), `ORDER BY id LIMIT n` "
        "and "
        "`ST_ForcePolygonCCW` footprints at 6 decimals; the gate checks ids, order, "
        "property names and "
        "coordinates. The raw output carries `id` inside `properties` (PostGIS 3.3 has "
        "no `id_column`).",
        "- **Shared machine.** Load generator, server and PostgreSQL share the "
        "cores; "
        "the column *other load* is the share of CPU busy *before* each run while the "
        "benchmark was idle "
        "(other users of the box). Figures taken with other load above ~15 % are "
        "pessimistic.",
    ]
    return "\n".join(lines)


def paging_section(result: dict[str, Any]) -> str:
    sql_rows = []
    api_by_offset = {a["offset"]: a for a in result["api"]}
    for page in result["sql"]:
        api = api_by_offset.get(page["offset"], {})
        sql_rows.append(
            (
                page["offset"],
                api.get("api_ms"),
                page["sql_keyset_ms"],
                page["sql_offset_ms"],
                page["fc_keyset_ms"],
                page["fc_offset_ms"],
                api.get("same_ids_as_offset_page"),
            )
        )
    text = (
        f"Selection: {result['selection']}, {result['matched']:,} buildings, "
        f"pages of {result['page']:,} footprints, national agent.\n\n"
    )
    text += table(
        (
            "offset",
            "API keyset page ms (c=1)",
            "SQL keyset ids ms",
            "SQL OFFSET ids ms",
            "SQL keyset FeatureCollection ms",
            "SQL OFFSET FeatureCollection ms",
            "API page = OFFSET page",
        ),
        sql_rows,
    )
    follows = [
        a.get("next_link_follows") for a in result["api"] if "next_link_follows" in a
    ]
    if follows:
        text += (
            "\n\nFollowing the deepest page's `next` link gives the next OFFSET "
            f"page: {'yes' if all(follows) else 'NO'}."
        )
    big = result["api_10000"]
    text += (
        f"\n\nOne API page of {big['features']:,} features ({big['mb']} MB) of this "
        f"selection: {big['api_ms']:.0f} ms (c=1, median of 5)."
    )
    count_rows = []
    for label, c in result["counts"].items():
        count_rows.append(
            (
                label,
                c["exact"],
                c["exact_ms"],
                c["capped"],
                c["capped_ms"],
                c["estimate"],
                c["estimate_ms"],
                f"{c['estimate_error']:+.0%}"
                if c["estimate_error"] is not None
                else "–",
            )
        )
    caps = result.get("api_count_caps")
    if caps:
        text += (
            "\n\n`numberMatched` through the API: the first page of this selection "
            "(1,000 footprints, c=1, median of 5) under three `API_COUNT_CAP` "
            "values.\n\n"
        )
        text += table(
            ("API_COUNT_CAP", "page ms", "numberMatched", "estimate?"),
            [(c["cap"], c["api_ms"], c["numberMatched"], c["estimate"]) for c in caps],
        )
        text += f"\n\n(Exact: {result['matched']:,}.)"
    diagnosis = result.get("diagnosis")
    if diagnosis:
        text += (
            f"\n\nWhy pages of the {diagnosis['box']} box cost what they cost "
            f"({diagnosis['exact']:,} buildings inside; keyset page after id "
            f"{diagnosis['after_id']:,}, ids only, ORDER BY id LIMIT 1,000): the "
            "filter's spelling and JIT, each switched.\n\n"
        )
        text += table(
            ("filter", "jit", "row estimate", "page ms", "JIT compile ms", "plan"),
            [
                (
                    row["filter"],
                    row["jit"],
                    row["estimate"],
                    row["ms"],
                    row["jit_ms"],
                    f"`{row['plan']}`",
                )
                for row in diagnosis["rows"]
            ],
        )
    text += "\n\n" + table(
        (
            "selection",
            "exact count",
            "exact ms",
            "capped count (10,001)",
            "capped ms",
            "estimate",
            "estimate ms",
            "estimate error",
        ),
        count_rows,
    )
    return text


def paging_targets(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    targets = result["targets"]
    deepest = result["sql"][-1]
    big = result["counts"]["big"]
    return [
        (
            f"deep page SQL keyset (offset {deepest['offset']:,})",
            f"≤ {targets['keyset_sql_ms']:.0f} ms",
            f"{deepest['sql_keyset_ms']:.1f} ms (OFFSET {deepest['sql_offset_ms']:.0f} "
            "ms)",
            verdict(deepest["sql_keyset_ms"] <= targets["keyset_sql_ms"]),
        ),
        (
            "API deep page / first page (constant time)",
            f"≤ {targets['deep_over_first']}",
            f"{result['deep_over_first']:.2f}",
            verdict(result["deep_over_first"] <= targets["deep_over_first"]),
        ),
        (
            "numberMatched estimate (EXPLAIN)",
            f"≤ {targets['estimate_ms']:.0f} ms",
            f"{big['estimate_ms']:.2f} ms",
            verdict(big["estimate_ms"] <= targets["estimate_ms"]),
        ),
        (
            "numberMatched exact, capped at 10,001",
            f"≤ {targets['capped_count_ms']:.0f} ms",
            f"{big['capped_ms']:.1f} ms (uncapped {big['exact_ms']:.0f} ms)",
            verdict(big["capped_ms"] <= targets["capped_count_ms"]),
        ),
    ]


def maps_section(result: dict[str, Any]) -> str:
    """python -m bench.maps: tiles against raw ST_AsMVT, the pyramid, tipg, page."""
    parts = [
        f"{result['rows']:,} buildings, {result['cluster_rows']:,} rows in the "
        f"cluster table (copy `{result['database']}`)."
    ]
    latency = result.get("latency")
    if latency:
        parts.append(
            f"**Tile latency, in process** (median of {latency['runs']} warm calls; "
            f"other load {latency['busy']:.0%}). *public*, *agent*: the tile of "
            "the public and of a national State agent as the tile view builds it "
            "with no filter (maps.tiles: one ST_AsMVT; clusters from the cluster "
            "table at z ≤ 11, so no ratio there), without HTTP; *raw*: ST_AsMVT "
            "over every building point of the tile with the agent's attributes, "
            "on the same connection.\n\n"
            + table(
                (
                    "tile",
                    "public ms",
                    "KB",
                    "agent ms",
                    "KB",
                    "raw ms",
                    "KB",
                    "agent / raw",
                ),
                [
                    (
                        f"{row['place']} {row['tile']}",
                        row["public_ms"],
                        row["public_kb"],
                        row["agent_ms"],
                        row["agent_kb"],
                        row["raw_ms"],
                        row["raw_kb"],
                        f"{row['agent_over_raw']:.2f}"
                        if row["z"] >= 12
                        else "clusters",
                    )
                    for row in latency["tiles"]
                ],
            )
        )
    pyramid = result.get("pyramid")
    if pyramid:
        rows = []
        for persona in ("agent", "public"):
            for level in pyramid[persona]["by_zoom"]:
                rows.append(
                    (
                        persona,
                        level["z"],
                        level["tiles"],
                        level["non_empty"],
                        level["median_ms"],
                        level["p95_ms"],
                        level["max_ms"],
                        level["max_kb"],
                    )
                )
        over = {
            persona: pyramid[persona]["over_target"] for persona in ("agent", "public")
        }
        parts.append(
            f"**Every tile up to z{pyramid['max_zoom']}**: {pyramid['tiles']:,} "
            "tiles (metropolitan France's bounding box, plus every tile holding a "
            "cluster-table row, overseas included), each drawn once, uncached, in "
            f"process, for each caller (other load {pyramid['busy']:.0%}). Tiles "
            "over the time target on the first pass are timed three more times; "
            "*confirmed* keeps those whose median stays over.\n\n"
            + table(
                (
                    "caller",
                    "z",
                    "tiles",
                    "non-empty",
                    "median ms",
                    "p95 ms",
                    "max ms",
                    "max KB",
                ),
                rows,
            )
            + "\n\n"
            + "\n".join(
                f"- {persona}: heaviest {pyramid[persona]['heaviest']} "
                f"({pyramid[persona]['max_kb']:.1f} KB), slowest "
                f"{pyramid[persona]['slowest']} ({pyramid[persona]['max_ms']:.1f} ms); "
                f"over {result['targets']['tile_ms']:.0f} ms: "
                f"{pyramid[persona]['first_pass_over']} on the first pass, "
                f"{len(over[persona])} confirmed"
                + (
                    " ("
                    + ", ".join(
                        f"{t['tile']} {t['median_ms']:.0f} ms" for t in over[persona]
                    )
                    + ")"
                    if over[persona]
                    else ""
                )
                + "."
                for persona in ("agent", "public")
            )
        )
    peers = result.get("tipg")
    if peers:
        load_rows: list[Row] = [
            (
                key,
                peers["gate"].get(key, {}).get("features"),
                measure["requests"],
                measure["errors"],
                measure["median_ms"],
                measure["p95_ms"],
                measure["rps"],
                rounds_cell(measure),
                measure["bytes"],
                f"{measure['background_cpu']:.0%}",
            )
            for key, measure in peers["load"].items()
        ]
        parts.append(
            f"**z{peers['zoom']} throughput against tipg 1.6.1**: the "
            f"{len(peers['tiles'])} tiles of a block around Paris, cycled by "
            f"{load_generator(peers['load'].values())}; "
            f"{peers.get('repeat', 1)} round(s) of both servers, the median round "
            "kept and the ratio the median of the rounds' ratios. "
            "*ours*: the deployed server, `python -m config.server` "
            "(as bench/http.py); "
            "*tipg*: gunicorn with 2 uvicorn workers, serving views of the same "
            "table with the same rows and attributes (public stock; everything "
            "for the agent). The gate compares the features inside every tile "
            "before timing ("
            + ", ".join(
                f"{key}: {'same' if gate['same_features_as_ours'] else 'DIFFERENT'}"
                for key, gate in peers["gate"].items()
            )
            + ")."
            + (
                " *ours floor (/healthz)*: the same server answering its health "
                "check (the server, the whole middleware and one statement, no "
                "tile), in the same rounds: no tile view of this stack serves "
                "faster, so its ratio to tipg's public tiles bounds ours"
                + floor_note(peers)
                + "."
                if "floor_ratio" in peers
                else ""
            )
            + "\n\n"
            + table(
                (
                    "server",
                    "features",
                    "requests",
                    "errors",
                    "median ms",
                    "p95 ms",
                    "req/s (median round)",
                    "req/s by round (connections per process)",
                    "bytes",
                    "other load",
                ),
                load_rows,
            )
        )
    page = result.get("page")
    if page:
        chromium = page["chromium"]
        parts.append(
            "**Map pages** (and the building list beside the map): HTML size "
            "and server time in process (Django test "
            f"client, a superuser; other load {page['busy']:.0%}), and /carte/ for "
            "a national agent in headless Chromium, basemap off, a new browser "
            f"context per visit (median of {chromium['runs']}; milliseconds from "
            "navigation start).\n\n"
            + table(
                ("page", "KB", "ms"),
                [(row["path"], row["kb"], row["ms"]) for row in page["html"]],
            )
            + "\n\n"
            + table(
                ("Chromium, /carte/", "median ms", "max ms"),
                [
                    ("HTML received", chromium["median_html_ms"], None),
                    (
                        "first building tile received",
                        chromium["median_first_tile_ms"],
                        None,
                    ),
                    (
                        "first building tile painted",
                        chromium["median_paint_ms"],
                        chromium["max_paint_ms"],
                    ),
                ],
            )
        )
    return "\n\n".join(parts)


def maps_targets(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    targets = result["targets"]
    rows: list[tuple[str, str, str, str]] = []
    latency = result.get("latency")
    if latency:
        high = [row for row in latency["tiles"] if row["z"] >= 12]
        worst = max(high, key=lambda row: row["agent_over_raw"])
        rows.append(
            (
                "tile latency vs raw ST_AsMVT, z ≥ 12 (worst of Paris, Marseille)",
                f"≤ {targets['latency_ratio']}×",
                f"{worst['agent_over_raw']:.2f}× ({worst['place']} {worst['tile']}: "
                f"{worst['agent_ms']:.1f} vs {worst['raw_ms']:.1f} ms)",
                verdict(worst["agent_over_raw"] <= targets["latency_ratio"]),
            )
        )
    pyramid = result.get("pyramid")
    if pyramid:
        personas = [pyramid[p] for p in ("agent", "public")]
        heaviest = max(p["max_kb"] for p in personas)
        over = sum(len(p["over_target"]) for p in personas)
        slowest = max(p["max_ms"] for p in personas)
        rows.append(
            (
                f"every tile z ≤ {pyramid['max_zoom']} ({pyramid['tiles']:,} tiles × "
                "2 callers), size",
                f"≤ {targets['tile_kb']:.0f} KB",
                f"max {heaviest:.1f} KB",
                verdict(heaviest <= targets["tile_kb"]),
            )
        )
        rows.append(
            (
                f"every tile z ≤ {pyramid['max_zoom']}, uncached time",
                f"≤ {targets['tile_ms']:.0f} ms",
                f"max {slowest:.1f} ms first pass; {over} confirmed over",
                verdict(over == 0),
            )
        )
    peers = result.get("tipg")
    if peers:
        for persona in ("public", "agent"):
            ratio = peers.get(f"ratio_{persona}")
            ours = peers["load"].get(f"ours {persona}")
            tipg = peers["load"].get(f"tipg {persona}")
            equal, lowest = like_for_like(ours, tipg) if ours and tipg else ("", None)
            rows.append(
                (
                    f"z{peers['zoom']} throughput vs tipg, {persona}",
                    f"≥ {targets['tipg_ratio']}×",
                    f"{ratio:.2f}× ({ours['rps']:.0f} vs {tipg['rps']:.0f} req/s"
                    + (
                        "; median of rounds "
                        + ", ".join(
                            f"{r:.2f}×" for r in peers[f"ratio_{persona}_rounds"]
                        )
                        if len(peers.get(f"ratio_{persona}_rounds", ())) > 1
                        else ""
                    )
                    + equal
                    + (floor_note(peers) if persona == "public" else "")
                    + ")"
                    if ratio and ours and tipg
                    else "gate failed",
                    peer_verdict(ratio, lowest, targets["tipg_ratio"]),
                )
            )
    page = result.get("page")
    if page:
        national = next(row for row in page["html"] if row["path"] == "/carte/")
        chromium = page["chromium"]
        rows += [
            (
                "inventory map page HTML (national agent)",
                f"≤ {targets['page_kb']:.0f} KB",
                f"{national['kb']:.1f} KB",
                verdict(national["kb"] <= targets["page_kb"]),
            ),
            (
                "inventory map, first painted tiles (headless Chromium)",
                f"≤ {targets['first_tiles_s']:.0f} s",
                f"{chromium['median_paint_ms'] / 1000:.2f} s median, "
                f"{chromium['max_paint_ms'] / 1000:.2f} s max",
                verdict(chromium["median_paint_ms"] <= targets["first_tiles_s"] * 1000),
            ),
        ]
    return rows


def load_generator(loads: Any) -> str:
    """How the c=4 load of these measures was generated."""
    generators = {load.get("generator", "python") for load in loads if load}
    if generators == {"wrk"}:
        return (
            "wrk (C, one thread, 4 keep-alive connections; a 2 s warm-up run "
            "discarded), performance.md §6.4's load generator"
        )
    return (
        "4 client threads (Python, http.client) asking for keep-alive, "
        "warm-up discarded"
    )


def split_label(split: list[int]) -> str:
    """``3+1``: the connections of each server process (bench.http.worker_split)."""
    return "+".join(map(str, split))


def split_note(split: list[int] | None) -> str:
    """`` (connections per process 2+2)``, or nothing when it was not seen."""
    return f" (connections per process {split_label(split)})" if split else ""


def rounds_cell(load: dict[str, Any]) -> str:
    """Requests/s of each round, with how the server's processes shared wrk's
    connections in it (bench.http.worker_split: a 4+0 round is one process)."""
    splits = load.get("split_rounds") or []
    return " / ".join(
        f"{rps:.0f}"
        + (f" ({split_label(splits[i])})" if i < len(splits) and splits[i] else "")
        for i, rps in enumerate(load.get("rps_rounds", ()))
    )


def like_for_like(
    ours: dict[str, Any], theirs: dict[str, Any]
) -> tuple[str, float | None]:
    """``; rounds of equal split: 4: 1.68×, 3+1: 1.49×``: the ratio of the median
    requests/s of the rounds in which both servers' processes shared the
    connections the same way (bench.http.worker_split), or nothing when no split
    was seen on both; with the lowest of those ratios, which the verdicts use:
    a round's split halves or doubles its figure, and compared split for split
    only the servers' own costs remain."""

    def by_split(load: dict[str, Any]) -> dict[str, list[float]]:
        groups: dict[str, list[float]] = {}
        rounds = zip(
            load.get("rps_rounds", ()), load.get("split_rounds") or (), strict=False
        )
        for rps, split in rounds:
            if split:
                groups.setdefault(split_label(split), []).append(rps)
        return groups

    mine, peer = by_split(ours), by_split(theirs)
    ratios = {
        split: median(mine[split]) / median(peer[split])
        for split in sorted(mine.keys() & peer.keys())
        if median(peer[split])
    }
    if not ratios:
        return "", None
    text = ", ".join(f"{split}: {ratio:.2f}×" for split, ratio in ratios.items())
    return f"; rounds of equal split (the lowest decides): {text}", min(ratios.values())


def floor_note(peers: dict[str, Any]) -> str:
    """The stack's floor (/healthz, measured in the tile rounds) over tipg's
    public tiles, median of the rounds' ratios; "" when it was not measured."""
    ratio = peers.get("floor_ratio")
    if not ratio:
        return ""
    rounds = ", ".join(f"{r:.2f}×" for r in peers.get("floor_ratio_rounds", ()))
    return f"; the stack's floor, /healthz, {ratio:.2f}× (rounds {rounds})"


def peer_verdict(ratio: float | None, lowest: float | None, target: float) -> str:
    """A ratio against a peer server meets its target when the lowest ratio of
    the rounds of equal split does (``like_for_like``), else when the ratio of
    the median rounds does."""
    decisive = lowest if lowest is not None else ratio
    return verdict(decisive is not None and decisive >= target)


def connects_cell(load: dict[str, Any] | None) -> Any:
    # wrk holds its connections open and counts socket errors, not connects.
    if not load or load.get("generator") == "wrk":
        return None
    return load["connects"]


def ogc_section(result: dict[str, Any]) -> str:
    """python -m bench.ogc: /ogc/ items against pygeoapi and tipg, same table."""
    rows = []
    for limit in (30, 1000):
        for name in result.get("servers", ()):
            key = f"{name} {limit}"
            gate = result["gate"].get(key, {})
            load = result["load"].get(key)
            rows.append(
                (
                    limit,
                    name,
                    "ok" if gate.get("ok") else "FAILED",
                    _ms(load),
                    load["rps"] if load else None,
                    rounds_cell(load) if load else None,
                    load.get("server_cpu_ms") if load else None,
                    load.get("db_cpu_ms") if load else None,
                    round(gate["bytes"] / 1024) if gate.get("bytes") else None,
                    connects_cell(load),
                    f"{load['background_cpu']:.0%}" if load else None,
                )
            )
    boxes = "; ".join(
        f"{limit}: {box['city']}, {tuple(box['bbox'])}, {box['matched']:,} matched"
        for limit, box in result["boxes"].items()
    )
    text = (
        f"{result['rows']:,} buildings; the peers serve a view of the public stock "
        "with the same properties and the point; bbox pages ordered by id on every "
        f"server (boxes: {boxes}: the smallest holding the page size, so that each "
        "page holds its whole selection and /ogc/ reads numberMatched off the page "
        "without a count; a fuller box adds a count capped at 10,001 rows to its "
        "statement). 2 workers per server; *ogc*: `python -m config.server` as "
        "deployed (granian, 2 threads a worker, keep-alive), "
        "*ogc+1t*: the same with one thread (reported, not judged: the targets "
        "take *ogc* as deployed against each peer's best set-up); the peers under "
        "gunicorn: "
        "*pygeoapi*: sync workers (a new "
        "connection per request), *+ka*: gthread, keep-alive; *tipg*: uvicorn "
        f"workers. Load: {load_generator(result['load'].values())}; "
        f"{result.get('repeat', 1)} round(s) of every server, one server at a time, "
        "figures of the median round. *CPU ms per request*: the server's processes "
        "and the PostgreSQL backends on the benchmark database, whatever else the "
        "box runs. *other load*: CPU busy before the run, from other users of the "
        "box.\n\n"
    )
    text += table(
        (
            "features",
            "server",
            "gate (same ids)",
            "p50 / p95 ms",
            "req/s",
            "req/s by round (connections per process)",
            "server CPU ms/req",
            "PostgreSQL CPU ms/req",
            "KB",
            "connections",
            "other load",
        ),
        rows,
    )
    statement = result.get("statement") or {}
    if statement:
        figures = "; ".join(
            f"{int(limit):,} features: planning {cost['planning_ms']:.2f} ms, "
            f"execution {cost['execution_ms']:.2f} ms"
            for limit, cost in statement.items()
        )
        text += (
            "\n\n*ogc*'s page statement in PostgreSQL (EXPLAIN ANALYZE on one warm "
            f"connection, median of {next(iter(statement.values()))['runs']}): "
            f"{figures}. A small page spends more of PostgreSQL's time planning "
            "than executing; tipg prepares its statements (asyncpg) and pays "
            "planning once per connection.\n"
        )
    return text


def ogc_targets(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for entry in result.get("ratios", []):
        if entry["ratio"] is None:
            continue
        cpu = entry.get("cpu_ratio")
        equal, lowest = like_for_like(
            result["load"].get(f"{entry['ours']} {entry['limit']}", {}),
            result["load"].get(f"{entry['theirs']} {entry['limit']}", {}),
        )
        out.append(
            (
                f"OGC items, {entry['limit']:,} features: requests/s over "
                f"{entry['peer']} (c=4)",
                f"≥ {entry['target']:.0f}×",
                f"{entry['ratio']:.1f}× ({entry['ours']} {entry['ours_rps']:.0f} vs "
                f"{entry['theirs']} {entry['theirs_rps']:.0f} req/s"
                + (f"; CPU per request: theirs {cpu:.1f}× ours" if cpu else "")
                + equal
                + ")",
                peer_verdict(entry["ratio"], lowest, entry["target"]),
            )
        )
    gate = result["gate"]
    failed = [key for key, value in gate.items() if not value["ok"]]
    out.append(
        (
            "OGC items: every server returns the same feature ids as /ogc/",
            "same ids, same order",
            "all agree" if not failed else "FAILED: " + ", ".join(sorted(failed)),
            verdict(not failed),
        )
    )
    return out


def machine_section(machine: dict[str, Any]) -> str:
    rows = [
        ("date", machine.get("date")),
        ("CPU", f"{machine.get('cpu')} ({machine.get('nproc')} cores seen by the OS)"),
        ("RAM", f"{machine.get('ram_gib')} GiB"),
        ("OS", machine.get("os")),
        ("PostgreSQL", machine.get("postgresql")),
        (
            "PostGIS / GEOS / PROJ",
            f"{machine.get('postgis')} / {machine.get('geos')} / {machine.get('proj')}",
        ),
        ("Python", machine.get("python")),
        (
            "Django / DRF / drf-gis",
            f"{machine.get('django')} / {machine.get('drf')} / "
            f"{machine.get('drf_gis')}",
        ),
        (
            "granian / psycopg",
            f"{machine.get('granian')} / {machine.get('psycopg')}",
        ),
    ]
    settings = machine.get("pg_settings") or {}
    rows.append(
        ("PostgreSQL settings", ", ".join(f"`{k}={v}`" for k, v in settings.items()))
    )
    return table(("", ""), rows)


# --- Printing (stdout)
def print_generate(result: dict[str, Any]) -> None:
    print("\n## Dataset\n")
    print(generate_section(result))


def print_import(result: dict[str, Any]) -> None:
    print("\n## Import (DIE profile)\n")
    print(import_section(result))


def print_http(result: dict[str, Any]) -> None:
    print("\n## GET /api/v1/buildings/\n")
    print(http_section(result))
    print()
    print(table(("target", "goal", "measured", ""), http_targets(result)))
    print()
    print(traps_section(result))


def print_paging(result: dict[str, Any]) -> None:
    print("\n## Deep pages and numberMatched\n")
    print(paging_section(result))
    print()
    print(table(("target", "goal", "measured", ""), paging_targets(result)))


# --- docs/benchmarks.md
HEADER = """# Benchmarks

Written by `python -m bench` (`make bench`); do not edit by hand. The figures come from
`var/bench/results.json` of the run(s) below. Protocol: reference/performance.md §6;
design goals: DESIGN.md "Serving fast" and performance.md §7. Benchmarks are never
part of the test suite.

Commands: `python -m bench generate --rows 200000|1000000`,
`python -m bench import --rows 200000`, `python -m bench buildings`,
`python -m bench paging`, `python -m bench all` (the four, then this file),
`python -m bench report` (this file only); maps and vector tiles:
`BENCH_DB=… python -m bench.maps` (or `--dataset 200k|1M`); OGC items against
pygeoapi and tipg: `python -m bench.ogc`.
"""


def write() -> None:
    results = load_results()
    # "finance" is not a dataset: python -m bench.finance records it on its own.
    finance = results.pop("finance", None)
    order = [label for label in SIZES if label in results] + sorted(
        set(results) - set(SIZES)
    )
    parts = [HEADER]
    summary: list[tuple[str, str, str, str]] = []
    not_run: list[str] = []
    machine = next(
        (
            results[label].get("machine")
            for label in order
            if results[label].get("machine")
        ),
        None,
    )
    if machine:
        parts.append("## Machine\n\n" + machine_section(machine))
    for label in order:
        data = results[label]
        parts.append(f"## Dataset {label}")
        if "generate" in data:
            parts.append(
                f"### Synthetic inventory ({data.get('generate_at', '')})\n\n"
                + generate_section(data["generate"])
            )
        if "import" in data:
            parts.append(
                "### Import through the real importer "
                f"({data.get('import_at', '')})\n\n" + import_section(data["import"])
            )
            imp = data["import"]
            if not imp.get("skipped"):
                summary.append(
                    (
                        f"{label}: import of {imp['rows']:,} DIE rows",
                        f"≤ {imp['target_s']:.0f} s",
                        f"{imp.get('seconds', imp['first']['seconds']):.0f} s "
                        f"({imp['rows_per_s']:.0f} rows/s)"
                        + (" projected" if imp.get("projected_from") else ""),
                        verdict(imp["pass"]),
                    )
                )
        else:
            not_run.append(f"{label}: import benchmark")
        if "http" in data:
            http = data["http"]
            parts.append(
                f"### GET /api/v1/buildings/ over HTTP ({data.get('http_at', '')})\n\n"
                f"{http['server']}, DEBUG off; "
                f"{http['concurrency']} client "
                "threads (http.client, keep-alive asked, TCP_NODELAY) for the c=4 "
                "columns, one for c=1; "
                "latencies are request-to-last-byte. *raw SQL*: the same "
                "FeatureCollection from "
                "`string_agg(ST_AsGeoJSON(t.*, 'geom', 6), ',')` through psycopg from "
                "the same threads. "
                "*drf-gis*: stock `GeoFeatureModelSerializer` over the same queryset "
                "(bench/drfgis_urls.py). *API's SQL alone*: the statement the list "
                "view sends (captured in-process), re-run through psycopg (median of "
                "7): what is left between it and *API c=1* is Python, Django and "
                "HTTP. *other load*: CPU busy before the run, from other users of "
                "the box.\n\n" + http_section(http)
            )
            parts.append("#### Traps, controlled\n\n" + traps_section(http))
            summary += [(f"{label}: {a}", b, c, d) for a, b, c, d in http_targets(http)]
        else:
            not_run.append(f"{label}: HTTP benchmark")
        if "paging" in data:
            parts.append(
                f"### Deep pages and numberMatched ({data.get('paging_at', '')})\n\n"
                + paging_section(data["paging"])
            )
            summary += [
                (f"{label}: {a}", b, c, d)
                for a, b, c, d in paging_targets(data["paging"])
            ]
        else:
            not_run.append(f"{label}: paging benchmark")
        if "maps" in data:
            parts.append(
                f"### Maps and vector tiles ({data.get('maps_at', '')})\n\n"
                + maps_section(data["maps"])
            )
            summary += [
                (f"{label}: {a}", b, c, d) for a, b, c, d in maps_targets(data["maps"])
            ]
        else:
            not_run.append(f"{label}: maps benchmark (python -m bench.maps)")
        if "ogc" in data:
            parts.append(
                "### OGC API – Features vs pygeoapi and tipg "
                f"({data.get('ogc_at', '')})\n\n" + ogc_section(data["ogc"])
            )
            summary += [
                (f"{label}: {a}", b, c, d) for a, b, c, d in ogc_targets(data["ogc"])
            ]
    if finance and "dashboard" in finance:
        run = finance["dashboard"]
        parts.append(
            "## Funder dashboard (python -m bench.finance, "
            f"{finance.get('dashboard_at')})\n\n"
            f"{run['commitments']:,} commitments and {run['disbursements']:,} "
            "disbursements for the funder measured; other processes kept "
            f"{run['busy']:.0%} of the CPU busy. Server time in process "
            "(test client).\n\n"
            + table(
                ("measure", "median ms", "p95 ms", "queries", ""),
                [
                    (name, f"{median:.1f}", f"{p95:.1f}", str(queries), status)
                    for name, median, p95, queries, status in run["rows"]
                ],
            )
        )
        page = next(row for row in run["rows"] if row[0] == "GET /financement/")
        summary.append(
            (
                "funder dashboard page, 1,000 commitments / 20,000 disbursements",
                f"≤ {run['target_ms']:.0f} ms",
                f"{page[1]:.0f} ms (median)",
                verdict(page[1] <= run["target_ms"]),
            )
        )
    else:
        not_run.append("funder dashboard benchmark (python -m bench.finance)")
    parts.insert(
        2 if machine else 1,
        "## Targets\n\n" + table(("target", "goal", "measured", ""), summary),
    )
    if not any("ogc" in results[label] for label in order):
        not_run.append("OGC items against pygeoapi and tipg (python -m bench.ogc)")
    for label in SIZES:
        if label not in results:
            not_run.append(f"{label}: no run recorded")
    if not_run:
        parts.append("## Not run\n\n" + "\n".join(f"- {item}" for item in not_run))
    DOC_FILE.parent.mkdir(parents=True, exist_ok=True)
    DOC_FILE.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
