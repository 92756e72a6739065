"""Prometheus metrics: what xkit counts, and the ``/metrics`` text that reports it.

Counting goes through ``prometheus-client``. One xkit may be several processes — ``xkit serve``
with the worker, ``xkit worker`` beside it, the workers of ``xkit serve --workers N`` — and a
scrape must see all of them, so the commands run prometheus-client's multiprocess mode: each
process writes its values into files of one directory (:func:`use_directory`,
``XKIT_METRICS_DIR``) and ``/metrics`` sums them up (:func:`exposition`). Embedded in another
program (tests, ``create_app``), the values stay in memory.

Labels carry only values from bounded sets — route templates, methods, status codes,
provider template slugs, outcomes, error codes xkit or a template knows — never an id, a
token or anything a request may choose: each distinct label value is a time series kept
forever by Prometheus.

The metrics are built on first use rather than at import: the multiprocess mode has to be
chosen before a metric exists, and importing xkit happens before a command can choose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

log = logging.getLogger("xkit.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Fast answers (a token fetch is ~2 ms) and slow ones (a provider taking seconds).
HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROVIDER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
OTHER = "other"
UNKNOWN_PROVIDER = "unknown"

# Token fetches (GET a context's connection, or a connection by id) end in one of these.
FETCH_OUTCOMES = ("fresh", "refreshed", "reconnect_required", "provider_unavailable",
                  "provider_refused", "not_found", "unauthorized", "error")
# A refresh this process sent to the provider ends in one of these.
REFRESH_OUTCOMES = ("refreshed", "reconnect_required", "provider_unavailable",
                    "provider_refused", "gone", "error")
PROVIDER_CALL_KINDS = ("token", "refresh", "account", "revoke", "proxy")
DELIVERY_OUTCOMES = ("delivered", "retrying", "gave_up", "lease_lost")
WORKER_LOOPS = ("deliveries", "upkeep", "housekeeping", "outbox", "mailboxes")

# Error codes a failed connect flow is counted under: xkit's own, RFC 6749's, and those a
# provider template declares (allow_error_codes); any other becomes "other", since a
# callback's ?error= is whatever the browser sent.
_KNOWN_ERROR_CODES: set[str] = {
    # xkit's
    "cancelled", "state_expired", "different_account", "account_unreadable",
    "provider_unavailable", "lookup_failed", "interrupted", "provider_missing",
    "provider_address_refused", "invalid_state", "browser_mismatch", "refresh_interrupted",
    "address_refused", "timeout", "connect_error", "invalid_response", "credentials_rejected",
    "connector_not_ready",
    # RFC 6749 4.1.2.1 and 5.2, RFC 8628, OpenID Connect Core 3.1.2.6
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
    "invalid_scope", "server_error", "temporarily_unavailable", "invalid_client",
    "invalid_grant", "unsupported_grant_type", "interaction_required", "login_required",
    "account_selection_required", "consent_required", "invalid_request_uri",
    "invalid_request_object", "request_not_supported", "request_uri_not_supported",
    "registration_not_supported", "expired_token", "authorization_pending", "slow_down",
}
_HTTP_STATUS_CODE = re.compile(r"^http_[1-5][0-9][0-9]$")


def allow_error_codes(codes: Iterable[str]) -> None:
    """Count these codes under their own name (a provider template's error table)."""
    _KNOWN_ERROR_CODES.update(code for code in codes if len(code) <= 100)


def error_code_label(code: str) -> str:
    if code in _KNOWN_ERROR_CODES or _HTTP_STATUS_CODE.match(code):
        return code
    return OTHER


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx``, or ``error`` when no answer came (timeout, refused connection)."""
    return f"{status // 100}xx" if status is not None and 100 <= status < 600 else "error"


class Metrics:
    """Every metric xkit keeps, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Histogram(
            "xkit_http_request_duration_seconds",
            "HTTP requests answered, by route template, method and status, with latency.",
            ["route", "method", "status"], buckets=HTTP_BUCKETS, registry=registry)
        # Children by (route, method, status): labels() takes a lock and checks its values
        # (~5 µs), on every request; a dict lookup does not. Bounded as the labels are.
        self._request_children: dict[tuple[str, str, str], Any] = {}
        self.token_fetches = Counter(
            "xkit_token_fetches",
            "Token fetches by backends (get a connection), by outcome.",
            ["outcome"], registry=registry)
        # The fetch is the hot path: its children are looked up once, here.
        self.fetch = {outcome: self.token_fetches.labels(outcome) for outcome in FETCH_OUTCOMES}
        self.refreshes = Histogram(
            "xkit_token_refresh_duration_seconds",
            "Token refreshes this xkit carried out, by provider and outcome, with latency "
            "(retries included).",
            ["provider", "outcome"], buckets=PROVIDER_BUCKETS, registry=registry)
        self.refreshes_interrupted = Counter(
            "xkit_token_refresh_interrupted",
            "Grants lost because a refresh was cut off before its answer was stored (the "
            "provider then refused the old refresh token), by provider.",
            ["provider"], registry=registry)
        self.provider_requests = Histogram(
            "xkit_provider_request_duration_seconds",
            "HTTP requests to providers, by provider, kind (token, refresh, account, revoke, "
            "proxy) and status class, with latency to the response headers.",
            ["provider", "kind", "status_class"], buckets=PROVIDER_BUCKETS, registry=registry)
        self.flows_started = Counter(
            "xkit_connect_flows_started", "Connect flows started, by provider.",
            ["provider"], registry=registry)
        self.flows_completed = Counter(
            "xkit_connect_flows_completed",
            "Connect flows that ended with an active connection, by provider.",
            ["provider"], registry=registry)
        self.flows_failed = Counter(
            "xkit_connect_flows_failed",
            "Connect flows that ended in error (cancelled included), by provider and code.",
            ["provider", "error_code"], registry=registry)
        self.deliveries = Counter(
            "xkit_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retrying: failed and will be "
            "retried, gave_up: failed for the last time, lease_lost).",
            ["outcome"], registry=registry)
        self.outbox_due = Gauge(
            "xkit_webhook_outbox_due",
            "Webhook deliveries due now and not yet sent (paused subscriptions excluded).",
            registry=registry, multiprocess_mode="mostrecent")
        self.outbox_oldest_due_age = Gauge(
            "xkit_webhook_outbox_oldest_due_age_seconds",
            "How long the oldest due webhook delivery has been waiting (0 when none is due).",
            registry=registry, multiprocess_mode="mostrecent")
        self.worker_last_success = Gauge(
            "xkit_worker_last_success_timestamp_seconds",
            "When each worker loop last completed a round (Unix time), the latest of any "
            "process.", ["loop"], registry=registry, multiprocess_mode="max")
        self.pool_in_use = Gauge(
            "xkit_db_pool_connections_in_use",
            "Database connections checked out of the pools, summed over live processes.",
            registry=registry, multiprocess_mode="livesum")
        self.pool_waiting = Gauge(
            "xkit_db_pool_waiting",
            "Requests waiting for a database connection, summed over live processes.",
            registry=registry, multiprocess_mode="livesum")


    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        """Count one HTTP answer (the access log's, at the edge)."""
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.http_requests.labels(*key)
        child.observe(seconds)


_metrics: Metrics | None = None


def get() -> Metrics:
    """The metrics of this process (built on first use)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


# --- multiprocess mode -------------------------------------------------------------------------

def use_directory(directory: Path) -> None:
    """Write this process's metrics into ``directory``, shared with the other xkit processes
    of this host (and its children, through ``PROMETHEUS_MULTIPROC_DIR``).

    The files of processes no longer running are removed first: their counters would
    otherwise be summed in forever (a restart shows as a counter reset, which ``rate()``
    handles). Files of running processes stay, so a worker starting beside a running server
    keeps the server's numbers."""
    global _metrics
    # Missing parents too (the data directory, on a first start) get mode 0700, not the
    # umask's default: the data directory holds the database and the key.
    for missing in reversed([directory, *directory.parents]):
        if not missing.exists():
            missing.mkdir(mode=0o700, exist_ok=True)
    for file in directory.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    _metrics = None  # built again, writing to the directory


def process_exiting() -> None:
    """Take this process's share out of the ``live*`` gauges (pool in use, waiting)."""
    process_ended(os.getpid())


def process_ended(pid: int) -> None:
    """Take process ``pid``'s share out of the ``live*`` gauges: called by the process itself
    as it stops, and by ``xkit serve --workers``'s parent for a child that died without a
    word (SIGKILL, out of memory)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def exposition() -> bytes:
    """The ``/metrics`` text: every process's values in multiprocess mode, else this one's."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(get().registry)


# --- provider calls ------------------------------------------------------------------------------

_provider_call: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "xkit_provider_call", default=None)


@contextlib.contextmanager
def provider_call(provider: str, kind: str) -> Iterator[None]:
    """Requests sent inside this block are counted as ``kind`` calls to ``provider`` (see
    :class:`MeteredTransport`); a block inside another one names its own kind."""
    reset = _provider_call.set((provider, kind))
    try:
        yield
    finally:
        _provider_call.reset(reset)


class MeteredTransport(httpx.AsyncBaseTransport):
    """Times each request sent inside a :func:`provider_call` block; others (webhooks) pass
    through uncounted. Latency is to the response's headers: a proxied body streams later."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = _provider_call.get()
        if call is None:
            return await self.inner.handle_async_request(request)
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            get().provider_requests.labels(call[0], call[1], status_class(status)).observe(
                time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- refreshes -----------------------------------------------------------------------------------

class TimedRefresh:
    """One refresh being timed: it counts from :meth:`start`, when the provider is known and
    it is certain there is something to renew (an API key is not refreshed, nor counted)."""

    def __init__(self) -> None:
        self.provider: str | None = None
        self.started = 0.0

    def start(self, provider: str) -> None:
        """From here on, the provider's requests are ``refresh`` calls, and the time counts."""
        self.provider = provider
        self.started = time.perf_counter()
        _provider_call.set((provider, "refresh"))  # the refresh runs as a task of its own


@contextlib.contextmanager
def refresh_timer(outcomes: dict[type[BaseException], str]) -> Iterator[TimedRefresh]:
    """Count and time one refresh once it has started; an exception is counted under the
    outcome of the first class in ``outcomes`` it is an instance of (``error`` if none)."""
    timed = TimedRefresh()
    outcome = "refreshed"
    try:
        yield timed
    except BaseException as exc:
        outcome = next((name for kind, name in outcomes.items() if isinstance(exc, kind)),
                       "error")
        raise
    finally:
        if timed.provider is not None:
            get().refreshes.labels(timed.provider, outcome).observe(
                time.perf_counter() - timed.started)


# --- the database pool ---------------------------------------------------------------------------

def sample_pool(pool: Any) -> None:
    """Record how many connections ``pool`` has out and how many requests wait for one."""
    metrics = get()
    in_use = pool.checkedout() if hasattr(pool, "checkedout") else 0
    metrics.pool_in_use.set(max(int(in_use), 0))
    metrics.pool_waiting.set(int(getattr(pool, "waiting", 0)))


async def sample_pool_forever(pool: Any, interval: float = 5.0) -> None:
    """Sample the pool every ``interval`` seconds, until cancelled; each process writes its
    own share, which a scrape sums up."""
    while True:
        try:
            sample_pool(pool)
        except Exception as exc:  # never let a gauge stop the server
            log.warning("could not sample the database pool (%s)", type(exc).__name__)
        await asyncio.sleep(interval)


def worker_loop_succeeded(loop: str) -> None:
    get().worker_last_success.labels(loop).set(time.time())
