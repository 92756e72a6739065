"""New-mail events: messages synced per second per worker, and arrival-to-webhook delay.

    .venv/bin/python -m bench.mail --mailboxes 1000 --messages 5 --arrivals 300

Against the Graph emulator: ``--mailboxes`` Outlook users connected through xkit's connect
flow, each followed for mail events. Then two measurements with one ``xkit worker``:

1. **throughput**: ``--messages`` per mailbox arrive while no worker runs; the worker starts
   and syncs them all. Prints messages synced per second (events committed to the outbox)
   and the time until the receiver accepted every signed webhook.
2. **delay**: with the worker running, ``--arrivals`` messages arrive at random mailboxes,
   ``--rate`` per second; for each, the time from its arrival in the emulator to its signed
   ``mail.received`` webhook being accepted (p50/p99). The poll interval
   (``--poll-seconds``, no idle backoff here) bounds it from below.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.support import machine_description
from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import backend, temporary_database
from tests.support.flow import back_at_xkit, new_end_user, outlook_connector
from tests.support.tls import make_test_certificates
from tests.support.webhooks import WebhookReceiver, start_worker
from tests.support.xkit import XkitEnvironment, XkitServer, create_platform, installation_settings
from xkit.db.models import WebhookEvent
from xkit.runtime import Runtime
from xkit_client import verify_webhook


class Watch:
    """When each subject's mail.received webhook was first accepted (10 ms resolution)."""

    def __init__(self, receiver: WebhookReceiver, secret: str) -> None:
        self.receiver, self.secret = receiver, secret
        self.first_seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._seen = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            received = self.receiver.accepted()
            for delivery in received[self._seen:]:
                verify_webhook(delivery.body, delivery.headers["xkit-signature"], self.secret)
                subject = delivery.event["payload"]["message"]["subject"]
                self.first_seen.setdefault(subject, time.monotonic())
            self._seen = len(received)
            time.sleep(0.01)

    def wait_for(self, subjects: set[str], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not subjects <= set(self.first_seen):
            if time.monotonic() > deadline:
                missing = len(subjects - set(self.first_seen))
                raise TimeoutError(f"{missing} webhooks missing after {timeout:.0f} s")
            time.sleep(0.05)
        return max(self.first_seen[s] for s in subjects)

    def stop(self) -> None:
        self._stop.set()


def _events_recorded(environment: XkitEnvironment) -> int:
    async def _count(runtime: Runtime) -> int:
        async with runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(WebhookEvent)
                                            .where(WebhookEvent.event_type == "mail.received"))
                       or 0)
    return environment.with_runtime(_count)


def _connect(count: int, server: XkitServer, environment: XkitEnvironment,
             microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> tuple[list[str], str]:
    platform = create_platform(environment, f"mailbench-{secrets.token_hex(3)}")
    users = []
    with platform.client(server) as api:
        outlook_connector(api, server, platform, microsoft)
        secret = api.post("/api/platform/webhooks", json={
            "url": receiver.url, "events": ["mail.received"]}).json()["signing_secret"]
        started = time.monotonic()
        for n in range(count):
            user = microsoft.add_user(mail=f"user{n}@contoso.test", auto_consent=True)
            _, to_provider = new_end_user(server, platform, f"user-{n}").start_popup(
                "outlook-email")
            hint = f"&login_hint=user{n}%40contoso.test"
            with microsoft.client() as provider:
                consent = provider.get(to_provider.headers["location"] + hint)
            assert back_at_xkit(consent.headers["location"], to_provider).status_code == 200
            connection = api.get(f"/api/platform/contexts/user-{n}/connections/outlook-email"
                                 ).json()["connection"]["id"]
            turned_on = api.put(f"/api/platform/connections/{connection}/mail/events", json={})
            assert turned_on.status_code == 200, turned_on.text
            users.append(user["id"])
        print(f"connected and followed {count} mailboxes in {time.monotonic() - started:.0f} s")
    return users, str(secret)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5, help="per mailbox, for throughput")
    parser.add_argument("--arrivals", type=int, default=300, help="messages, for the delay")
    parser.add_argument("--rate", type=float, default=10.0, help="arrivals per second")
    parser.add_argument("--poll-seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory() as directory, \
            temporary_database(Path(directory)) as url, WebhookReceiver() as receiver:
        root = Path(directory)
        certificates = make_test_certificates(root / "certs")
        microsoft = MicrosoftEmulator.launch(root / "microsoft", certificates)
        settings = {"XKIT_MAIL_POLL_SECONDS": str(args.poll_seconds),
                    "XKIT_MAIL_POLL_MAX_SECONDS": str(args.poll_seconds),
                    "XKIT_MAIL_SYNC_CONCURRENCY": str(args.concurrency),
                    "XKIT_LOG_LEVEL": "warning"}
        environment = XkitEnvironment.new(root / "data", url)
        environment.extra = {**installation_settings(certificates),
                             "XKIT_TOKEN_UPKEEP": "false", "XKIT_WORKER_ENABLED": "false",
                             "XKIT_LOG_LEVEL": "warning"}
        server = XkitServer(environment, root / "xkit.log")
        try:
            users, secret = _connect(args.mailboxes, server, environment, microsoft, receiver)
            watch = Watch(receiver, secret)
            backlog = {f"backlog {n}-{m}" for n in range(len(users))
                       for m in range(args.messages)}
            for n, user in enumerate(users):
                for m in range(args.messages):
                    microsoft.add_message(user, subject=f"backlog {n}-{m}", body="x")
            worker = start_worker(environment, root / "worker.log", **settings)
            started = time.monotonic()
            try:
                while _events_recorded(environment) < len(backlog):
                    time.sleep(0.2)
                    if time.monotonic() - started > 1800:
                        raise TimeoutError("the backlog was not synced in 30 minutes")
                synced = time.monotonic() - started
                delivered = watch.wait_for(backlog, timeout=1800) - started
                print(f"{backend()}: throughput, 1 worker, {len(users)} mailboxes, "
                      f"{len(backlog)} messages: synced in {synced:.1f} s "
                      f"({len(backlog) / synced:.0f} messages/s, worker start-up included); "
                      f"all webhooks accepted after {delivered:.1f} s")

                arrived: dict[str, float] = {}
                rng = random.Random(5)
                for k in range(args.arrivals):
                    subject = f"live {k}"
                    microsoft.add_message(rng.choice(users), subject=subject, body="x")
                    arrived[subject] = time.monotonic()
                    time.sleep(max(0.0, 1 / args.rate))
                watch.wait_for(set(arrived), timeout=600)
                delays = sorted(watch.first_seen[s] - arrived[s] for s in arrived)
                p50 = statistics.median(delays)
                p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
                print(f"{backend()}: delay, {args.arrivals} arrivals at {args.rate:g}/s over "
                      f"{len(users)} mailboxes polled every {args.poll_seconds:g} s: "
                      f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s")
                counted: dict[str, Any] = {}
                for delivery in receiver.accepted():
                    subject = delivery.event["payload"]["message"]["subject"]
                    counted[subject] = counted.get(subject, 0) + 1
                twice = sum(1 for c in counted.values() if c > 1)
                print(f"messages announced twice: {twice}")
            finally:
                worker.stop()
                watch.stop()
        finally:
            server.stop()
            microsoft.stop()


if __name__ == "__main__":
    main()
