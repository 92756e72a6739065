"""One read statement run on the pooled connection's own driver (asyncpg), for the hottest path.

The token fetch runs one statement per request, and on PostgreSQL SQLAlchemy's execution of it
— a Connection and its events, the compiled-cache lookup, the cursor adapter, a result with
29 result processors — cost about as much CPU as everything else xkit does for the request
(docs/performance.md). Here the statement is compiled once for the engine's dialect and run
with asyncpg's ``fetch`` on a connection checked out of the same pool: the pool's order, its
limit, the ping on checkout and the reset on return all still apply, and a driver error
reaches the caller as SQLAlchemy would have raised it (a ``DBAPIError`` that
:func:`xkit.db.errors.classify` reads, the connection invalidated when it was lost).

Only for statements whose parameters need no bind processing and whose columns need no
result processing beyond what asyncpg does (strings, booleans, ``timestamptz`` — asyncpg
hands back UTC datetimes, as :class:`xkit.db.types.UTCDateTime` does — and JSON, decoded by
the codec SQLAlchemy's dialect installs on every connection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn


class DriverStatement:
    """A SELECT compiled once for ``dialect``: its SQL text and its parameters' order."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled._bind_processors:
            raise ValueError("a driver statement takes only parameters passed as they are")
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())


def runs_on_driver(engine: AsyncEngine) -> bool:
    """Whether to run a :class:`DriverStatement` on this engine's driver: its connections are
    asyncpg's, and nothing listens to SQLAlchemy's statement events — tracing
    (:mod:`xkit.telemetry`) or a test counting statements — which would not see it."""
    return (engine.dialect.driver == "asyncpg"
            and not engine.sync_engine.dispatch.before_cursor_execute)


async def fetch_all(engine: AsyncEngine, statement: DriverStatement,
                    params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
    """The statement's rows, read outside any transaction on a pooled connection."""
    values = [params[name] for name in statement.names]
    pooled = await _checkout(engine)
    try:
        driver: Any = pooled.driver_connection
        rows: Sequence[Sequence[Any]] = await driver.fetch(statement.sql, *values)
        return rows
    except Exception as error:
        _raise_as_sqlalchemy(engine, pooled, statement, values, error)
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool, as SQLAlchemy hands it back


async def _checkout(engine: AsyncEngine) -> Any:
    """A pooled connection; failing to open one is a ``DBAPIError`` with no statement, as
    ``engine.connect()`` raises it (the pool's own ``raw_connection`` leaves the driver's
    error unwrapped)."""
    dialect = engine.dialect
    dbapi_error: Any = dialect.loaded_dbapi.Error
    try:
        return await engine.raw_connection()
    except dbapi_error as error:
        raise DBAPIError.instance(
            None, None, error, dbapi_error, hide_parameters=engine.sync_engine.hide_parameters,
            connection_invalidated=dialect.is_disconnect(error, None, None),
            dialect=dialect) from error


def _raise_as_sqlalchemy(engine: AsyncEngine, pooled: Any, statement: DriverStatement,
                         values: list[Any], error: Exception) -> NoReturn:
    """Raise ``error`` as SQLAlchemy would have; a lost connection is invalidated, so the
    pool opens a new one instead of handing it out again."""
    dialect = engine.dialect
    dbapi_error: Any = dialect.loaded_dbapi.Error
    try:
        pooled.dbapi_connection._handle_exception(error)  # the dialect's own translation
    except dbapi_error as translated:
        lost = dialect.is_disconnect(translated, pooled.dbapi_connection, None)
        if lost:
            pooled.invalidate(translated)
        raise DBAPIError.instance(
            statement.sql, values, translated, dbapi_error,
            hide_parameters=engine.sync_engine.hide_parameters, connection_invalidated=lost,
            dialect=dialect) from error
    raise error  # not reached: the translation raises
