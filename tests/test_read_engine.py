"""The token fetch reads through a pool that opens no transactions and never churns.

On PostgreSQL a pooled connection in a transaction costs the fetch four extra round trips
(the pre-ping's BEGIN and ROLLBACK, then its own); an overflow connection handed back is closed,
so a steady load above the pool's size opened a new server process every few fetches.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.support.database import backend
from tests.support.xkit import XkitEnvironment
from xkit.runtime import Runtime


def test_the_read_pool_is_autocommit_and_keeps_what_it_opens(
    xkit_environment: XkitEnvironment,
) -> None:
    async def check(runtime: Runtime) -> tuple[str, int, list[str]]:
        """How statements run (each on its own, or in one transaction), how many
        connections the pool may hold, and which server processes answered."""
        read = runtime.reads.engine
        if backend() != "postgresql":
            assert read is runtime.engine  # a SELECT opens no transaction on SQLite
            return "", 0, []

        async def one() -> str:
            async with read.connect() as connection:
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
                await asyncio.sleep(0.05)  # all held at once: the pool opens each of them
                return str(pid)

        size = runtime.settings.database_pool_size + runtime.settings.database_max_overflow
        first = await asyncio.gather(*(one() for _ in range(size)))
        again = await asyncio.gather(*(one() for _ in range(size)))
        async with read.connect() as connection:  # now() is when the transaction began
            before = (await connection.execute(text("SELECT now()"))).scalar()
            await asyncio.sleep(0.01)
            after = (await connection.execute(text("SELECT now()"))).scalar()
        return "autocommit" if after != before else "transaction", size, sorted(
            set(first) | set(again))

    level, size, backends = xkit_environment.with_runtime(check)
    if backend() == "postgresql":
        assert level == "autocommit"
        assert len(backends) == size  # the second round reused the first round's connections
