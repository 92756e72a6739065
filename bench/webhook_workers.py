"""How fast N `xkit worker` processes empty an outbox of M events into one receiver.

    .venv/bin/python -m bench.webhook_workers --workers 2 --events 1000        # SQLite
    XKIT_TEST_DATABASE=postgresql .venv/bin/python -m bench.webhook_workers   # PostgreSQL

Prints the wall time from starting the workers to the last event accepted (worker start-up
included), the rate, and whether any event was received twice at the same time (never) or
twice at all (only after a crash). The receiver holds each request ``--hold-ms``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.support.database import backend, temporary_database
from tests.support.webhooks import WebhookReceiver, deliver_with_workers, seed_outbox
from tests.support.xkit import XkitEnvironment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--hold-ms", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, \
            temporary_database(Path(directory)) as url, \
            WebhookReceiver(hold_seconds=args.hold_ms / 1000) as receiver:
        environment = XkitEnvironment.new(Path(directory) / "data", url)
        outbox = seed_outbox(environment, receiver.url, args.events)
        elapsed, _ = deliver_with_workers(environment, receiver, outbox, Path(directory),
                                          workers=args.workers, timeout=600,
                                          XKIT_WORKER_BATCH_SIZE=str(args.batch),
                                          XKIT_LOG_LEVEL="warning")
        requests = len(receiver.snapshot())
        print(f"{backend()}: {args.workers} worker(s), batch {args.batch}, receiver "
              f"{args.hold_ms:g} ms: {args.events} events in {elapsed:.1f} s "
              f"({args.events / elapsed:.0f} events/s); {requests} requests, "
              f"{len(receiver.overlapping)} concurrent duplicates")


if __name__ == "__main__":
    main()
