"""The common case of a backend's token fetch, answered from one query on one connection.

Every API call a developer's backend makes to a provider starts with this fetch, so its cost
is the cost of xkit. The general path (an ORM session, the key's authentication, then the
connection lookup) takes two queries and spends most of its time building ORM state. Here one
statement joins the key, the context and the connector of its platform, the context's
connections to it and their authorizations, on a plain connection.

It answers only the common case: a live key, and an active token that needs no refresh. It
notes the key's and the grant's use as the general path does (in the runtime's
:class:`~xkit.services.use_ledger.UseLedger`), so it only reads. Otherwise it returns ``None``
and the general path runs: it decides every error (401, 404 …) and every refresh, so the two
can never disagree on anything but speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import LABEL_STYLE_TABLENAME_PLUS_COL, and_, bindparam, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from xkit.crypto import fingerprint
from xkit.db.models import ApiKey, Authorization, Base, Connection, Connector, Context
from xkit.services import api_keys, tokens
from xkit.services.backend_connections import ContextRow, choose, describe, is_fresh
from xkit.services.connections import ConnectionView
from xkit.services.tokens import TokenDeps


class ReadPool:
    """The read engine, and a slot per connection it keeps, handed out in arrival order.

    Waiting in the pool itself is not first come, first served: a waiter woken for a
    connection handed back often finds it taken by a request that just arrived, and queues
    again at the back. Under a load above the pool's size (64 concurrent fetches, 15
    connections) that gave p99 latencies of over a second for a p50 of 50 ms."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        pool = engine.pool
        # db/engine.py gives every engine a queue pool; only a queue pool has a size.
        assert isinstance(pool, QueuePool), f"the read engine has a {type(pool).__name__}"
        self.slots = asyncio.Semaphore(pool.size())


_MODELS: tuple[type[Base], ...] = (ApiKey, Context, Connector, Connection, Authorization)
_TABLES = {model: model.__table__ for model in _MODELS}

_ONE_QUERY = (
    select(*_TABLES.values())
    .select_from(
        ApiKey.__table__
        .outerjoin(Context.__table__, and_(Context.platform_id == ApiKey.platform_id,
                                           Context.external_id == bindparam("external_id")))
        .outerjoin(Connector.__table__, and_(Connector.platform_id == ApiKey.platform_id,
                                             Connector.slug == bindparam("slug")))
        .outerjoin(Connection.__table__, and_(Connection.context_id == Context.id,
                                              Connection.connector_id == Connector.id,
                                              Connection.enabled.is_(True)))
        .outerjoin(Authorization.__table__, Authorization.connection_id == Connection.id)
    )
    .where(ApiKey.secret_hash == bindparam("digest"))
    .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
)


async def fresh_connection(
    reads: ReadPool,
    deps: TokenDeps,
    *,
    secret: str,
    publishable_key: str | None,
    external_id: str,
    connector_slug: str,
) -> dict[str, Any] | None:
    """The get-connection answer when the common case holds, else None (ask the general path).
    """
    if not secret.startswith(api_keys.SECRET_PREFIX):
        return None
    digest = fingerprint(secret)
    async with reads.slots, reads.engine.connect() as connection:
        result = await connection.execute(
            _ONE_QUERY, {"digest": digest, "external_id": external_id, "slug": connector_slug})
        mappings = result.mappings().all()
    # The connection is back in the pool before the CPU-bound part (objects, decrypting).
    found = _found(mappings, deps, digest, publishable_key)
    if found is None:
        return None
    key, view, chosen = found
    api_keys.record_use(deps.uses, key)
    tokens.record_use(deps.uses, chosen)
    return describe(view, chosen, deps)


def _found(
    mappings: Sequence[RowMapping], deps: TokenDeps, digest: str, publishable_key: str | None
) -> tuple[ApiKey, ConnectionView, Authorization] | None:
    """The key, and the connection and grant to answer with; None for anything the general
    path must decide."""
    if not mappings:
        return None
    loaded: dict[tuple[type[Base], Any], Any] = {}
    key = _object(ApiKey, mappings[0], loaded)  # the hash is unique: one key in every row
    if not api_keys.accepts(key, digest, publishable_key):
        return None
    rows = [_objects(mapping, loaded) for mapping in mappings]
    if rows[0][0] is None:
        return None  # no such context (then it is the key's only row)
    found = choose(rows)
    if found is None:
        return None
    view, chosen = found
    if not is_fresh(chosen, deps):
        return None
    return key, view, chosen


def _objects(mapping: RowMapping, loaded: dict[tuple[type[Base], Any], Any]) -> ContextRow:
    return (_object(Context, mapping, loaded), _object(Connection, mapping, loaded),
            _object(Connector, mapping, loaded), _object(Authorization, mapping, loaded))


def _object(model: type[Base], mapping: RowMapping,
            loaded: dict[tuple[type[Base], Any], Any]) -> Any:
    """The row's ``model`` instance (one per primary key), or None where the join found none.

    Built as the ORM's own loader builds instances (``new_instance``, then the values put in
    its ``__dict__``), without the per-attribute events of ``__init__``, which cost as much as
    the query. Detached, never added to a session: ``describe`` only reads them."""
    id_label, columns = _COLUMNS[model]
    row_id = mapping[id_label]
    if row_id is None:
        return None
    instance = loaded.get((model, row_id))
    if instance is None:
        instance = model.__mapper__.class_manager.new_instance()
        instance.__dict__.update({key: mapping[label] for key, label in columns})
        loaded[(model, row_id)] = instance
    return instance


def _labels(model: type[Base]) -> tuple[str, list[tuple[str, str]]]:
    """The result label of the primary key, and (attribute, result label) of every column."""
    table = _TABLES[model]
    return f"{table.name}_id", [(attribute.key, f"{table.name}_{attribute.columns[0].name}")
                                for attribute in model.__mapper__.column_attrs]


_COLUMNS = {model: _labels(model) for model in _MODELS}
