"""SQLite connections run what cannot wait on the event loop, and wait for a lock on their thread.

Reads, and writes of a transaction that holds the write lock, run in the caller: no handover
to aiosqlite's thread. A write that finds another process holding the write lock waits for
it on the thread, and the event loop goes on serving meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from xkit.db.engine import create_engine

pytestmark = pytest.mark.database_independent


class StatementLog:
    """Which thread ran each statement, as SQLite's trace callback saw it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[tuple[str, bool]] = []

        @event.listens_for(engine.sync_engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            raw: sqlite3.Connection = dbapi_connection.driver_connection._conn
            raw.set_trace_callback(self._note)

    def _note(self, sql: str) -> None:
        self.seen.append((sql.split()[0].upper(), threading.current_thread()
                          is threading.main_thread()))

    def threads_of(self, verb: str) -> set[bool]:
        """For the statements starting with ``verb``: True if run on the event loop's thread."""
        return {on_loop for found, on_loop in self.seen if found == verb}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "xkit.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
    setup.commit()
    setup.close()
    yield path


def test_reads_and_uncontended_writes_run_on_the_event_loops_thread(database: Path) -> None:
    async def scenario() -> list[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        log = StatementLog(engine)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))
                await connection.execute(text("UPDATE notes SET body = 'second'"))
            async with engine.connect() as connection:
                found = (await connection.execute(text("SELECT body FROM notes"))).scalars()
                bodies = list(found)
        finally:
            await engine.dispose()
        assert log.threads_of("SELECT") == {True}
        assert log.threads_of("INSERT") == {True}
        assert log.threads_of("UPDATE") == {True}
        assert log.threads_of("COMMIT") == {True}
        return bodies

    assert asyncio.run(scenario()) == ["second"]


def test_a_write_waits_for_another_process_lock_without_stopping_the_event_loop(
        database: Path) -> None:
    other_process = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock
    other_process.execute("INSERT INTO notes (body) VALUES ('theirs')")

    async def scenario() -> tuple[int, list[str]]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        log = StatementLog(engine)
        ticks = 0

        async def other_requests() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        serving = asyncio.create_task(other_requests())
        asyncio.get_running_loop().call_later(0.5, other_process.execute, "COMMIT")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))
            async with engine.connect() as connection:
                bodies = list((await connection.execute(
                    text("SELECT body FROM notes ORDER BY id"))).scalars())
        finally:
            serving.cancel()
            await engine.dispose()
        assert (("INSERT", False) in log.seen), "the waiting write ran on the thread"
        return ticks, bodies

    ticks, bodies = asyncio.run(scenario())
    other_process.close()
    assert bodies == ["theirs", "ours"]
    assert ticks >= 25, f"the event loop ran only {ticks} times in the half second it waited"


def test_a_refused_write_is_an_error_and_the_connection_goes_on(database: Path) -> None:
    async def scenario() -> int:
        engine = create_engine(f"sqlite+aiosqlite:///{database}", pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('once')"))
            with pytest.raises(IntegrityError):
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO notes (body) VALUES ('once')"))
            async with engine.connect() as connection:  # the same pooled connection
                waits = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
                await connection.execute(text("INSERT INTO notes (body) VALUES ('twice')"))
                await connection.commit()
            return int(waits)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 10_000, "the busy timeout is back after a write without it"
