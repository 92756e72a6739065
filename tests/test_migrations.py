"""The migrations build exactly the schema the models describe, and 0003 can be undone."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tests.support.xkit import XkitEnvironment
from xkit.db import migrate
from xkit.db.engine import create_engine
from xkit.db.models import Base


def test_migrations_match_the_models_and_downgrade_cleanly(
        fresh_environment: XkitEnvironment) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async def check() -> tuple[list[object], str | None, str | None]:
        if fresh_environment.database_url.startswith("sqlite"):
            fresh_environment.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(fresh_environment.database_url)
        try:
            await migrate.upgrade(engine)
            async with engine.connect() as connection:
                found = await connection.run_sync(differences)
            async with engine.begin() as connection:
                await connection.run_sync(
                    lambda c: command.downgrade(migrate.alembic_config(c), "0002"))
            downgraded = await migrate.current_revision(engine)
            await migrate.upgrade(engine)
            return found, downgraded, await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    found, downgraded, upgraded = asyncio.run(check())
    assert found == []
    assert (downgraded, upgraded) == ("0002", migrate.head_revision())
