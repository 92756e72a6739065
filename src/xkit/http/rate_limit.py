"""Rate limits on the endpoints anyone can reach without a credential: the dashboard's login
and setup forms (password guessing) and the popup and callback pages (state guessing, floods).
A route has one by being declared with it (``PageRoute(..., rate_limit=PUBLIC_PAGES)``).

A token bucket per client address and per process, in memory. That is deliberate: a limit
shared by every replica would cost a database write on each of these requests, and against
brute force a per-process bucket already caps the rate at ``replicas x limit`` — thousands of
times fewer guesses than none. APIs that need a key or token are not limited here.

The key is the client address uvicorn resolved: the peer's own, or, when the peer is one of
``XKIT_TRUSTED_PROXIES``, the address that proxy put in X-Forwarded-For. Trusting none by
default means a client cannot choose its own bucket by sending that header itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import Scope

from xkit.settings import Settings

MAX_TRACKED_CLIENTS = 10_000


@dataclass(frozen=True)
class RateLimit:
    """A limit a route is declared with: which buckets it draws from, for which methods."""

    buckets: str
    methods: frozenset[str] | None = None  # None: every method


# Only posting the form is a guess; showing it is not.
LOGIN_FORMS = RateLimit("login", frozenset({"POST"}))
PUBLIC_PAGES = RateLimit("public")


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


class RateLimits:
    """The buckets of one app (``app.state.rate_limits``), by name, sized from settings."""

    def __init__(self, settings: Settings) -> None:
        self._buckets = {"login": TokenBuckets(settings.rate_limit_login_per_minute),
                         "public": TokenBuckets(settings.rate_limit_public_per_minute)}

    def check(self, limit: RateLimit, scope: Scope) -> None:
        """Raise a 429 (rendered in the route's error style) when the client is over it."""
        if limit.methods is not None and scope["method"] not in limit.methods:
            return
        client = scope.get("client")
        wait = self._buckets[limit.buckets].take(client[0] if client else "unknown")
        if wait is not None:
            raise HTTPException(
                429, "too many attempts from your network. Wait a minute, then try again",
                headers={"Retry-After": str(max(1, round(wait))), "Cache-Control": "no-store"})
