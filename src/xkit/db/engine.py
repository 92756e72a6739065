"""Engine and session factory for the one database xkit keeps all its state in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InvalidRequestError, MissingGreenlet
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import await_
from sqlalchemy.util.queue import Full

from xkit.db import sqlite

POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 5


class FifoQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's async pool, handing its connections out in arrival order.

    Waiting in the pool itself is not first come, first served: a waiter woken for a
    connection handed back often finds it taken by a request that just arrived, and queues
    again at the back. With more requests in flight than connections (16 on a pool of 15),
    that gave p99 latencies of half a second and more for a p50 of 13 ms
    (bench/api_routes.py). A semaphore of the pool's size in front of it queues requests in
    order instead (asyncio's semaphore lets no newcomer overtake a waiter).

    An overflow connection handed back while others wait for a turn is kept for the next of
    them. SQLAlchemy's pool closes it whenever the pool's ``pool_size`` connections are
    already back, which under sustained load (more requests in flight than ``pool_size``)
    happens many times a second: 15–50 new PostgreSQL connections per 2,000 token fetches at
    16 and 64 in flight, each a server process forked and a handshake on both sides. Once no
    one waits, the pool shrinks back to ``pool_size`` as before."""

    # Log under SQLAlchemy's own namespace, which is quiet unless asked (echo_pool), as the
    # pool this one extends does; under xkit's, every dispose would be an INFO line.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.FifoQueuePool"
    # Callers waiting for their turn (sampled for /metrics).
    waiting = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(self.size() + max(self._max_overflow, 0))
        # Records out with a turn (not in record.info: checkout may clear that).
        self._holding: set[ConnectionPoolEntry] = set()
        # Overflow connections handed back while others waited, kept for them (the queue
        # holds pool_size at most).
        self._spare: list[ConnectionPoolEntry] = []

    def _do_get(self) -> ConnectionPoolEntry:
        self.waiting += 1
        try:
            await_(asyncio.wait_for(self._turns.acquire(), self._timeout))
        except TimeoutError:
            raise PoolTimeout(f"no database connection free after {self._timeout:g} s "
                              f"(pool of {self.size()} + {self._max_overflow})") from None
        except MissingGreenlet:  # not called from async code: the pool's own wait only
            return super()._do_get()
        finally:
            self.waiting -= 1
        try:
            record = self._spare.pop() if self._spare else super()._do_get()
        except BaseException:
            self._turns.release()
            raise
        self._holding.add(record)
        return record

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        held = record in self._holding
        self._holding.discard(record)
        try:
            if self.waiting:
                try:
                    self._pool.put(record, False)
                except Full:
                    self._spare.append(record)  # the next waiter's: not closed, not reopened
            else:
                super()._do_return_conn(record)  # into the queue, or closed past pool_size
                while self._spare:  # nobody waits: back to pool_size, as SQLAlchemy's pool
                    super()._do_return_conn(self._spare.pop())
        finally:
            if held:
                self._turns.release()

    def checkedin(self) -> int:
        return super().checkedin() + len(self._spare)

    def checkedout(self) -> int:
        return super().checkedout() - len(self._spare)

    def dispose(self) -> None:
        while self._spare:
            self._spare.pop().close()
        super().dispose()


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    """An async engine with a pool that hands connections out in arrival order; on SQLite,
    connections that keep what cannot wait off the event loop (:mod:`xkit.db.sqlite`)."""
    if database_url.startswith("sqlite"):
        sqlite.private_files(database_url)
        options.setdefault("async_creator", sqlite.connector_for(database_url))
        # Opening an aiosqlite connection starts a thread, opens the file and runs the
        # pragmas: measured at ~2.5 ms, most of a token fetch (bench/token_fetch.py). So
        # connections are kept; the pool is generous because SQLite, not the pool, is what
        # serialises writers, and a request holds a connection only while it queries.
        options.setdefault("poolclass", FifoQueuePool)
        options.setdefault("pool_size", 8)
        options.setdefault("max_overflow", 24)
        options.setdefault("pool_timeout", 30)
        engine = create_async_engine(database_url, **options)
        sqlite.configure(engine)
        sqlite.queue_writers(engine)
        return engine
    ping = options.pop("pool_pre_ping", True)
    options.setdefault("poolclass", FifoQueuePool)
    # A request holds a connection only while it queries (never while a provider answers or a
    # refresh elsewhere is awaited), so a small pool serves many concurrent requests; a burst
    # queues briefly rather than overrunning the server's connection limit.
    options.setdefault("pool_size", POSTGRES_POOL_SIZE)
    options.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    options.setdefault("pool_timeout", 30)
    engine = create_async_engine(database_url, **options)
    if ping:
        _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """A pooled connection is checked with one round trip before each use.

    SQLAlchemy's ``pool_pre_ping`` on asyncpg wraps its ping in a transaction of its own
    unless the connection is in autocommit — and it is not yet when checked out — so every
    checkout cost three round trips (BEGIN, ping, ROLLBACK) before the request's own
    statements: more than the token fetch's one statement (bench/profile.py). ``SELECT 1`` in
    the simple query protocol is one round trip, prepares nothing and opens no transaction
    (so a transaction-mode pgbouncer is fine with it). A connection that fails it is discarded and
    the pool hands out another (``DisconnectionError``), as with ``pool_pre_ping``: after a
    database restart, requests get fresh connections instead of errors."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        try:
            await_(dbapi_connection.driver_connection.execute("SELECT 1"))
        except MissingGreenlet:  # not called from async code: nothing to wait on here
            return
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc!r}") from exc


def private_directory(path: Path) -> None:
    """Create ``path`` (mode 0700) for files only xkit's own user may read: the database holds
    personal data and the key file decrypts it. An existing directory is left as the operator
    made it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def rollback_and_reload(session: AsyncSession) -> None:
    """Roll back, then reload every row the session still holds.

    A rollback expires them all, and an async session cannot load an expired attribute when
    it is read (it raises ``MissingGreenlet``), so code that goes on after a refused commit —
    using the request's platform, say — would break. A row deleted meanwhile is let go."""
    await session.rollback()
    for row in list(session.identity_map.values()):
        try:
            await session.refresh(row)
        except InvalidRequestError:
            session.expunge(row)
