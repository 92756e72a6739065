"""Contexts: the developer's users, teams or companies, each with their own connections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import RowMapping, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Context
from xkit.db.upsert import insert_new
from xkit.errors import Conflict, InvalidInput, NotFound
from xkit.services.configuration.validation import check_text
from xkit.services.cursors import decode_cursor, encode_cursor
from xkit.services.tokens.connections import announce_removal, list_context_connections

EXTERNAL_ID_MAX = 255


def check_external_id(value: str) -> str:
    """The developer's id for a context. It becomes a path segment of the Platform API
    (``/contexts/{external_id}/connections``), so it may not hold a '/' (nor be '.' or '..',
    which HTTP clients fold away), or it could be created but never fetched again."""
    value = value.strip()
    if not value or len(value) > EXTERNAL_ID_MAX:
        raise InvalidInput(
            f"external_id must be 1-{EXTERNAL_ID_MAX} characters", details={"field": "external_id"}
        )
    if "/" in value or value in (".", ".."):
        raise InvalidInput(
            "external_id must not contain '/' or be '.' or '..': it is part of Platform API "
            "URLs such as /api/platform/contexts/{external_id}",
            details={"field": "external_id"},
        )
    return check_text(value, field="external_id", maximum=EXTERNAL_ID_MAX)


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """A context as creating it answers: read and written with Core statements, not as an ORM
    object. Every page load of an app's catalog creates or reads one, and the ORM's loading
    and its insert cost more CPU than the database spent (bench/: the Platform API routes)."""

    id: str
    platform_id: str
    external_id: str
    external_name: str | None
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


async def upsert_context(
    session: AsyncSession,
    platform_id: str,
    *,
    external_id: str,
    external_name: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> tuple[ContextRecord, bool]:
    """Create the context or update its name and attributes; returns (context, created).

    Backends call this on every page view of a user, often in parallel for a new user: the
    insert settles the race in the database, so every caller gets the one context. A context
    that exists with nothing to change is only read: no write, no wait for the write lock."""
    external_id = check_external_id(external_id)
    if external_name is not None:
        external_name = check_text(external_name, field="external_name", maximum=255)
    key = {"platform_id": platform_id, "external_id": external_id}
    found = await _find_row(session, key)
    created = False
    if found is None:
        found = await insert_new(
            session, _CONTEXTS,
            {**key, "external_name": external_name, "attributes": attributes or {}},
            unique=("platform_id", "external_id"))
        created = found is not None
    if found is None:  # another request inserted it first
        found = await _find_row(session, key)
        if found is None:
            raise Conflict("the context was deleted while it was being saved; retry")
    if not created:
        changes: dict[str, Any] = {}
        if external_name is not None and external_name != found["external_name"]:
            changes["external_name"] = external_name
        merged = {**found["attributes"], **(attributes or {})}
        if merged != found["attributes"]:
            changes["attributes"] = merged
        if changes:
            found = (await session.execute(
                update(_CONTEXTS).where(_CONTEXTS.c.id == found["id"]).values(**changes)
                .returning(*_CONTEXTS.c))).mappings().one()
    await session.commit()
    return ContextRecord(**{name: found[name] for name in _RECORD_FIELDS}), created


# Built once: context creation and lookup run on every page load of an app's catalog, and
# building a statement costs more CPU than the database spends answering it.
_CONTEXTS = Context.__table__
# What a ContextRecord holds: a column added to the table later is not handed to it.
_RECORD_FIELDS = tuple(field.name for field in fields(ContextRecord))
_BY_EXTERNAL_ID = select(Context).where(Context.platform_id == bindparam("platform_id"),
                                        Context.external_id == bindparam("external_id"))
_ROW_BY_EXTERNAL_ID = select(*_CONTEXTS.c).where(
    _CONTEXTS.c.platform_id == bindparam("platform_id"),
    _CONTEXTS.c.external_id == bindparam("external_id"))


async def _find(session: AsyncSession, platform_id: str, external_id: str) -> Context | None:
    found: Context | None = await session.scalar(
        _BY_EXTERNAL_ID, {"platform_id": platform_id, "external_id": external_id})
    return found


async def _find_row(session: AsyncSession, key: dict[str, str]) -> RowMapping | None:
    return (await session.execute(_ROW_BY_EXTERNAL_ID, key)).mappings().first()


async def list_contexts(
    session: AsyncSession, platform_id: str, *, limit: int, cursor: str | None = None
) -> tuple[list[Context], str | None]:
    """A page of the platform's contexts by id, and the cursor of the next page (None on the
    last)."""
    query = select(Context).where(Context.platform_id == platform_id)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Context.id > after)
    found = list((await session.scalars(query.order_by(Context.id).limit(limit + 1))).all())
    if len(found) <= limit:
        return found, None
    return found[:limit], encode_cursor(found[limit - 1].id)


async def get_context(session: AsyncSession, platform_id: str, external_id: str) -> Context:
    context = await _find(session, platform_id, external_id)
    if context is None:
        raise NotFound(f"no context with external_id {external_id!r}", code="context_not_found")
    return context


async def delete_context(session: AsyncSession, platform_id: str, external_id: str) -> None:
    """Deletes the context with its connections and their credentials."""
    context = await get_context(session, platform_id, external_id)
    await announce_removal(session, await list_context_connections(session, context))
    await session.delete(context)
    await session.commit()
