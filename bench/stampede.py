"""Refresh stampede: 1,000 expired connections fetched at once through 3 xkit processes.

    python -m bench.stampede [--connections 1000] [--servers 3] [--requests-each 5]

The Microsoft emulator runs in strict rotation (a refresh token used twice revokes the whole
grant), so a double refresh would not just cost a request: it would break a connection. The
connections are made by real OAuth flows with access tokens that live 200 s, under xkit's
300 s margin, so every fetch needs a refresh first. Then every connection is fetched
``requests-each`` times, 64 requests at a time, round-robin over the servers.
Target: exactly one refresh per connection, every request answered with the one new token.

It also reports the window in which a killed server would lose a rotated refresh token: from
sending the refresh token to committing the provider's answer (each refresh's log line has
both parts: the provider's round trip, and the commit after the answer arrived).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.flows import FlowTarget, add_users, connect_many, emulated_installation
from bench.seed import CONNECTOR
from bench.support import (
    Server,
    machine_description,
    print_table,
    process_cpu_seconds,
)

CONCURRENCY = 64


async def stampede(servers: list[Server], secret: str, connections: int,
                   requests_each: int) -> tuple[dict[str, set[str]], list[str], float]:
    """Every connection ``requests_each`` times, shuffled; (tokens per context, failures,
    wall seconds)."""
    jobs = [n for n in range(connections) for _ in range(requests_each)]
    random.shuffle(jobs)
    tokens: dict[str, set[str]] = defaultdict(set)
    failures: list[str] = []
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for index, number in enumerate(jobs):
        queue.put_nowait((index, number))
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=120, headers=headers, limits=limits) as http:

        async def worker() -> None:
            while not queue.empty():
                index, number = queue.get_nowait()
                server = servers[index % len(servers)]
                response = await http.get(f"{server.url}/api/platform/contexts/"
                                          f"flow-{number}/connections/{CONNECTOR}")
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                tokens[f"flow-{number}"].add(response.json()["authorization"]["access_token"])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return tokens, failures, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--requests-each", type=int, default=5)
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        work = Path(tmp)
        servers: list[Server] = []
        with emulated_installation(work, "postgresql") as setup:
            microsoft, installation, env = setup.microsoft, setup.installation, setup.env
            microsoft.configure(access_token_lifetime=200, strict_rotation=True)
            try:
                servers.append(Server.xkit(env, work / "xkit-0.log", port=setup.port))
                servers += [Server.xkit(env, work / f"xkit-{n}.log")
                            for n in range(1, args.servers)]
                logins = add_users(microsoft, args.connections)
                target = FlowTarget(servers[0].url, "bench", installation.secret_key,
                                    CONNECTOR)
                _, setup_seconds = asyncio.run(connect_many(target, microsoft, logins,
                                                            concurrency=8))
                microsoft.configure(access_token_lifetime=3600)
                before = microsoft.counters()["token_requests"].get("refresh_token", 0)
                cpu_before = [process_cpu_seconds(s.pid) for s in servers]
                client_before = resource.getrusage(resource.RUSAGE_SELF)
                tokens, failures, wall = asyncio.run(stampede(
                    servers, installation.secret_key, args.connections, args.requests_each))
                client_after = resource.getrusage(resource.RUSAGE_SELF)
                server_cpu = sum(process_cpu_seconds(s.pid) - b
                                 for s, b in zip(servers, cpu_before, strict=True)) / wall
                refreshes = microsoft.counters()["token_requests"]["refresh_token"] - before
                # Strict rotation: any reuse revoked the grant, so a forced refresh now fails.
                broken = asyncio.run(_broken_grants(servers[0], installation.secret_key,
                                                    args.connections))
            finally:
                for server in servers:
                    server.stop()
                windows = refresh_windows([work / f"xkit-{n}.log" for n in range(args.servers)])
    requests = args.connections * args.requests_each
    client_cpu = ((client_after.ru_utime - client_before.ru_utime)
                  + (client_after.ru_stime - client_before.ru_stime)) / wall
    doubles = sum(1 for t in tokens.values() if len(t) > 1) + max(0, refreshes - args.connections)
    print(f"setup: {args.connections} connections by real OAuth flows in {setup_seconds:.0f} s")
    print_table(f"Refresh stampede ({args.connections:,} expired connections, "
                f"{args.servers} xkit processes, PostgreSQL, {CONCURRENCY} concurrent requests)",
                ["requests", "failed", "seconds", "refreshes", "refreshes/s",
                 "requests per refresh", "double refreshes", "grants broken",
                 "xkit CPU (all)", "client CPU"],
                [[requests, len(failures), wall, refreshes, refreshes / wall,
                  requests / refreshes if refreshes else 0, doubles, broken, server_cpu,
                  client_cpu]])
    verdict = "met" if doubles == 0 and broken == 0 and not failures and \
        refreshes == args.connections else "MISSED"
    print(f"\nexactly one refresh per connection, none broken: {verdict}")
    for failure in failures[:5]:
        print("  failure:", failure)
    if windows:
        rows = []
        for label, values in (("provider round trip", [a for a, _ in windows]),
                              ("answer to commit", [b for _, b in windows]),
                              ("window (sent to committed)", [a + b for a, b in windows])):
            ordered = sorted(values)
            rows.append([label, statistics.median(ordered),
                         ordered[int(0.95 * (len(ordered) - 1))], ordered[-1]])
        print_table(f"Refresh window, ms ({len(windows)} refreshes)",
                    ["part", "median", "p95", "max"], rows)


STORED = re.compile(r"provider answered in ([\d.]+) ms, stored ([\d.]+) ms later")


def refresh_windows(logs: list[Path]) -> list[tuple[float, float]]:
    """(round trip, answer to commit) in ms of every refresh the servers logged."""
    found: list[tuple[float, float]] = []
    for log in logs:
        if log.exists():
            text = log.read_text(errors="replace")
            found += [(float(a), float(b)) for a, b in STORED.findall(text)]
    return found


async def _broken_grants(server: Server, secret: str, connections: int) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(timeout=60, headers=headers) as http:
        semaphore = asyncio.Semaphore(16)

        async def check(number: int) -> bool:
            async with semaphore:
                response = await http.get(
                    f"{server.url}/api/platform/contexts/flow-{number}/connections/{CONNECTOR}",
                    params={"force_refresh": "true"})
                return response.status_code != 200

        return sum(await asyncio.gather(*(check(n) for n in range(connections))))


if __name__ == "__main__":
    main()
