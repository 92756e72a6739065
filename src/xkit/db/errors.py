"""What a database error means for the request that hit it, decided in one place.

The API's error handlers and the dashboard's page wrapper both ask :func:`classify`, so a
database error gets the same meaning wherever it surfaces:

- ``OUTAGE``: the database is down, restarting, overloaded, or the pool is exhausted. Nothing
  is wrong with the request; retrying shortly may work (503).
- ``INVALID_DATA``: the request carried a value the database cannot store or compare, such as
  a NUL character in text on PostgreSQL. The caller's input is at fault (400).
- ``CONFLICT``: a unique or foreign-key constraint refused a change, typically because two
  requests raced for the same row (409).
- ``None``: anything else (a bad query, a missing table) is a bug in xkit and stays a 500.

PostgreSQL names each error with a SQLSTATE whose first two characters are its class; SQLite's
driver has no SQLSTATE, so there the DB-API exception class decides.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class DatabaseProblem(StrEnum):
    OUTAGE = "outage"
    INVALID_DATA = "invalid_data"
    CONFLICT = "conflict"


#: What the API and the dashboard tell whoever made the request (never the value itself).
EXPLANATIONS = {
    DatabaseProblem.OUTAGE: "xkit's database is busy or unreachable; retry shortly",
    DatabaseProblem.INVALID_DATA: "the request holds a value xkit cannot store or look up "
                                  "(such as a control character); check the input",
    DatabaseProblem.CONFLICT: "this change conflicts with another one made at the same time, "
                              "or with data that already exists; reload and try again",
}


# SQLSTATE classes (PostgreSQL manual, appendix A "PostgreSQL Error Codes").
_CONFLICT_CLASSES = {"23"}  # integrity constraint violation
_INVALID_DATA_CLASSES = {"22"}  # data exception: bad encoding (NUL), out of range, bad format
_OUTAGE_CLASSES = {
    "08",  # connection exception
    "28",  # invalid authorization: the server refuses xkit's credentials (changed meanwhile)
    "3D",  # invalid catalog name: the database is gone (dropped, renamed, not restored yet)
    "40",  # transaction rollback: serialization failure, deadlock (retrying works)
    "53",  # insufficient resources: too many connections, disk full
    "57",  # operator intervention: shutting down, cannot connect now, statement timeout
    "58",  # system error
}
_OUTAGE_STATES = {"55P03"}  # lock not available


def classify(exc: BaseException) -> DatabaseProblem | None:
    """The kind of database problem ``exc`` is, or None when it is not one we can explain."""
    if isinstance(exc, PoolTimeoutError | ConnectionError):
        return DatabaseProblem.OUTAGE
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated or exc.statement is None:
        # No statement: it failed while connecting, whatever the driver says why.
        return DatabaseProblem.OUTAGE
    state = sqlstate(exc)
    if state is not None:
        if state[:2] in _CONFLICT_CLASSES:
            return DatabaseProblem.CONFLICT
        if state[:2] in _INVALID_DATA_CLASSES:
            return DatabaseProblem.INVALID_DATA
        if state[:2] in _OUTAGE_CLASSES or state in _OUTAGE_STATES:
            return DatabaseProblem.OUTAGE
        return None
    if isinstance(exc, IntegrityError):
        return DatabaseProblem.CONFLICT
    if isinstance(exc, DataError):
        return DatabaseProblem.INVALID_DATA
    if isinstance(exc, ProgrammingError | NotSupportedError):
        return None
    # No SQLSTATE and an operational or interface error: SQLite's "database is locked", a
    # connection the driver found closed.
    return DatabaseProblem.OUTAGE


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE the driver reported (asyncpg and psycopg do; SQLite does not)."""
    for source in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None
