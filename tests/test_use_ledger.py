"""Last-use times are noted in memory and written together, a second later.

The token fetch must not write on every call (``xkit.services.tokens.use_ledger``); these tests hold
the ledger to its promises on a real SQLite database: one statement for a second's uses, the
uses kept when the database is away, and nothing lost when the server stops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from xkit.db.types import utcnow
from xkit.services.tokens.use_ledger import UseLedger

pytestmark = pytest.mark.database_independent

metadata = MetaData()
keys = Table("keys", metadata, Column("id", String, primary_key=True),
             Column("last_used_at", DateTime))
grants = Table("grants", metadata, Column("id", String, primary_key=True),
               Column("last_used_at", DateTime))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'uses.db'}")
    yield engine
    await engine.dispose()


async def _seed(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        for table in (keys, grants):
            await connection.execute(insert(table), [{"id": f"{table.name}-{i:04}"}
                                                     for i in range(rows)])


async def _used(engine: AsyncEngine, table: Table) -> dict[str, dt.datetime | None]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(table.c.id, table.c.last_used_at))
        return {row.id: row.last_used_at for row in rows}


def _count_updates(engine: AsyncEngine) -> list[str]:
    updates: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE"):
            updates.append(statement)

    return updates


async def test_a_seconds_uses_are_written_in_one_statement_per_table(engine: AsyncEngine) -> None:
    await _seed(engine, 1200)
    updates = _count_updates(engine)
    ledger = UseLedger(engine, delay_seconds=0.2)
    before = utcnow().replace(tzinfo=None) - dt.timedelta(seconds=1)

    for i in range(300):
        ledger.note(keys, f"keys-{i:04}")
        ledger.note(keys, f"keys-{i:04}")  # twice in a second: one use to write
        ledger.note(grants, f"grants-{i:04}")
    assert await _used(engine, keys) == {f"keys-{i:04}": None for i in range(1200)}

    await asyncio.sleep(0.6)
    used = await _used(engine, keys)
    assert all(used[f"keys-{i:04}"] > before for i in range(300))  # type: ignore[operator]
    assert all(used[f"keys-{i:04}"] is None for i in range(300, 1200))
    assert len([u for u in updates if "grants" in u]) == 1
    assert len([u for u in updates if "keys" in u]) == 1
    assert ledger.pending == 0
    await ledger.close()


async def test_more_uses_than_a_statement_holds_are_written_in_chunks(engine: AsyncEngine) -> None:
    await _seed(engine, 1200)
    updates = _count_updates(engine)
    ledger = UseLedger(engine)
    for i in range(1200):
        ledger.note(grants, f"grants-{i:04}")
    assert await ledger.flush() == 1200
    assert None not in (await _used(engine, grants)).values()
    assert len(updates) == 3  # 500 + 500 + 200
    await ledger.close()


async def test_uses_are_kept_while_the_database_cannot_take_them(engine: AsyncEngine) -> None:
    ledger = UseLedger(engine, delay_seconds=0.05)
    ledger.note(keys, "keys-0001")
    assert await ledger.flush() == 0  # no table yet: the write fails
    assert ledger.pending == 1

    await _seed(engine, 3)
    ledger.note(keys, "keys-0002")
    assert await ledger.flush() == 2
    used = await _used(engine, keys)
    assert used["keys-0001"] is not None and used["keys-0002"] is not None
    assert used["keys-0000"] is None
    await ledger.close()


async def test_the_timer_retries_a_failed_write(engine: AsyncEngine) -> None:
    ledger = UseLedger(engine, delay_seconds=0.05)
    ledger.note(grants, "grants-0000")
    await asyncio.sleep(0.12)  # the first write failed: no table
    assert ledger.pending == 1
    await _seed(engine, 1)
    for _ in range(40):
        await asyncio.sleep(0.05)
        if ledger.pending == 0:
            break
    assert (await _used(engine, grants))["grants-0000"] is not None
    await ledger.close()


async def test_closing_writes_what_is_left(engine: AsyncEngine) -> None:
    await _seed(engine, 2)
    ledger = UseLedger(engine, delay_seconds=60)
    ledger.note(keys, "keys-0000")
    ledger.note(grants, "grants-0001")
    await ledger.close()
    assert (await _used(engine, keys))["keys-0000"] is not None
    assert (await _used(engine, grants))["grants-0001"] is not None
