"""The PostgreSQL pool under more requests than connections: served in arrival order, and
without closing and reopening connections while requests wait for one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.support.database import backend, temporary_database
from xkit.db.engine import create_engine

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="the PostgreSQL pool")


def test_a_busy_pool_keeps_its_overflow_connections_until_nobody_waits(tmp_path: Path) -> None:
    async def run(url: str) -> tuple[int, int, int]:
        engine = create_engine(url, pool_size=2, max_overflow=2)
        opened = 0

        @event.listens_for(engine.sync_engine, "connect")
        def _count(*_: Any) -> None:
            nonlocal opened
            opened += 1

        async def client() -> None:
            for _ in range(10):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT pg_sleep(0.002)"))

        try:
            await asyncio.gather(*(client() for _ in range(8)))  # 8 in flight, 4 connections
            pool: Any = engine.sync_engine.pool
            return opened, pool.checkedin(), pool.checkedout()
        finally:
            await engine.dispose()

    with temporary_database(tmp_path, "postgresql") as url:
        opened, idle, busy = asyncio.run(run(url))
    # Every connection opened once: none closed and reopened while others waited for it.
    assert opened == 4
    # Once nobody waits, the pool is back to its pool_size.
    assert (idle, busy) == (2, 0)
