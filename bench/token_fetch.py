"""Token fetch: get-connection of active connections that need no refresh, xkit vs baseline.

    python -m bench.token_fetch [--database sqlite|postgresql|both] [--seconds 10]
                                [--rounds 3]

Seeds 1,000 connections and starts both servers (``xkit serve`` with production settings, and
the bare baseline of ``bench/baseline.py`` on the same uvicorn and driver). Then, at
concurrency 1, 16 and 64, wrk runs for a fixed duration against each in turn, each request
for a random connection, ``--rounds`` times (3): a shared machine's speed drifts by half
within minutes, and taking turns lets the drift weigh on both. Each figure is the median run.
Targets (issue 14, 2-core machine): xkit/baseline >= 0.8 on PostgreSQL and >= 1.0 on SQLite
at every concurrency; p99 < 25 ms at 64; RSS < 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
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
    production_environment,
    run_wrk,
    vacuum_analyze,
)

CONCURRENCIES = (1, 16, 64)
CONNECTIONS = 1_000
# xkit's throughput over the baseline's, per database (issue 14).
RATIO_TARGETS = {"postgresql": 0.8, "sqlite": 1.0}
WARM_UP_SECONDS = 2.0


def measure(servers: dict[str, Server], installations: dict[str, Installation], *,
            seconds: float, rounds: int, work_dir: Path,
            concurrencies: tuple[int, ...] = CONCURRENCIES,
            ) -> dict[str, tuple[dict[int, list[LoadResult]], float]]:
    """wrk at each concurrency against every server (each fetching from its installation),
    ``rounds`` times, the servers taking turns (in alternating order) so that a machine that
    slows down or speeds up meanwhile weighs on all alike. Per server: its runs per
    concurrency, and its peak RSS."""
    def load(name: str) -> dict[str, object]:
        installation = installations[name]
        return {"secret": installation.secret_key, "count": installation.connections,
                "path_prefix": f"/api/platform/contexts/{CONTEXT_PREFIX}",
                "path_suffix": f"/connections/{CONNECTOR}", "script_dir": work_dir,
                "server_pids": servers[name].pids}

    for name, server in servers.items():
        common = load(name)
        probe = httpx.get(f"{server.url}{common['path_prefix']}0{common['path_suffix']}",
                          headers={"Authorization": f"Bearer {common['secret']}"}, timeout=30)
        if probe.status_code != 200:  # a server that only answers errors would look very fast
            raise SystemExit(f"{server.url} answered {probe.status_code}: {probe.text[:300]}\n"
                             f"{server.process.output()[-2000:]}")
        run_wrk(server.url, concurrency=16, seconds=WARM_UP_SECONDS,  # type: ignore[arg-type]
                **common)
    runs: dict[str, dict[int, list[LoadResult]]] = {name: {} for name in servers}
    for concurrency in concurrencies:
        for round_number in range(rounds):
            names = list(servers) if round_number % 2 == 0 else list(reversed(servers))
            for name in names:
                runs[name].setdefault(concurrency, []).append(run_wrk(
                    servers[name].url, concurrency=concurrency,  # type: ignore[arg-type]
                    seconds=seconds, **load(name)))
    return {name: (runs[name], server.peak_rss_mb()) for name, server in servers.items()}


@dataclass(frozen=True)
class Measured:
    database: str
    server: str
    runs: list[LoadResult]  # one per round, at one concurrency
    peak_rss_mb: float

    @property
    def median(self) -> LoadResult:
        """The round with the median throughput: its latencies are reported with it."""
        return sorted(self.runs, key=lambda run: run.rps)[len(self.runs) // 2]


def run(database: str, *, seconds: float, rounds: int, work_dir: Path) -> list[Measured]:
    """Measure xkit and the baseline, side by side, on one database kind."""
    with bench_database(database, work_dir) as url:
        installation = asyncio.run(seed(url, work_dir / "data", connections=CONNECTIONS))
        vacuum_analyze(url)
        env = production_environment(url, installation.encryption_keys, work_dir / "data")
        servers: dict[str, Server] = {}
        try:
            servers["xkit"] = Server.xkit(env, work_dir / f"{database}-xkit.log")
            servers["baseline"] = Server.baseline(env, work_dir / f"{database}-baseline.log")
            measured = measure(servers, {name: installation for name in servers},
                               seconds=seconds, rounds=rounds,
                               work_dir=work_dir)
        finally:
            for server in servers.values():
                server.stop()
    return [Measured(database, name, runs[c], rss)
            for name, (runs, rss) in measured.items() for c in CONCURRENCIES]


def print_runs(found: list[Measured], title: str, rss_label: str) -> None:
    """Every server's median run at each concurrency, with the spread of its rounds."""
    print_table(
        f"{title} (CPU in cores busy: server / wrk / everything else on the machine)",
        ["database", "server", "c", "req/s", "req/s range", "p50 ms", "p99 ms", "errors",
         "server CPU", "wrk CPU", "others CPU", rss_label],
        [[m.database, m.server, r.concurrency, r.rps, value_range(run.rps for run in m.runs),
          r.p50_ms, r.p99_ms, sum(run.errors for run in m.runs), r.server_cpu,
          r.loadgen_cpu, r.others_cpu, m.peak_rss_mb]
         for m in found for r in [m.median]])


def report(found: list[Measured], seconds: float, rounds: int) -> None:
    print_runs(found, f"Token fetch, {CONNECTIONS:,} connections, median of {rounds} runs of "
                      f"{seconds:g} s", "peak RSS MB")
    by_key = {(m.database, m.server, m.median.concurrency): m for m in found}
    rows = []
    for db in dict.fromkeys(m.database for m in found):
        for c in CONCURRENCIES:
            xkit, baseline = by_key[(db, "xkit", c)], by_key[(db, "baseline", c)]
            ratio = xkit.median.rps / baseline.median.rps if baseline.median.rps else 0.0
            paired = (x.rps / b.rps for x, b in zip(xkit.runs, baseline.runs, strict=True)
                      if b.rps)
            target = RATIO_TARGETS[db]
            verdicts = [f"ratio {'met' if ratio >= target else 'MISSED'} (>= {target:g})"]
            if c == 64:
                verdicts.append(f"p99 {'met' if xkit.median.p99_ms < 25 else 'MISSED'}")
            verdicts.append(f"RSS {'met' if xkit.peak_rss_mb < 200 else 'MISSED'}")
            rows.append([db, c, xkit.median.rps, baseline.median.rps, ratio, value_range(paired),
                         xkit.median.p99_ms, xkit.peak_rss_mb, ", ".join(verdicts)])
    print_table("xkit / baseline (targets: ratio >= 0.8 on PostgreSQL, >= 1.0 on SQLite; "
                "p99 < 25 ms at c=64, RSS < 200 MB)",
                ["database", "c", "xkit req/s", "baseline req/s", "ratio", "ratio per round",
                 "xkit p99 ms", "xkit RSS MB", "targets"], rows)


def value_range(values: Iterable[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    low, high = ordered[0], ordered[-1]
    return f"{low:.2f}–{high:.2f}" if high < 10 else f"{low:,.0f}–{high:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=duration_from_env(10))
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per server and concurrency, the servers taking turns")
    args = parser.parse_args()
    print(machine_description())
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    found = []
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        for database in databases:
            found += run(database, seconds=args.seconds, rounds=args.rounds,
                         work_dir=Path(tmp))
    report(found, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
