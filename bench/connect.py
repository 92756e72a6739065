"""Connect: complete OAuth flows per second, authorize → callback → token exchange, no browser.

    python -m bench.connect [--database sqlite|postgresql] [--flows 200] [--concurrency 8]

Each flow is what a user's click sets off: the backend creates the context, xkit.js creates the
connection and the popup link, the popup goes to the Microsoft emulator's authorize endpoint
(the user consents), and the callback exchanges the code and reads the account from Graph.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from bench.flows import FlowTarget, add_users, connect_many, emulated_installation
from bench.seed import CONNECTOR
from bench.support import (
    Server,
    machine_description,
    print_table,
    process_cpu_seconds,
    process_rss_mb,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        work = Path(tmp)
        with emulated_installation(work, args.database) as setup:
            microsoft, installation, env = setup.microsoft, setup.installation, setup.env
            logins = add_users(microsoft, args.flows)
            server = Server.xkit(env, work / "xkit.log", port=setup.port)
            try:
                target = FlowTarget(server.url, "bench", installation.secret_key, CONNECTOR)
                before = [process_cpu_seconds(server.pid),
                          process_cpu_seconds(microsoft.process.process.pid)]
                durations, wall = asyncio.run(connect_many(
                    target, microsoft, logins, concurrency=args.concurrency))
                xkit_cpu = (process_cpu_seconds(server.pid) - before[0]) / wall
                emulator_cpu = (process_cpu_seconds(microsoft.process.process.pid)
                                - before[1]) / wall
                rss = process_rss_mb(server.pid)[1]
            finally:
                server.stop()
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    print_table(f"Connect flows ({args.database}, {args.flows} flows, {args.concurrency} at a time;"
                " CPU in cores busy)",
                ["flows", "flows/s", "p50 ms", "p99 ms", "xkit CPU", "emulator CPU",
                 "xkit peak RSS MB"],
                [[len(durations), len(durations) / wall, statistics.median(durations) * 1000,
                  p99 * 1000, xkit_cpu, emulator_cpu, rss]])


if __name__ == "__main__":
    main()
