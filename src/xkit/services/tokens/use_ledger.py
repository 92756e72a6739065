"""Last-use times, noted in memory and written in batches.

API keys and grants carry ``last_used_at``: the dashboard and ``xkit keys list`` show a key's,
and the worker refreshes ahead of expiry the grants that backends use. They are hints kept to
the minute, not records. Written by the request that noticed them, they cost a commit on most
token fetches once a platform has many connections (each grant is fetched again only minutes
later, so most fetches are its first in minutes): a fifth of the throughput at a million
connections (``bench/scale.py``). Here a request only notes the use; a second later one
``UPDATE … WHERE id IN (…)`` per table writes every use noted meanwhile.

A crash loses at most the last second of hints. A failed write keeps its uses for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import Table, Update, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from xkit.db.types import utcnow

log = logging.getLogger("xkit.uses")

FLUSH_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 30.0
# Few enough bound parameters for any SQLite build, many enough to write a second's uses at once.
CHUNK_SIZE = 500

# A lost hint costs nothing, so the commit need not wait for the WAL to reach the disk.
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO OFF")


class UseLedger:
    """The uses noted since the last write, per table, and the timer that writes them."""

    def __init__(self, engine: AsyncEngine, *, delay_seconds: float = FLUSH_DELAY_SECONDS) -> None:
        self._engine = engine
        self._delay = delay_seconds
        self._pending: dict[Table, set[str]] = {}
        self._latest: dt.datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self._failures = 0
        self._statements: dict[Table, Update] = {}

    def note_unless_recent(self, table: Table, row_id: str, last_used_at: dt.datetime | None,
                           granularity: dt.timedelta) -> None:
        """Note the use unless the row's ``last_used_at`` is already within ``granularity``:
        the times are kept only that finely, so most calls note nothing."""
        if last_used_at is None or utcnow() - last_used_at >= granularity:
            self.note(table, row_id)

    def note(self, table: Table, row_id: str) -> None:
        """Remember that row ``row_id`` of ``table`` was used now; written within a second."""
        self._pending.setdefault(table, set()).add(row_id)
        self._latest = utcnow()
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._flush_later())

    @property
    def pending(self) -> int:
        return sum(len(ids) for ids in self._pending.values())

    async def flush(self) -> int:
        """Write every use noted so far; how many rows were written (0 if it failed)."""
        pending, self._pending = self._pending, {}
        if not pending or self._latest is None:
            return 0
        try:
            async with self._engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(_NO_FLUSH_WAIT)
                for table, ids in pending.items():
                    ordered = sorted(ids)  # one lock order for every replica: no deadlocks
                    for start in range(0, len(ordered), CHUNK_SIZE):
                        await connection.execute(
                            self._statement(table),
                            {"ids": ordered[start:start + CHUNK_SIZE], "now": self._latest})
        except BaseException as exc:  # the database is away: keep the uses for the next try
            for table, ids in pending.items():
                self._pending.setdefault(table, set()).update(ids)
            if not isinstance(exc, Exception):
                raise  # cancelled by close(), which writes them itself
            self._failures += 1
            log.warning("could not write %d last-use times (%s); will retry",
                        self.pending, type(exc).__name__)
            return 0
        self._failures = 0
        return sum(len(ids) for ids in pending.values())

    async def close(self) -> None:
        """Stop the timer and write what is left (the engine is about to be disposed)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await self.flush()

    async def _flush_later(self) -> None:
        """Write a second from now, and again while uses arrive or writes fail (backing off).
        """
        try:
            while True:
                await asyncio.sleep(min(self._delay * 2 ** self._failures,
                                        MAX_RETRY_DELAY_SECONDS))
                await self.flush()
                if not self._pending:
                    return
        finally:
            self._timer = None

    def _statement(self, table: Table) -> Update:
        """Built once per table: building a statement costs more than running it."""
        statement = self._statements.get(table)
        if statement is None:
            statement = (
                update(table)
                .where(table.c.id.in_(bindparam("ids", expanding=True)))
                .values(last_used_at=bindparam("now", type_=table.c.last_used_at.type))
            )
            self._statements[table] = statement
        return statement
