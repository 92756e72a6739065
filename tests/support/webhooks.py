"""A developer's webhook endpoint for tests: records every request, answers as scripted, and
notices when one event arrives twice at the same time (which xkit must never do)."""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.support.processes import ManagedProcess
from tests.support.xkit import XkitEnvironment
from xkit.db.models import WebhookDelivery
from xkit.runtime import Runtime
from xkit.services.configuration import platforms
from xkit.services.webhooks import events
from xkit.services.webhooks import subscriptions as webhooks
from xkit.services.webhooks.subscriptions import SubscriptionPolicy


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return self.headers.get("xkit-event-id", "")


class WebhookReceiver:
    """``statuses`` are answered in turn, then ``default_status``; each request is held for
    ``hold_seconds`` first, so overlapping deliveries would be caught in the act."""

    def __init__(self, *, default_status: int = 200, hold_seconds: float = 0.0) -> None:
        self.default_status = default_status
        self.hold_seconds = hold_seconds
        self._statuses: list[int] = []
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self.received: list[Received] = []
        self.overlapping: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/xkit"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with ``statuses``, in order."""
        with self._lock:
            self._statuses = list(statuses)

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.pop(0) if self._statuses else self.default_status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (the SIGKILL test)
                    self.close_connection = True
                    return
                event_id = self.headers.get("xkit-event-id", "")
                with receiver._lock:
                    if receiver._in_flight[event_id]:
                        receiver.overlapping.append(event_id)
                    receiver._in_flight[event_id] += 1
                try:
                    if receiver.hold_seconds:
                        time.sleep(receiver.hold_seconds)
                    status = receiver._next_status()
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    with receiver._lock:
                        receiver.received.append(Received(body, headers, status))
                    answer = b'{"ok": true}' if status < 300 else b"receiver is down"
                    self.send_response(status)
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                finally:
                    with receiver._lock:
                        receiver._in_flight[event_id] -= 1

            def log_message(self, *_: object) -> None:
                pass

        return Handler

    # -- reading what arrived -------------------------------------------------------------
    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def in_flight(self) -> int:
        """Requests being handled right now."""
        with self._lock:
            return self._in_flight.total()

    def accepted(self) -> list[Received]:
        """Requests answered 2xx: what the developer's backend processed."""
        return [r for r in self.snapshot() if r.answered < 300]

    def accepted_event_ids(self) -> set[str]:
        return {r.event_id for r in self.accepted()}

    def wait_until(self, condition: Callable[[WebhookReceiver], bool], *,
                   timeout: float = 20.0, what: str = "the expected deliveries") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return
            time.sleep(0.05)
        types = [(r.headers.get("xkit-event-type"), r.answered) for r in self.snapshot()]
        raise AssertionError(f"{what} did not arrive within {timeout}s; received: {types}")

    def wait_for_event(self, event_type: str, *, timeout: float = 20.0) -> Received:
        """The first accepted delivery of ``event_type``."""
        self.wait_until(lambda r: any(x.headers.get("xkit-event-type") == event_type
                                      for x in r.accepted()),
                        timeout=timeout, what=f"a {event_type} delivery")
        return next(r for r in self.accepted()
                    if r.headers.get("xkit-event-type") == event_type)


# -- an outbox to deliver, and workers to deliver it ------------------------------------------

WORKER_SETTINGS = {
    "XKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "XKIT_WORKER_POLL_SECONDS": "0.1",
    "XKIT_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "XKIT_WEBHOOK_TIMEOUT_SECONDS": "2",
    "XKIT_WORKER_LEASE_SECONDS": "4",
    "XKIT_TOKEN_UPKEEP": "false",
}


@dataclass(frozen=True)
class Outbox:
    platform_id: str
    subscription_id: str
    signing_secret: str
    event_ids: list[str]


def seed_outbox(environment: XkitEnvironment, receiver_url: str, count: int) -> Outbox:
    """A platform subscribed to ``receiver_url`` and ``count`` events waiting in its outbox,
    written the way the connect flow writes them (services, one transaction)."""

    async def _work(runtime: Runtime) -> Outbox:
        async with runtime.sessions() as session:
            platform = await platforms.create_platform(
                session, slug=f"outbox-{secrets.token_hex(3)}", name="Outbox", actor="test")
            policy = SubscriptionPolicy(keyring=runtime.keyring, allow_private_networks=True)
            subscription, secret = await webhooks.create_subscription(
                session, policy, platform, {"url": receiver_url}, actor="test")
            ids = []
            for number in range(count):
                event = await events.record_event(
                    session, platform_id=platform.id, event_type=events.CONNECTION_ENABLED,
                    payload={"connector": {"slug": "outlook-email"},
                             "context": {"external_id": f"user-{number}"},
                             "connection": {"id": f"connection-{number}",
                                            "status": "connected"}})
                ids.append(event.id)
            await session.commit()
        return Outbox(platform.id, subscription.id, secret, ids)

    return environment.with_runtime(_work)


def delivery_states(environment: XkitEnvironment, subscription_id: str) -> dict[str, Any]:
    """How the outbox stands: deliveries by status, and how many leases are still held."""

    async def _work(runtime: Runtime) -> dict[str, Any]:
        async with runtime.sessions() as session:
            rows = (await session.execute(
                select(WebhookDelivery.status, WebhookDelivery.lease_owner)
                .where(WebhookDelivery.subscription_id == subscription_id))).all()
        return {"by_status": dict(Counter(status for status, _ in rows)),
                "leased": sum(1 for _, owner in rows if owner is not None)}

    return environment.with_runtime(_work)


def start_worker(environment: XkitEnvironment, log_path: Path,
                 **settings: str) -> ManagedProcess:
    """``xkit worker`` as an operator runs it, with the test's fast settings."""
    return ManagedProcess([sys.executable, "-m", "xkit", "worker"],
                          env={**environment.variables(), **WORKER_SETTINGS, **settings},
                          log_path=log_path)


def deliver_with_workers(environment: XkitEnvironment, receiver: WebhookReceiver,
                         outbox: Outbox, log_dir: Path, *, workers: int, timeout: float,
                         **settings: str) -> tuple[float, list[ManagedProcess]]:
    """Start ``workers`` workers and wait until the receiver accepted every event of
    ``outbox``. Returns the seconds it took (start-up included) and the stopped workers,
    whose output can still be read."""
    started = time.monotonic()
    running = [start_worker(environment, log_dir / f"worker-{n}.log", **settings)
               for n in range(1, workers + 1)]
    try:
        receiver.wait_until(lambda r: r.accepted_event_ids() == set(outbox.event_ids),
                            timeout=timeout, what=f"all {len(outbox.event_ids)} events")
        return time.monotonic() - started, running
    finally:
        for worker in running:
            worker.stop()
