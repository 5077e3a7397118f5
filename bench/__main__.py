"""``python -m bench [generate|import|buildings|paging|all|report] …``

Without a sub-command: ``all`` (200,000 buildings). Results accumulate in
var/bench/results.json per dataset size; docs/benchmarks.md is rewritten at the end
of every command.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import (
    BENCH_DB,
    SIZES,
    cpu_busy,
    loadavg,
    log,
    machine_facts,
    save_result,
    setup_django,
    size_label,
    wait_quiet,
)

WAIT_QUIET = 300.0
QUIET_THRESHOLD = 0.15
WAIT_HELP = (
    "seconds to wait, before measuring, for other processes to leave the cores "
    "(the box is shared; the busy share is recorded with every figure)"
)
BUDGET_HELP = (
    "seconds: run the full import only if a 10,000-row probe projects it within "
    "this (otherwise the projection is reported)"
)


def _rows(value: str) -> int:
    value = value.strip()
    if value in SIZES:
        return SIZES[value]
    multiplier = 1
    if value[-1:].lower() == "k":
        multiplier, value = 1000, value[:-1]
    elif value[-1:].upper() == "M":
        multiplier, value = 1_000_000, value[:-1]
    return int(float(value) * multiplier)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    gen = sub.add_parser(
        "generate", help="(re)create intercalaire_bench with N synthetic buildings"
    )
    gen.add_argument("--rows", type=_rows, default=200_000, help="200k, 1M, 50000…")
    gen.add_argument("--seed", type=int, default=None)

    imp = sub.add_parser("import", help="time the DIE importer on N synthetic rows")
    imp.add_argument("--rows", type=_rows, default=200_000)
    imp.add_argument("--import-budget", type=float, default=300.0, help=BUDGET_HELP)

    http = sub.add_parser(
        "buildings",
        help="HTTP latency of GET /api/v1/buildings/ vs raw SQL and drf-gis",
    )
    http.add_argument("--quick", action="store_true", help="fewer requests")
    http.add_argument("--skip-drf-gis", action="store_true")
    http.add_argument("--wait-quiet", type=float, default=WAIT_QUIET, help=WAIT_HELP)

    paging = sub.add_parser(
        "paging", help="keyset vs OFFSET at a deep page, numberMatched costs"
    )
    paging.add_argument("--wait-quiet", type=float, default=WAIT_QUIET, help=WAIT_HELP)

    everything = sub.add_parser(
        "all", help="generate, import, buildings and paging, then the report"
    )
    everything.add_argument("--rows", type=_rows, default=200_000)
    everything.add_argument("--quick", action="store_true")
    everything.add_argument("--skip-import", action="store_true")
    everything.add_argument(
        "--skip-generate", action="store_true", help="reuse intercalaire_bench"
    )
    everything.add_argument(
        "--import-budget", type=float, default=300.0, help=BUDGET_HELP
    )
    everything.add_argument(
        "--wait-quiet", type=float, default=WAIT_QUIET, help=WAIT_HELP
    )

    sub.add_parser(
        "report", help="rewrite docs/benchmarks.md from var/bench/results.json"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["all"])
    command = args.command

    started = time.perf_counter()
    setup_django(BENCH_DB)
    from bench import report

    if command == "generate":
        _generate(args.rows, args.seed)
    elif command == "import":
        _import(args.rows, args.import_budget)
    elif command == "buildings":
        _quiet(args.wait_quiet)
        _buildings(quick=args.quick, skip_drf_gis=args.skip_drf_gis)
    elif command == "paging":
        _quiet(args.wait_quiet)
        _paging()
    elif command == "all":
        if not args.skip_generate:
            _generate(args.rows, None)
        if not args.skip_import:
            _import(args.rows, args.import_budget)
        _quiet(args.wait_quiet)
        _buildings(quick=args.quick, skip_drf_gis=False)
        _paging()
    report.write()
    log(f"done in {time.perf_counter() - started:.0f} s; docs/benchmarks.md written")
    return 0


def _quiet(max_wait: float) -> None:
    busy = cpu_busy(2.0)
    if busy > QUIET_THRESHOLD and max_wait > 0:
        log(f"the cores are {busy:.0%} busy: waiting up to {max_wait:.0f} s for quiet")
        busy = wait_quiet(threshold=QUIET_THRESHOLD, max_wait=max_wait)
    log(f"cores busy before measuring: {busy:.0%} (load average {loadavg():.1f})")


def _dataset() -> str:
    from bench.common import connect, database_url

    with connect(database_url(BENCH_DB)) as conn:
        rows = conn.execute("SELECT count(*) FROM buildings_building").fetchone()[0]
    return size_label(rows)


def _generate(rows: int, seed: int | None) -> None:
    from bench import generate, report

    result = generate.run(rows, seed if seed is not None else generate.SEED)
    label = size_label(rows)
    save_result(label, "generate", result)
    save_result(label, "machine", machine_facts())
    report.print_generate(result)


def _import(rows: int, budget: float) -> None:
    from bench import importing, report

    result = importing.run(rows, budget_s=budget)
    save_result(size_label(rows), "import", result)
    report.print_import(result)


def _buildings(*, quick: bool, skip_drf_gis: bool) -> None:
    from bench import http, report

    label = _dataset()
    result = http.run(quick=quick, skip_drf_gis=skip_drf_gis)
    save_result(label, "http", result)
    save_result(label, "machine", machine_facts())
    report.print_http(result)


def _paging() -> None:
    from bench import paging, report

    label = _dataset()
    result = paging.run()
    save_result(label, "paging", result)
    report.print_paging(result)


if __name__ == "__main__":
    sys.exit(main())
