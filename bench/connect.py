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

from bench.flows import FlowTarget, add_users, connect_many, outlook_app
from bench.seed import CONNECTOR, seed
from bench.support import (
    Server,
    bench_database,
    machine_description,
    print_table,
    process_cpu_seconds,
    process_rss_mb,
    production_environment,
)
from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.processes import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory(prefix="xkit-bench-") as tmp:
        work = Path(tmp)
        microsoft = MicrosoftEmulator.launch(work / "microsoft")
        try:
            with bench_database(args.database, work) as url:
                port = free_port()
                public_url = f"http://127.0.0.1:{port}"
                fields = outlook_app(microsoft, public_url, "bench")
                installation = asyncio.run(seed(url, work / "data", connections=0,
                                                connector_fields=fields,
                                                public_url=public_url))
                env = production_environment(url, installation.encryption_keys,
                                             work / "data", XKIT_PUBLIC_URL=public_url,
                                             XKIT_CA_BUNDLE=str(microsoft.ca_file))
                logins = add_users(microsoft, args.flows)
                server = Server.xkit(env, work / "xkit.log", port=port)
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
        finally:
            microsoft.stop()
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
