"""Token fetch: get-connection of active connections that need no refresh, xkit vs baseline.

    python -m bench.token_fetch [--database sqlite|postgresql|both] [--seconds 10]

Seeds 1,000 connections, then for each server (``xkit serve`` with production settings, and
the bare baseline of ``bench/baseline.py`` on the same uvicorn and driver) runs wrk at
concurrency 1, 16 and 64 for a fixed duration, each request for a random connection.
Targets (2-core machine): xkit/baseline >= 0.7, p99 < 25 ms at 64, RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx

from bench.seed import CONNECTOR, CONTEXT_PREFIX, Installation, seed
from bench.support import (
    LoadResult,
    Server,
    bench_database,
    duration_from_env,
    machine_description,
    print_table,
    process_rss_mb,
    production_environment,
    run_wrk,
    vacuum_analyze,
)

CONCURRENCIES = (1, 16, 64)
CONNECTIONS = 1_000
WARM_UP_SECONDS = 2.0


def measure(server: Server, installation: Installation, *, seconds: float,
            concurrencies: tuple[int, ...], work_dir: Path) -> tuple[list[LoadResult], float]:
    """wrk at each concurrency against one running server; returns results and peak RSS."""
    common = {"secret": installation.secret_key, "count": installation.connections,
              "path_prefix": f"/api/platform/contexts/{CONTEXT_PREFIX}",
              "path_suffix": f"/connections/{CONNECTOR}", "server_pids": [server.pid],
              "script_dir": work_dir}
    probe = httpx.get(f"{server.url}{common['path_prefix']}0{common['path_suffix']}",
                      headers={"Authorization": f"Bearer {installation.secret_key}"}, timeout=30)
    if probe.status_code != 200:  # a server that only answers errors would look very fast
        raise SystemExit(f"{server.url} answered {probe.status_code}: {probe.text[:300]}\n"
                         f"{server.process.output()[-2000:]}")
    run_wrk(server.url, concurrency=16, seconds=WARM_UP_SECONDS, **common)  # type: ignore[arg-type]
    results = [run_wrk(server.url, concurrency=c, seconds=seconds, **common)  # type: ignore[arg-type]
               for c in concurrencies]
    return results, process_rss_mb(server.pid)[1]


Measured = tuple[str, str, LoadResult, float]  # database, server, result, peak RSS MB


def run(database: str, *, seconds: float, work_dir: Path) -> list[Measured]:
    """Measure xkit then the baseline on one database kind."""
    found: list[Measured] = []
    with bench_database(database, work_dir) as url:
        installation = asyncio.run(seed(url, work_dir / "data", connections=CONNECTIONS))
        vacuum_analyze(url)
        env = production_environment(url, installation.encryption_keys, work_dir / "data")
        for name, start in (("xkit", Server.xkit), ("baseline", Server.baseline)):
            server = start(env, work_dir / f"{database}-{name}.log")
            try:
                results, rss = measure(server, installation, seconds=seconds,
                                       concurrencies=CONCURRENCIES, work_dir=work_dir)
            finally:
                server.stop()
            found += [(database, name, result, rss) for result in results]
    return found


def report(found: list[Measured], seconds: float) -> None:
    print_table(
        f"Token fetch, {CONNECTIONS:,} connections, {seconds:g} s per run "
        "(CPU in cores busy: server / wrk / everything else on the machine)",
        ["database", "server", "c", "req/s", "p50 ms", "p99 ms", "errors", "server CPU",
         "wrk CPU", "others CPU", "peak RSS MB"],
        [[db, name, r.concurrency, r.rps, r.p50_ms, r.p99_ms, r.errors, r.server_cpu,
          r.loadgen_cpu, r.others_cpu, rss] for db, name, r, rss in found])
    by_key = {(db, name, r.concurrency): (r, rss) for db, name, r, rss in found}
    rows = []
    for db in dict.fromkeys(db for db, *_ in found):
        for c in CONCURRENCIES:
            xkit, rss = by_key[(db, "xkit", c)]
            baseline, _ = by_key[(db, "baseline", c)]
            ratio = xkit.rps / baseline.rps if baseline.rps else 0.0
            verdicts = [f"ratio {'met' if ratio >= 0.7 else 'MISSED'}"]
            if c == 64:
                verdicts.append(f"p99 {'met' if xkit.p99_ms < 25 else 'MISSED'}")
            verdicts.append(f"RSS {'met' if rss < 200 else 'MISSED'}")
            rows.append([db, c, xkit.rps, baseline.rps, ratio, xkit.p99_ms, rss,
                         ", ".join(verdicts)])
    print_table("xkit / baseline (targets: ratio >= 0.7, p99 < 25 ms at c=64, RSS < 200 MB)",
                ["database", "c", "xkit req/s", "baseline req/s", "ratio", "xkit p99 ms",
                 "xkit RSS MB", "targets"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=duration_from_env(10))
    args = parser.parse_args()
    print(machine_description())
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    found = []
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        for database in databases:
            found += run(database, seconds=args.seconds, work_dir=Path(tmp))
    report(found, args.seconds)


if __name__ == "__main__":
    main()
