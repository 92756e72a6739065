"""Engine and session factory for the one database xkit keeps all its state in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 5


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout so that the server,
    the worker and CLI commands can share one file."""
    if database_url.startswith("sqlite"):
        _private_sqlite_files(database_url)
        # Opening an aiosqlite connection starts a thread, opens the file and runs the
        # pragmas below: measured at ~2.5 ms, most of a token fetch (bench/token_fetch.py).
        # So connections are kept; the pool is generous because SQLite, not the pool, is
        # what serialises writers, and a request holds a connection only while it queries.
        options.setdefault("poolclass", AsyncAdaptedQueuePool)
        options.setdefault("pool_size", 8)
        options.setdefault("max_overflow", 24)
        options.setdefault("pool_timeout", 30)
        engine = create_async_engine(database_url, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    # A request holds a connection only while it queries (never while a provider answers or a
    # refresh elsewhere is awaited), so a small pool serves many concurrent requests; a burst
    # queues briefly rather than overrunning the server's connection limit.
    options.setdefault("pool_size", POSTGRES_POOL_SIZE)
    options.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    options.setdefault("pool_timeout", 30)
    return create_async_engine(database_url, **options)


def private_directory(path: Path) -> None:
    """Create ``path`` (mode 0700) for files only xkit's own user may read: the database holds
    personal data and the key file decrypts it. An existing directory is left as the operator
    made it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _private_sqlite_files(database_url: str) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (it would use 0644 under the
    usual umask), and take group and other access away from one made earlier. SQLite gives
    its -wal and -shm files the database file's mode, so they follow."""
    name = make_url(database_url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    try:
        private_directory(path.parent)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
    except OSError:  # not ours to create or change: SQLite reports what matters on connect
        pass


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


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
