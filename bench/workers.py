"""Token fetch from ``xkit serve`` with 1 and with 2 processes (``XKIT_WORKERS``), side by side.

    python -m bench.workers [--database sqlite|postgresql|both] [--seconds 10] [--rounds 3]

Seeds 1,000 connections, then starts two servers on the same database: ``xkit serve`` as in
production, and the same with ``XKIT_WORKERS=2``. At concurrency 1, 16 and 64 wrk fetches
random connections from each in turn (``bench/token_fetch.py``'s measure: ``--rounds`` runs,
the order reversed every round, each figure the median run). A server's CPU counts all of its
processes. Then one more run per concurrency tells, from the JSON access log, how evenly the
two processes shared the requests: wrk opens its keep-alive connections at once, and a
connection stays with the process that accepted it.

On a 2-core machine the second process competes with wrk, the database and everything else
running: the table reports the cores each used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.seed import CONNECTOR, CONTEXT_PREFIX, Installation, seed
from bench.support import (
    Server,
    bench_database,
    duration_from_env,
    machine_description,
    print_table,
    production_environment,
    run_wrk,
    vacuum_analyze,
)
from bench.token_fetch import (
    CONCURRENCIES,
    CONNECTIONS,
    Measured,
    measure,
    print_runs,
    value_range,
)

SERVERS = {"1 process": "1", "2 processes": "2"}


def run(database: str, *, seconds: float, rounds: int,
        work_dir: Path) -> tuple[list[Measured], dict[str, float], dict[int, float]]:
    """Both servers on one database. Returns the measurements, each server's total RSS at the
    end, and per concurrency the share of requests the busier of the 2 processes answered."""
    with bench_database(database, work_dir) as url:
        installation = asyncio.run(seed(url, work_dir / "data", connections=CONNECTIONS))
        vacuum_analyze(url)
        servers: dict[str, Server] = {}
        try:
            for name, workers in SERVERS.items():
                env = production_environment(url, installation.encryption_keys,
                                             work_dir / "data", XKIT_WORKERS=workers)
                servers[name] = Server.xkit(env, work_dir / f"{database}-{workers}.log")
            _wait_for_children(servers["2 processes"], 2)
            measured = measure(servers, {name: installation for name in servers},
                               seconds=seconds, rounds=rounds, work_dir=work_dir)
            rss = {name: server.total_rss_mb() for name, server in servers.items()}
            shares = _shares(servers["2 processes"], installation, seconds=seconds / 2,
                             work_dir=work_dir)
        finally:
            for server in servers.values():
                server.stop()
    found = [Measured(database, name, runs[c], peak)
             for name, (runs, peak) in measured.items() for c in CONCURRENCIES]
    return found, rss, shares


def _wait_for_children(server: Server, count: int) -> None:
    """The parent answers /healthz as soon as one child does; wait for every child."""
    deadline = time.monotonic() + 120
    while server.process.output().count("is serving") < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{server.url}: not every process started\n"
                             f"{server.process.output()[-2000:]}")
        time.sleep(0.2)


def _shares(server: Server, installation: Installation, *, seconds: float,
            work_dir: Path) -> dict[int, float]:
    """Per concurrency, the share of a run's requests that the busier of the two processes
    answered (0.5 is even), from one more wrk run each, counted in the JSON access log."""
    found = {}
    for concurrency in CONCURRENCIES:
        time.sleep(1.0)  # the previous run's last access lines are written by now
        before = len(server.process.output())
        run_wrk(server.url, secret=installation.secret_key, count=installation.connections,
                path_prefix=f"/api/platform/contexts/{CONTEXT_PREFIX}",
                path_suffix=f"/connections/{CONNECTOR}", concurrency=concurrency,
                seconds=seconds, server_pids=server.pids, script_dir=work_dir)
        answered: Counter[int] = Counter()
        for line in server.process.output()[before:].splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # not a record (or two processes' lines run together: rare)
                continue
            if record.get("logger") == "xkit.access":
                answered[record["pid"]] += 1
        found[concurrency] = max(answered.values()) / sum(answered.values())
    return found


def report(found: list[Measured], rss: dict[str, dict[str, float]],
           shares: dict[str, dict[int, float]], seconds: float, rounds: int) -> None:
    print_runs(found, f"Token fetch, 1 vs 2 processes, {CONNECTIONS:,} connections, median of "
                      f"{rounds} runs of {seconds:g} s", "largest process RSS MB")
    by_key = {(m.database, m.server, m.median.concurrency): m for m in found}
    rows = []
    for db in dict.fromkeys(m.database for m in found):
        for c in CONCURRENCIES:
            one, two = by_key[(db, "1 process", c)], by_key[(db, "2 processes", c)]
            paired = (t.rps / o.rps for t, o in zip(two.runs, one.runs, strict=True) if o.rps)
            rows.append([db, c, one.median.rps, two.median.rps,
                         two.median.rps / one.median.rps if one.median.rps else 0.0,
                         value_range(paired), one.median.p99_ms, two.median.p99_ms])
    print_table("2 processes / 1 process", ["database", "c", "1 process req/s",
                                            "2 processes req/s", "ratio", "ratio per round",
                                            "1 process p99 ms", "2 processes p99 ms"], rows)
    print_table("Memory, and how evenly the 2 processes shared the runs",
                ["database", "1 process RSS MB", "2 processes RSS MB (all)",
                 *(f"busier process's share, c={c}" for c in CONCURRENCIES)],
                [[db, rss[db]["1 process"], rss[db]["2 processes"],
                  *(shares[db][c] for c in CONCURRENCIES)] for db in rss])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=duration_from_env(10))
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per server and concurrency, the servers taking turns")
    args = parser.parse_args()
    print(machine_description())
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    found: list[Measured] = []
    rss: dict[str, dict[str, float]] = {}
    shares: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        for database in databases:
            measured, rss[database], shares[database] = run(
                database, seconds=args.seconds, rounds=args.rounds, work_dir=Path(tmp))
            found += measured
    report(found, rss, shares, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
