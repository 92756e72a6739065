"""Where a route spends its time: ``xkit serve`` sampled by py-spy under wrk load.

    python -m bench.profile [--database sqlite|postgresql] [--route "token fetch"]
                            [--seconds 10] [--top 25]

``--route`` names one of :mod:`bench.api_routes`' routes (the token fetch by default).

Prints the functions with the most samples, inclusive (on the stack) and exclusive (running),
and leaves a collapsed-stack file (for flamegraph.pl or speedscope) whose path it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api_routes import COMMON_LUA, ROUTES, connection_ids
from bench.seed import seed
from bench.support import (
    Server,
    bench_database,
    print_table,
    production_environment,
    run_wrk_script,
    vacuum_analyze,
)


def summarize(collapsed: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        exclusive[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    for title, counter in (("inclusive", inclusive), ("exclusive", exclusive)):
        print_table(f"py-spy samples, {title} ({total:,} samples)", ["share", "function"],
                    [[f"{100 * n / total:.1f}%", frame[:140]]
                     for frame, n in counter.most_common(top)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--route", choices=[r.name for r in ROUTES], default="token fetch")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--output", type=Path, default=Path("xkit-profile.collapsed"))
    args = parser.parse_args()
    # beside this interpreter first: a venv's scripts need not be on PATH
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("install the bench extra first: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory(prefix="xkit-profile-") as tmp:
        work = Path(tmp)
        with bench_database(args.database, work) as url:
            installation = asyncio.run(seed(url, work / "data", connections=1_000))
            vacuum_analyze(url)
            env = production_environment(url, installation.encryption_keys, work / "data")
            server = Server.xkit(env, work / "xkit.log")
            try:
                route = next(r for r in ROUTES if r.name == args.route)
                lua = COMMON_LUA.format(secret=installation.secret_key,
                                        count=installation.connections, seed=0)
                lua += route.request(installation, connection_ids(server, installation))
                sampler = subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.pid), "--format", "raw",
                     "--rate", "200", "--duration", str(int(args.seconds) + 1),
                     "--output", str(args.output.resolve()), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                result = run_wrk_script(server.url, lua, concurrency=args.concurrency,
                                        seconds=args.seconds, server_pids=[server.pid],
                                        script_dir=work)
                sampler.wait(timeout=60)
            finally:
                server.stop()
    print(f"{args.route}: {result.rps:,.0f} req/s while sampled; collapsed stacks in {args.output}")
    summarize(args.output, args.top)


if __name__ == "__main__":
    main()
