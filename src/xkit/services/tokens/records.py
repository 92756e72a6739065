"""What the readers of a connection need from its rows, as protocols.

The token fetch reads its rows as plain frozen dataclasses (``services/tokens/fetch.py``):
building ORM instances cost more than running its one statement. Everything that only reads
a connection — the answer builder, the status, the use ledger's notes, decrypting a column,
the extras handed to a backend — is typed on these protocols, which the ORM models
(``xkit.db.models``) and those dataclasses both satisfy, so one implementation serves both.
Every member is a read-only property: a reader never writes through them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol


class KeyRecord(Protocol):
    """An API key, as checking a request's key needs it."""

    @property
    def id(self) -> str: ...
    @property
    def publishable_key(self) -> str: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def revoked_at(self) -> dt.datetime | None: ...
    @property
    def last_used_at(self) -> dt.datetime | None: ...


class Sealed(Protocol):
    """A row whose encrypted columns are bound to its id (associated data)."""

    @property
    def id(self) -> str: ...


class GrantRecord(Protocol):
    """An authorization, as a backend's answer and the choice among a connection's grants
    need it (no refresh token, no connect-flow state: those are read only by what writes)."""

    @property
    def id(self) -> str: ...
    @property
    def connection_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def display_label(self) -> str | None: ...
    @property
    def provider_account_id(self) -> str | None: ...
    @property
    def granted_scopes(self) -> list[str]: ...
    @property
    def access_token(self) -> str | None: ...
    @property
    def token_type(self) -> str | None: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def last_refreshed_at(self) -> dt.datetime | None: ...
    @property
    def extras(self) -> dict[str, Any]: ...
    @property
    def collected(self) -> str | None: ...
    @property
    def last_used_at(self) -> dt.datetime | None: ...
    @property
    def created_at(self) -> dt.datetime: ...


class ConnectorRecord(Protocol):
    """A connector, as an answer names it (and finds its template)."""

    @property
    def id(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> str: ...


class ContextRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def external_id(self) -> str: ...


class ConnectionRecord(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def created_at(self) -> dt.datetime: ...


class ShownConnection(Protocol):
    """A connection with its connector, context and standing grant, as an answer shows it:
    :class:`~xkit.services.tokens.connections.ConnectionView` (ORM rows) or the token
    fetch's own view (plain rows)."""

    @property
    def connection(self) -> ConnectionRecord: ...
    @property
    def connector(self) -> ConnectorRecord: ...
    @property
    def context(self) -> ContextRecord: ...
    @property
    def authorization(self) -> GrantRecord | None: ...
    @property
    def status(self) -> str: ...


def connection_status(connection: ConnectionRecord, authorization: GrantRecord | None) -> str:
    """``connected``, ``error``, ``pending`` (mid-flow), ``disabled`` or ``not_authorized``."""
    if not connection.enabled:
        return "disabled"
    if authorization is None:
        return "not_authorized"
    if authorization.status == "active":
        return "connected"
    if authorization.status == "error":
        return "error"
    return "pending"
