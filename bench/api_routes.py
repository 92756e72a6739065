"""The Platform API's busiest routes under load: throughput and tail latency, per route.

    python -m bench.api_routes [--database sqlite|postgresql|both] [--seconds 10]

Seeds 1,000 contexts with an Outlook connection each, starts ``xkit serve`` with production
settings, then at concurrency 1, 16 and 64 runs wrk for ``--seconds`` against each route in
turn, each request for a random context or connection:

- create context (``POST /contexts``, a new external id each time: every page load of an
  app's catalog mints a context token this way; a write),
- list connectors, list a context's connections, a connection by id (a token fetch by id),
- the token fetch (``GET /contexts/{id}/connections/{slug}``).

Targets (issue 14, on a quiet 2-core machine): every route p99 < 50 ms at c=16 and no
timeout at c=64, on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
from collections.abc import Callable
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
    run_wrk_script,
    vacuum_analyze,
)

CONCURRENCIES = (1, 16, 64)
CONNECTIONS = 1_000
BY_ID_SAMPLE = 200  # connection ids the by-id route picks from

COMMON_LUA = """
wrk.headers["Authorization"] = "Bearer {secret}"
local count = {count}
local first = true
local function pick()
  if first then math.randomseed(os.time() + {seed}); first = false end
  return math.random(0, count - 1)
end
"""


@dataclass(frozen=True)
class Route:
    name: str
    request: Callable[[Installation, list[str]], str]  # the Lua ``request`` function


ROUTES = (
    Route("create context", lambda _, __: """
wrk.headers["Content-Type"] = "application/json"
local made = 0
request = function()
  made = made + 1
  local id = "api-bench-" .. pick() .. "-" .. os.time() .. "-" .. made
  return wrk.format("POST", "/api/platform/contexts", nil,
                    '{"context": {"external_id": "' .. id .. '"}}')
end
"""),
    Route("list connectors", lambda _, __: """
request = function() return wrk.format("GET", "/api/platform/connectors") end
"""),
    Route("context's connections", lambda _, __: f"""
request = function()
  return wrk.format("GET", "/api/platform/contexts/{CONTEXT_PREFIX}" .. pick() .. "/connections")
end
"""),
    Route("connection by id", lambda _, ids: f"""
local ids = {{{", ".join(json.dumps(i) for i in ids)}}}
request = function()
  return wrk.format("GET", "/api/platform/connections/" .. ids[pick() % #ids + 1])
end
"""),
    Route("token fetch", lambda _, __: f"""
request = function()
  return wrk.format("GET", "/api/platform/contexts/{CONTEXT_PREFIX}" .. pick() ..
                    "/connections/{CONNECTOR}")
end
"""),
)


def connection_ids(server: Server, installation: Installation) -> list[str]:
    headers = {"Authorization": f"Bearer {installation.secret_key}"}
    ids = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        for number in range(BY_ID_SAMPLE):
            found = http.get(f"/api/platform/contexts/{CONTEXT_PREFIX}{number}/connections")
            found.raise_for_status()
            ids += [c["connection"]["id"] for c in found.json()["connections"]]
    return ids


def run(database: str, *, seconds: float, work_dir: Path) -> list[tuple[str, str, LoadResult]]:
    with bench_database(database, work_dir) as url:
        installation = asyncio.run(seed(url, work_dir / "data", connections=CONNECTIONS))
        vacuum_analyze(url)
        env = production_environment(url, installation.encryption_keys, work_dir / "data")
        server = Server.xkit(env, work_dir / f"{database}-routes.log")
        try:
            ids = connection_ids(server, installation)
            found = []
            for route in ROUTES:
                lua = COMMON_LUA.format(secret=installation.secret_key, count=CONNECTIONS,
                                     seed=secrets.randbelow(10_000))
                lua += route.request(installation, ids)
                run_wrk_script(server.url, lua, concurrency=16, seconds=1,  # warm-up
                               server_pids=[server.pid], script_dir=work_dir)
                for concurrency in CONCURRENCIES:
                    found.append((database, route.name, run_wrk_script(
                        server.url, lua, concurrency=concurrency, seconds=seconds,
                        server_pids=[server.pid], script_dir=work_dir)))
        finally:
            server.stop()
    return found


def report(found: list[tuple[str, str, LoadResult]], seconds: float) -> None:
    rows = []
    for database, route, result in found:
        verdict = ""
        if result.concurrency == 16:
            verdict = f"p99 {'met' if result.p99_ms < 50 else 'MISSED'}"
        elif result.concurrency == 64:
            verdict = f"timeouts {'met' if result.timeouts == 0 else 'MISSED'}"
        rows.append([database, route, result.concurrency, result.rps, result.p50_ms,
                     result.p99_ms, result.timeouts, result.errors - result.timeouts,
                     result.server_cpu, result.others_cpu, verdict])
    print_table(f"Platform API routes, {CONNECTIONS:,} contexts, runs of {seconds:g} s "
                "(targets: p99 < 50 ms at c=16, no timeout at c=64)",
                ["database", "route", "c", "req/s", "p50 ms", "p99 ms", "timeouts",
                 "other errors", "server CPU", "others CPU", "target"], rows)


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
