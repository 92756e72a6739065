"""CPU per token fetch, in process: xkit's app and the baseline's, taking turns.

    python -m bench.cpu_per_fetch [--database sqlite|postgresql|both] [--requests 1000]
                                  [--rounds 5] [--concurrency 1] [--profile]

On a shared machine wrk's req/s measure the other tenants as much as xkit: when they keep
both cores busy, each server gets a fifth of a core and the ratio is noise. This measures
what the ratio is made of — the server's CPU time per request (``time.process_time``, all
threads of this process, so aiosqlite's too; PostgreSQL's own work is not in it) — by
calling both ASGI apps directly, the same requests, one after the other in rounds.
``--profile`` prints cProfile's view of xkit's last round.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.seed import CONNECTOR, CONTEXT_PREFIX, seed
from bench.support import bench_database, machine_description, print_table, vacuum_analyze

CONNECTIONS = 1_000
Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _get(app: Asgi, path: str, secret: str) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1"),
                         (b"authorization", f"Bearer {secret}".encode())]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 200:  # an app that only answers errors would look very cheap
        raise SystemExit(f"{path} answered {sent[0]['status']}: {sent[-1].get('body')!r}")


async def _lifespan(app: Asgi) -> Callable[[], Awaitable[None]]:
    """Start the app as a server would; returns what stops it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                    "state": {}}, inbox.get, outbox.put))
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"start-up failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
    return stop


async def _cpu_us(app: Asgi, secret: str, requests: int, concurrency: int = 1) -> float:
    """CPU per fetch, ``concurrency`` fetches in flight at a time (each of that many tasks
    fetching one after the other), as a server with that many clients runs them."""
    paths = [f"/api/platform/contexts/{CONTEXT_PREFIX}{random.randrange(CONNECTIONS)}"
             f"/connections/{CONNECTOR}" for _ in range(requests)]

    async def client(share: list[str]) -> None:
        for path in share:
            await _get(app, path, secret)

    started = time.process_time()
    await asyncio.gather(*(client(paths[n::concurrency]) for n in range(concurrency)))
    return (time.process_time() - started) / requests * 1e6


def measure(database: str, *, requests: int, rounds: int, profile: bool,
            work_dir: Path, concurrency: int = 1) -> dict[str, list[float]]:
    """Microseconds of CPU per fetch, per round, for xkit and the baseline."""
    with bench_database(database, work_dir) as url:
        installation = asyncio.run(seed(url, work_dir / "data", connections=CONNECTIONS))
        vacuum_analyze(url)
        # As `xkit serve` runs in bench.token_fetch (production_environment), in process.
        os.environ.update({
            "XKIT_DATABASE_URL": url, "XKIT_ENCRYPTION_KEYS": installation.encryption_keys,
            "XKIT_DATA_DIR": str(work_dir / "data"), "XKIT_LOG_LEVEL": "info",
            "XKIT_LOG_FORMAT": "json", "XKIT_MIGRATE_ON_START": "false",
            "XKIT_WORKER_ENABLED": "false"})
        from bench.baseline import Baseline
        from xkit.app import create_app
        from xkit.logs import configure_logging
        from xkit.settings import Settings

        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        devnull = open(os.devnull, "w")  # noqa: SIM115 -- the access log is written, to nowhere
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)

        async def run() -> dict[str, list[float]]:
            apps: dict[str, Asgi] = {"xkit": create_app(settings), "baseline": Baseline()}
            stops = [await _lifespan(app) for app in apps.values()]
            found: dict[str, list[float]] = {name: [] for name in apps}
            try:
                for app in apps.values():  # warm-up: pools, caches
                    await _cpu_us(app, installation.secret_key, 200)
                for number in range(rounds):
                    names = list(apps) if number % 2 == 0 else list(reversed(apps))
                    for name in names:
                        profiler = (cProfile.Profile(time.process_time)
                                    if profile and name == "xkit" and number == rounds - 1
                                    else None)
                        if profiler:
                            profiler.enable()
                        found[name].append(await _cpu_us(
                            apps[name], installation.secret_key, requests, concurrency))
                        if profiler:
                            profiler.disable()
                            text = io.StringIO()
                            pstats.Stats(profiler, stream=text).sort_stats(
                                "tottime").print_stats(40)
                            print(text.getvalue())
            finally:
                for stop in stops:
                    await stop()
            return found

        return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=1_000, help="per round and app")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="fetches in flight at a time (as wrk's connections)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(machine_description())
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    rows = []
    for database in databases:
        with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
            found = measure(database, requests=args.requests, rounds=args.rounds,
                            profile=args.profile, work_dir=Path(tmp),
                            concurrency=args.concurrency)
        xkit, baseline = statistics.median(found["xkit"]), statistics.median(found["baseline"])
        paired = sorted(b / x for x, b in zip(found["xkit"], found["baseline"], strict=True))
        rows.append([database, f"{xkit:,.0f}", f"{baseline:,.0f}", f"{baseline / xkit:.2f}",
                     f"{paired[0]:.2f}–{paired[-1]:.2f}"])
    print_table(f"CPU per token fetch, in process, median of {args.rounds} rounds of "
                f"{args.requests:,}, {args.concurrency} at a time (baseline / xkit is the "
                "throughput ratio of a CPU-bound server)",
                ["database", "xkit µs", "baseline µs", "baseline / xkit", "per round"], rows)


if __name__ == "__main__":
    main()
