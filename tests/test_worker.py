"""``xkit worker`` processes delivering an outbox: killed, stopped, and two at once.

At least once, never twice at the same time: the receiver may see an event again after a
worker died, but never while the same event is still being delivered to it."""

from __future__ import annotations

import datetime as dt
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.database import backend
from tests.support.webhooks import (
    WebhookReceiver,
    deliver_with_workers,
    delivery_states,
    seed_outbox,
    start_worker,
)
from tests.support.xkit import XkitEnvironment
from xkit.crypto import EncryptionKey
from xkit.db.models import WebhookDelivery, WebhookEvent
from xkit.db.types import utcnow
from xkit.runtime import Runtime
from xkit.services.webhooks.delivery import prune_outbox
from xkit.settings import Settings
from xkit_client import verify_webhook


@pytest.fixture
def slow_receiver() -> Iterator[WebhookReceiver]:
    """Holds every request a moment, like a real backend writing to its database."""
    with WebhookReceiver(hold_seconds=0.5) as started:
        yield started


def test_a_worker_killed_mid_delivery_loses_nothing(
        fresh_environment: XkitEnvironment, slow_receiver: WebhookReceiver,
        tmp_path: Path) -> None:
    outbox = seed_outbox(fresh_environment, slow_receiver.url, 60)
    first = start_worker(fresh_environment, tmp_path / "worker-1.log",
                         XKIT_WORKER_BATCH_SIZE="10")
    # Killed while the receiver holds the second batch: between two batches the worker holds
    # no lease at all, and a kill there would not test what a lease is for.
    slow_receiver.wait_until(lambda r: len(r.accepted()) >= 10 and r.in_flight() >= 5,
                             what="the second batch in flight")
    first.stop(signal.SIGKILL)
    stranded = delivery_states(fresh_environment, outbox.subscription_id)
    assert stranded["leased"] > 0, "the kill should leave leases behind"
    assert stranded["by_status"]["pending"] > 0

    second = start_worker(fresh_environment, tmp_path / "worker-2.log",
                          XKIT_WORKER_BATCH_SIZE="10")
    try:
        slow_receiver.wait_until(
            lambda r: r.accepted_event_ids() == set(outbox.event_ids), timeout=60,
            what="every event")
        deadline = time.monotonic() + 10
        while delivery_states(fresh_environment, outbox.subscription_id)["by_status"] \
                != {"delivered": 60}:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        second.stop()
    assert slow_receiver.overlapping == []
    for received in slow_receiver.accepted():
        verify_webhook(received.body, received.headers["xkit-signature"],
                       outbox.signing_secret)


def test_sigterm_finishes_what_is_in_flight_and_takes_nothing_more(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    with WebhookReceiver(hold_seconds=1.0) as receiver:
        outbox = seed_outbox(fresh_environment, receiver.url, 10)
        worker = start_worker(fresh_environment, tmp_path / "worker.log",
                              XKIT_WORKER_BATCH_SIZE="5")
        receiver.wait_until(lambda r: r.in_flight() >= 5, what="a batch in flight")
        stopped_at = time.monotonic()
        assert worker.stop(signal.SIGTERM, timeout=10) == 0, worker.output()
        assert time.monotonic() - stopped_at < 5
        assert len(receiver.accepted()) == 5
        state = delivery_states(fresh_environment, outbox.subscription_id)
        assert state == {"by_status": {"delivered": 5, "pending": 5}, "leased": 0}
        assert "stopped" in worker.output()


@pytest.mark.skipif(backend() != "postgresql",
                    reason="many workers on one database is what PostgreSQL is for")
def test_two_workers_share_1000_events_without_sending_one_twice_at_once(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    with WebhookReceiver(hold_seconds=0.01) as receiver:
        outbox = seed_outbox(fresh_environment, receiver.url, 1000)
        elapsed, workers = deliver_with_workers(fresh_environment, receiver, outbox, tmp_path,
                                                workers=2, timeout=120)
        print(f"two workers delivered 1,000 events in {elapsed:.1f} s "
              f"({1000 / elapsed:.0f}/s, {len(receiver.snapshot())} requests)")
        assert receiver.overlapping == []
        assert len(receiver.snapshot()) == 1000, "no crash, so no event twice at all"
        shares = [w.output().count("delivered event") for w in workers]
        assert sum(shares) == 1000 and min(shares) > 0, shares
        state = delivery_states(fresh_environment, outbox.subscription_id)
        assert state == {"by_status": {"delivered": 1000}, "leased": 0}


@pytest.mark.database_independent
def test_a_lease_shorter_than_a_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="XKIT_WORKER_LEASE_SECONDS"):
        Settings(worker_lease_seconds=5, webhook_timeout_seconds=10)


def test_signing_secrets_are_rotated_with_the_encryption_key(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        outbox = seed_outbox(fresh_environment, receiver.url, 1)
        old_spec = fresh_environment.encryption_keys
        new_key = EncryptionKey.generate()
        fresh_environment.encryption_keys = f"{new_key.to_spec()},{old_spec}"
        rotated = fresh_environment.run_cli("keys", "rotate-encryption")
        assert rotated.returncode == 0, rotated.stderr
        assert re.search(r"webhook_subscriptions.signing_secret\s+re-encrypted\s+1",
                         rotated.stdout), rotated.stdout
        fresh_environment.encryption_keys = new_key.to_spec()  # the old key is gone

        worker = start_worker(fresh_environment, tmp_path / "worker.log")
        try:
            receiver.wait_until(lambda r: len(r.accepted()) == 1, what="the delivery")
        finally:
            worker.stop()
        delivered = receiver.accepted()[0]
        verify_webhook(delivered.body, delivered.headers["xkit-signature"],
                       outbox.signing_secret)


def test_old_events_are_forgotten_once_nothing_waits_to_send_them(
        fresh_environment: XkitEnvironment) -> None:
    outbox = seed_outbox(fresh_environment, "http://127.0.0.1:9/unused", 3)
    delivered, waiting, recent = outbox.event_ids

    async def age_and_prune(runtime: Runtime) -> tuple[int, set[str]]:
        async with runtime.sessions() as session:
            old = utcnow() - dt.timedelta(days=40)
            await session.execute(update(WebhookEvent)
                                  .where(WebhookEvent.id.in_([delivered, waiting]))
                                  .values(created_at=old))
            await session.execute(update(WebhookDelivery)
                                  .where(WebhookDelivery.event_id.in_([delivered, recent]))
                                  .values(status="delivered"))
            await session.commit()
            pruned = await prune_outbox(session, older_than=dt.timedelta(days=30))
            left = set((await session.scalars(select(WebhookEvent.id))).all())
        return pruned, left

    pruned, left = fresh_environment.with_runtime(age_and_prune)
    assert (pruned, left) == (1, {waiting, recent})
    assert delivery_states(fresh_environment, outbox.subscription_id)["by_status"] == {
        "pending": 1, "delivered": 1}
