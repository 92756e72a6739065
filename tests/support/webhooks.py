"""A developer's webhook endpoint for tests: records every request, answers as scripted, and
notices when one event arrives twice at the same time (which xkit must never do)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
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
