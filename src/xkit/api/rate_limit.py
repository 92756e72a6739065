"""Rate limits on the endpoints anyone can reach without a credential: the dashboard's login
and setup forms (password guessing) and the popup and callback pages (state guessing, floods).

A token bucket per client address and per process, in memory. That is deliberate: a limit
shared by every replica would cost a database write on each of these requests, and against
brute force a per-process bucket already caps the rate at ``replicas x limit`` — thousands of
times fewer guesses than none. APIs that need a key or token are not limited here.

The key is the client address uvicorn resolved: the peer's own, or, when the peer is one of
``XKIT_TRUSTED_PROXIES``, the address that proxy put in X-Forwarded-For. Trusting none by
default means a client cannot choose its own bucket by sending that header itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

LOGIN_PATHS = re.compile(r"^/admin/(login|setup)$")
PUBLIC_PATHS = re.compile(r"^/p/[^/]+/(callback|authorizations/)")
MAX_TRACKED_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``per_minute`` requests per key, refilled continuously, bursts up to ``per_minute``."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float | None:
        """None when allowed; otherwise the seconds until a request would be."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity,
                            bucket.tokens + (now - bucket.updated) * self.refill_per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.refill_per_second

    def _forget_full(self, now: float) -> None:
        """Drop clients whose bucket has refilled: they lose nothing by being forgotten."""
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.refill_per_second >= self.capacity:
                del self._buckets[key]


class RateLimit:
    """ASGI middleware: POSTs to login/setup and every popup/callback request, per client."""

    def __init__(self, app: ASGIApp, *, login_per_minute: int, public_per_minute: int) -> None:
        self.app = app
        self.login = TokenBuckets(login_per_minute)
        self.public = TokenBuckets(public_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            buckets = None
            if scope["method"] == "POST" and LOGIN_PATHS.match(path):
                buckets = self.login
            elif PUBLIC_PATHS.match(path):
                buckets = self.public
            if buckets is not None:
                client = scope.get("client")
                wait = buckets.take(client[0] if client else "unknown")
                if wait is not None:
                    await _too_many(send, wait)
                    return
        await self.app(scope, receive, send)


async def _too_many(send: Send, wait: float) -> None:
    """A page, since browsers (not API clients) reach these endpoints."""
    seconds = max(1, round(wait))
    body = (
        b"<!doctype html><meta charset=utf-8><title>Too many attempts</title>"
        b"<p>Too many attempts from your network. Wait a minute, then try again.</p>"
    )
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(seconds).encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
