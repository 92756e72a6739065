"""``INSERT … ON CONFLICT DO NOTHING`` on both databases xkit runs on.

Looking a row up and inserting it when absent races: two requests that both find nothing
both insert, and one of them fails on the unique constraint. Letting the database settle
it in the insert itself means every caller succeeds, whichever one wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import ReturningInsert

from xkit.db.results import rows_matched

Insertable = type[DeclarativeBase] | Table
_INSERTS: dict[str, Callable[[Insertable], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


async def insert_if_absent(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    *,
    unique: Sequence[str],
) -> bool:
    """Insert a row of ``model`` unless one with the same ``unique`` columns exists; whether
    this call inserted it. Column defaults (ids, timestamps) apply as with the ORM."""
    insert = _INSERTS[session.get_bind().dialect.name]
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
    result = await session.execute(statement)
    return rows_matched(result) == 1


# insert_new's statements, by dialect, table and unique columns.
_RETURNING: dict[tuple[str, Table, tuple[str, ...]], ReturningInsert[Any]] = {}


async def insert_new(
    session: AsyncSession,
    table: Table,
    values: Mapping[str, Any],
    *,
    unique: Sequence[str],
) -> RowMapping | None:
    """As :func:`insert_if_absent`, in one statement with the row it inserted (``RETURNING``,
    every column), or None when one with the same ``unique`` columns was there already.

    Core, not the ORM, and built once per table (the values are its parameters): on the
    Platform API's context creation, the ORM's insert and building the statement each cost
    more CPU than the database spent on it."""
    dialect = session.get_bind().dialect.name
    statement = _RETURNING.get((dialect, table, tuple(unique)))
    if statement is None:
        statement = _RETURNING[(dialect, table, tuple(unique))] = (
            _INSERTS[dialect](table).on_conflict_do_nothing(index_elements=unique)
            .returning(*table.c))
    inserted: RowMapping | None = (
        await session.execute(statement, dict(values))).mappings().first()
    return inserted
