"""SQLite under an async engine: connections that hand the driver's thread only what can wait.

aiosqlite runs every call on a connection — a cursor made, a statement run, its rows fetched,
the cursor closed, a commit — on that connection's own thread, each call handed over through
a queue and each answer handed back through the event loop. A request made a dozen such
handovers, and they cost more than SQLite's own work: listing connectors ran at 437
requests/s with a p99 of 61 ms at 16 in flight, creating contexts at 320/s with 73 ms
(bench/api_routes.py; 700/s and 28 ms, 430/s and 46 ms now).

Most of those calls cannot wait for anything. In WAL mode a read never waits on a lock; a
transaction that has written holds the database's write lock until it ends; fetching rows,
closing a cursor, committing and rolling back wait on no lock. So they run in the caller, on
the event loop's thread. The one call that can wait is the write that begins a transaction,
when another process (a worker, the CLI) holds the write lock: it is tried without waiting
and, if the lock is taken, run again on the thread, which waits up to the busy timeout while
the event loop serves other requests. Statements that are neither reads nor writes (DDL,
``PRAGMA``, scripts), and opening and closing the connection, go to the thread too.

One cost stays on the loop: a commit that crosses SQLite's automatic checkpoint (every 1,000
pages written) copies the WAL into the database file and syncs both, ~5 ms on this project's
test machine, paid by one commit in a few hundred under a steady stream of writes.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

# A statement that changes data: on pysqlite it begins the transaction if none is open, and
# takes SQLite's one write lock.
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
# Calls that never wait for a lock: a cursor's work once its statement has run, and ending a
# transaction (which holds the write lock if it wrote anything).
_NEVER_WAIT = frozenset({"cursor", "fetchone", "fetchmany", "fetchall", "commit", "rollback"})
_STATEMENT = frozenset({"execute", "executemany"})
BUSY_TIMEOUT_SECONDS = 10.0


class SQLiteConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs on its thread only the calls that can wait."""

    # Whether the open transaction has written, so holds the write lock: its next writes
    # cannot wait for it.
    _holds_write_lock = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        name = getattr(fn, "__name__", "")
        sql = args[0] if name in _STATEMENT and args and isinstance(args[0], str) else None
        if sql is not None and WRITE.match(sql):
            result = await self._write(fn, args, kwargs)
            self._holds_write_lock = self._conn.in_transaction
            return result
        if self._never_waits(name, fn, sql):
            result = fn(*args, **kwargs)
        else:
            result = await super()._execute(fn, *args, **kwargs)
        if name in ("commit", "rollback"):
            self._holds_write_lock = False
        return result

    @staticmethod
    def _never_waits(name: str, fn: Callable[..., Any], sql: str | None) -> bool:
        if name in _NEVER_WAIT:
            return True
        if name == "close":  # a cursor's close never waits; the connection's may checkpoint
            return isinstance(getattr(fn, "__self__", None), sqlite3.Cursor)
        return sql is not None and _READ.match(sql) is not None

    async def _write(self, fn: Callable[..., Any], args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> Any:
        """A write runs in the caller when its transaction holds the write lock already, or
        can take it without waiting; only when another process holds it does it wait for
        it, on the thread, for up to the busy timeout."""
        if self._holds_write_lock:
            return fn(*args, **kwargs)
        if not self._conn.in_transaction:  # the write that begins the transaction
            try:
                return self._without_waiting(fn, args, kwargs)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                self._conn.rollback()  # nothing was done: begin again, and wait this time
        return await super()._execute(fn, *args, **kwargs)

    def _without_waiting(self, fn: Callable[..., Any], args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> Any:
        self._conn.execute("PRAGMA busy_timeout=0")
        try:
            return fn(*args, **kwargs)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")


def connector_for(database_url: str) -> Callable[[], aiosqlite.Connection]:
    """What an engine's ``async_creator`` calls: a :class:`SQLiteConnection` to the URL's
    database, opened with the arguments SQLAlchemy's aiosqlite dialect would pass, and
    usable from the event loop's thread as well as its own."""
    found_args, found_kwargs = SQLiteDialect_aiosqlite().create_connect_args(
        make_url(database_url))
    (database,) = found_args
    kwargs = {**found_kwargs, "check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}

    def connect() -> aiosqlite.Connection:
        def open_file() -> sqlite3.Connection:
            opened: sqlite3.Connection = sqlite3.connect(database, **kwargs)
            return opened

        connection = SQLiteConnection(open_file, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never holds up an exit
        return connection

    return connect


def private_files(database_url: str) -> None:
    """Create the SQLite file with mode 0600 before SQLite does (it would use 0644 under the
    usual umask), and take group and other access away from one made earlier. SQLite gives
    its -wal and -shm files the database file's mode, so they follow."""
    name = make_url(database_url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
    except OSError:  # not ours to create or change: SQLite reports what matters on connect
        pass


def configure(engine: AsyncEngine) -> None:
    """WAL (readers never wait for the writer), foreign keys enforced, a busy timeout so that
    the server, the worker and CLI commands can share one file, and syncs at checkpoints only."""
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


_HOLDS_WRITE_TURN = "xkit_holds_write_turn"
# Past this, a writer goes ahead and leaves the waiting to SQLite's busy timeout, as before.
WRITE_TURN_WAIT_SECONDS = 10.0


def queue_writers(engine: AsyncEngine) -> None:
    """Writers of one process take turns in arrival order before SQLite's lock.

    Left to SQLite, concurrent writers wait in its busy handler, which sleeps for growing
    intervals (up to 100 ms) and wakes in no order: under 16 concurrent context creations,
    p50 11 ms but p99 over a second (bench/api_routes.py). An asyncio lock, taken by a
    connection at its transaction's first write and given back when the transaction ends,
    lets each writer go as soon as the previous one is done. Other processes (a worker, the
    CLI) still meet at SQLite's lock, and wait there as before."""
    turn = asyncio.Lock()  # first come, first served: no newcomer overtakes a waiter

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _take_turn(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.info.get(_HOLDS_WRITE_TURN) or not WRITE.match(statement):
            return
        try:
            await_(asyncio.wait_for(turn.acquire(), WRITE_TURN_WAIT_SECONDS))
        except (TimeoutError, MissingGreenlet):
            return  # no turn: SQLite's own lock still serialises the writers
        conn.info[_HOLDS_WRITE_TURN] = True

    def _give_back(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITE_TURN, False):
            turn.release()

    event.listen(engine.sync_engine, "commit", lambda conn: _give_back(conn.info))
    event.listen(engine.sync_engine, "rollback", lambda conn: _give_back(conn.info))
    # A connection handed back or dropped with its transaction still open ends it too.
    event.listen(engine.sync_engine.pool, "checkin",
                 lambda _dbapi, record: _give_back(record.info))
    event.listen(engine.sync_engine.pool, "invalidate",
                 lambda _dbapi, record, _exc: _give_back(record.info))
