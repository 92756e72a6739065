"""Scale: the token fetch with 1,000, 100,000 and 1,000,000 connections in PostgreSQL.

    python -m bench.scale [--sizes 1000,100000,1000000] [--seconds 10] [--concurrency 16]
                          [--rounds 3]

Each size gets a database of its own, seeded in bulk (``COPY``, tokens encrypted by the real
keyring), and an ``xkit serve`` of its own. wrk then fetches random connections among all of
a size's, against each server in turn, ``--rounds`` times (the order reversed each round):
this machine's speed drifts by a fifth within minutes, and measuring the sizes one after the
other would measure the drift. Each figure is the median round. Target: throughput within
20% from smallest to largest.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.seed import Installation, seed
from bench.support import (
    LoadResult,
    Server,
    bench_database,
    duration_from_env,
    machine_description,
    print_table,
    production_environment,
    vacuum_analyze,
)
from bench.token_fetch import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--seconds", type=float, default=duration_from_env(10))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per size, the sizes taking turns; the median is reported")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(machine_description())
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp, ExitStack() as cleanup:
        work = Path(tmp)
        installations: dict[str, Installation] = {}
        servers: dict[str, Server] = {}
        for size in sizes:
            url = cleanup.enter_context(bench_database("postgresql", work / str(size)))
            installation = asyncio.run(seed(url, work / str(size) / "data", connections=size))
            vacuum_analyze(url)
            env = production_environment(url, installation.encryption_keys,
                                         work / str(size) / "data")
            server = Server.xkit(env, work / f"xkit-{size}.log")
            cleanup.callback(server.stop)
            installations[f"{size:,}"], servers[f"{size:,}"] = installation, server
        measured = measure(servers, installations, seconds=args.seconds, rounds=args.rounds,
                           concurrencies=(args.concurrency,), work_dir=work)
    rows = []
    for name, (runs, rss) in measured.items():
        ordered: list[LoadResult] = sorted(runs[args.concurrency], key=lambda run: run.rps)
        result = ordered[len(ordered) // 2]
        rows.append([name, installations[name].seconds_to_seed, result.rps,
                     f"{ordered[0].rps:,.0f}–{ordered[-1].rps:,.0f}", result.p50_ms,
                     result.p99_ms, sum(run.errors for run in ordered), result.server_cpu,
                     result.others_cpu, rss])
    smallest, largest = rows[0][2], rows[-1][2]
    change = (largest - smallest) / smallest if smallest else 0.0
    print_table(f"Token fetch vs. connections seeded (PostgreSQL, c={args.concurrency}, "
                f"median of {args.rounds} runs of {args.seconds:g} s, the sizes taking turns)",
                ["connections", "seeding s", "req/s", "req/s range", "p50 ms", "p99 ms",
                 "errors", "server CPU", "others CPU", "peak RSS MB"], rows)
    verdict = "met" if abs(change) <= 0.20 else "MISSED"
    print(f"\nsmallest → largest: {change:+.1%} throughput (target within 20%: {verdict})")


if __name__ == "__main__":
    main()
