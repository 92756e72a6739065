"""The worker: sends the webhook outbox and keeps tokens fresh, in the background.

It runs inside ``xkit serve`` (unless ``XKIT_WORKER_ENABLED=false``) and on its own as
``xkit worker``. Any number may run against one database: they share work only through row
leases there (see :mod:`xkit.services.webhooks.delivery` and
:mod:`xkit.services.tokens.refresh`), so a worker can be added, or killed, at any moment.

Stopping (SIGTERM, or the server shutting down) is graceful: no new work is taken, requests
already out are finished and recorded, and leases not yet used are handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

import httpx

from xkit import metrics
from xkit.runtime import Runtime
from xkit.services.connect import flow as authorizations
from xkit.services.mail import follow as mail_follow
from xkit.services.tokens import upkeep as token_upkeep
from xkit.services.tokens.provider_http import create_provider_http
from xkit.services.webhooks import delivery as webhook_delivery
from xkit.services.webhooks.delivery import DeliveryPolicy

log = logging.getLogger("xkit.worker")

HOUSEKEEPING_INTERVAL_SECONDS = 300.0
# How often the outbox's depth and age are measured for /metrics (one small query).
OUTBOX_STATS_INTERVAL_SECONDS = 15.0
MAX_ERROR_PAUSE_SECONDS = 30.0


def worker_id() -> str:
    """Who holds a lease, for people reading the database: host, process, and a random part
    (a restarted process may get the same pid)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.id = worker_id()
        settings = runtime.settings
        self.policy = DeliveryPolicy(
            timeout_seconds=settings.webhook_timeout_seconds,
            lease=dt.timedelta(seconds=settings.worker_lease_seconds),
            retry_base=dt.timedelta(seconds=settings.webhook_retry_base_seconds),
            max_attempts=settings.webhook_max_attempts,
        )
        self.mail_policy = mail_follow.SyncPolicy(
            poll=dt.timedelta(seconds=settings.mail_poll_seconds),
            poll_max=dt.timedelta(seconds=max(settings.mail_poll_max_seconds,
                                              settings.mail_poll_seconds)),
            lease=dt.timedelta(seconds=settings.mail_lease_seconds),
            resync_margin=dt.timedelta(seconds=settings.mail_resync_margin_seconds),
            announced_for=dt.timedelta(days=settings.mail_announced_days),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until ``stopping`` is set, then finish what is in hand and return."""
        settings = self.runtime.settings
        log.info("worker %s started: deliveries%s", self.id,
                 ", token upkeep" if settings.token_upkeep else "")
        http = create_provider_http(timeout_seconds=settings.webhook_timeout_seconds,
                                    ca_bundle=settings.ca_bundle, policy=settings.webhook_policy)
        loops = [self._deliveries(http, stopping), self._mailboxes(stopping),
                 self._every(HOUSEKEEPING_INTERVAL_SECONDS, self._housekeeping, stopping),
                 self._every(OUTBOX_STATS_INTERVAL_SECONDS, self._outbox, stopping)]
        if settings.token_upkeep:
            loops.append(self._every(settings.token_upkeep_interval_seconds, self._upkeep,
                                     stopping))
        try:
            await asyncio.gather(*loops)
        finally:
            try:
                released = await webhook_delivery.release(self.runtime.sessions, self.id)
                await mail_follow.release(self.runtime.sessions, self.id)
            except Exception as exc:  # the database is gone: the leases lapse on their own
                log.warning("worker %s could not hand its leases back (%s)", self.id,
                            type(exc).__name__)
                released = 0
            await http.aclose()
            log.info("worker %s stopped%s", self.id,
                     f"; handed back {released} unsent deliveries" if released else "")

    # -- webhook deliveries ------------------------------------------------------------------
    async def _deliveries(self, http: httpx.AsyncClient, stopping: asyncio.Event) -> None:
        """Keep up to ``worker_batch_size`` deliveries in flight; lease more as they finish,
        so one slow receiver does not hold up the others."""
        settings = self.runtime.settings
        in_flight: set[asyncio.Task[None]] = set()
        pause = settings.worker_poll_seconds
        try:
            while not stopping.is_set():
                free = settings.worker_batch_size - len(in_flight)
                leased: list[str] = []
                if free > 0:
                    try:
                        leased = await webhook_delivery.lease_due(
                            self.runtime.sessions, self.id, limit=free, lease=self.policy.lease)
                        pause = settings.worker_poll_seconds
                        metrics.worker_loop_succeeded("deliveries")
                    except Exception as exc:  # the database is down or busy: wait, retry
                        log.warning("worker %s cannot read the outbox (%s); retrying in "
                                    "%.0f s", self.id, type(exc).__name__, pause)
                        await _sleep(stopping, pause)
                        pause = min(pause * 2, MAX_ERROR_PAUSE_SECONDS)
                        continue
                for delivery_id in leased:
                    task = asyncio.create_task(self._deliver(http, delivery_id, stopping))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if leased and len(leased) == free:
                    # full: wait for a slot (or a stop)
                    await _first_of(in_flight, stopping, timeout=None)
                else:  # the outbox is drained for now
                    await _first_of(in_flight, stopping, timeout=settings.worker_poll_seconds)
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _deliver(self, http: httpx.AsyncClient, delivery_id: str,
                       stopping: asyncio.Event) -> None:
        if stopping.is_set():
            await webhook_delivery.release(self.runtime.sessions, self.id, [delivery_id])
            return
        try:
            await webhook_delivery.deliver(self.runtime.sessions, self.runtime.keyring, http,
                                           self.policy, delivery_id, self.id)
        except Exception as exc:  # the lease lapses and another attempt comes later
            log.error("delivery %s failed inside xkit: %s", delivery_id, type(exc).__name__,
                      exc_info=exc)

    # -- followed mailboxes (new-mail events) --------------------------------------------------
    async def _mailboxes(self, stopping: asyncio.Event) -> None:
        """Keep up to ``mail_sync_concurrency`` mailbox syncs going; each mailbox is leased,
        so it is synced by one worker at a time, and its lease lapses if this one dies."""
        settings = self.runtime.settings
        in_flight: set[asyncio.Task[None]] = set()
        pause = settings.worker_poll_seconds
        try:
            while not stopping.is_set():
                free = settings.mail_sync_concurrency - len(in_flight)
                leased: list[str] = []
                if free > 0:
                    try:
                        leased = await mail_follow.lease_due(
                            self.runtime.sessions, self.id, limit=free,
                            lease=self.mail_policy.lease)
                        pause = settings.worker_poll_seconds
                        metrics.worker_loop_succeeded("mailboxes")
                    except Exception as exc:
                        log.warning("worker %s cannot read the followed mailboxes (%s); "
                                    "retrying in %.0f s", self.id, type(exc).__name__, pause)
                        await _sleep(stopping, pause)
                        pause = min(pause * 2, MAX_ERROR_PAUSE_SECONDS)
                        continue
                for connection_id in leased:
                    task = asyncio.create_task(self._sync_mailbox(connection_id))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if leased and len(leased) == free:
                    await _first_of(in_flight, stopping, timeout=None)
                else:
                    await _first_of(in_flight, stopping, timeout=settings.worker_poll_seconds)
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _sync_mailbox(self, connection_id: str) -> None:
        settings = self.runtime.settings
        try:
            outcome = await mail_follow.sync(
                self.runtime.sessions, self.runtime.token_deps, self.id, connection_id,
                self.mail_policy, http=self.runtime.proxy_http,
                allow_private=settings.proxy_allow_private_networks,
                connect_to=settings.connect_to)
        except Exception as exc:  # the lease lapses and the mailbox is looked at again
            log.error("mailbox %s: sync failed inside xkit: %s", connection_id,
                      type(exc).__name__, exc_info=exc)
            return
        if outcome.error:
            log.info("mailbox %s: %s", connection_id, outcome.error)

    # -- tokens and housekeeping -------------------------------------------------------------
    async def _upkeep(self, stopping: asyncio.Event) -> None:
        refresh_ahead = dt.timedelta(seconds=self.runtime.settings.refresh_ahead_seconds)
        await token_upkeep.run_upkeep(self.runtime.token_deps, refresh_ahead=refresh_ahead,
                                      stopping=stopping)

    async def _outbox(self, stopping: asyncio.Event) -> None:
        """The outbox's depth and the age of its oldest due delivery, for /metrics: a growing
        age means deliveries are not keeping up (or no worker is running)."""
        async with self.runtime.sessions() as session:
            due, oldest_age = await webhook_delivery.outbox_stats(session)
        recorded = metrics.get()
        recorded.outbox_due.set(due)
        recorded.outbox_oldest_due_age.set(oldest_age)

    async def _housekeeping(self, stopping: asyncio.Event) -> None:
        retention = dt.timedelta(days=self.runtime.settings.webhook_retention_days)
        async with self.runtime.sessions() as session:
            pruned = await webhook_delivery.prune_outbox(session, older_than=retention)
            await mail_follow.prune_announced(
                session, older_than=dt.timedelta(days=self.runtime.settings.mail_announced_days))
            await session.commit()
            # Callbacks whose server died mid-way would otherwise wait forever.
            interrupted = await authorizations.end_interrupted_callbacks(session)
        if pruned:
            log.info("forgot %d webhook events older than %s days", pruned, retention.days)
        if interrupted:
            log.info("ended %d interrupted callbacks in error", interrupted)

    async def _every(self, interval: float, job: Callable[[asyncio.Event], Awaitable[None]],
                     stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            started = time.monotonic()
            try:
                await job(stopping)
                metrics.worker_loop_succeeded(job.__name__.strip("_"))
            except Exception as exc:
                log.warning("worker %s: %s failed (%s); next run in %.0f s", self.id,
                            job.__name__.strip("_"), type(exc).__name__, interval)
            await _sleep(stopping, max(0.0, interval - (time.monotonic() - started)))


async def _first_of(tasks: set[asyncio.Task[None]], stopping: asyncio.Event, *,
                    timeout: float | None) -> None:
    """Return when one of ``tasks`` ends, a stop is asked for, or ``timeout`` passes."""
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({*tasks, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep, waking early when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)


class BackgroundWorker:
    """The worker as a task beside the server (``xkit serve``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.worker = Worker(runtime)
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.create_task(self.worker.run(self.stopping), name="xkit-worker")

    def begin_stop(self) -> None:
        """Take no new work from now on; callable from a signal handler (any thread)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)

    async def stop(self) -> None:
        """Let requests in flight finish (they time out on their own), then return."""
        self.stopping.set()
        if self.task is None:
            return
        grace = self.worker.runtime.settings.webhook_timeout_seconds + 5
        try:
            await asyncio.wait_for(self.task, timeout=grace)
        except TimeoutError:
            log.warning("the worker did not stop within %.0f s; its leases will lapse", grace)
        except Exception:
            log.exception("the worker ended with an error")
