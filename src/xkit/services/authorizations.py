"""The connect flow: from "Connect" to an active authorization, or a definite error.

1. :func:`begin_connection` makes (or reuses) the connection and a fresh authorization in
   ``awaiting_callback``.
2. :func:`authorization_redirect` — when the popup (or the redirect-mode page) arrives — makes
   the single-use ``state`` (stored hashed, expiring) and the PKCE verifier, and returns the
   provider's authorize URL.
3. :func:`complete_callback` claims the authorization by its state exactly once, exchanges the
   code, reads the account, stores the tokens encrypted and records the webhook event in the
   same transaction.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import Keyring, fingerprint
from xkit.db.models import Authorization, Connection, Connector, Context, Platform
from xkit.db.types import new_id, utcnow
from xkit.errors import Conflict, Forbidden, InvalidInput, NotFound
from xkit.oauth import ProviderError, TokenSet, new_pkce_pair
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import AccountInfo, ProviderTemplate
from xkit.services import audit, events, extras
from xkit.services.connections import ConnectionView, get_connection, latest_authorizations
from xkit.services.connectors import callback_url, find_connector, is_ready, template_of
from xkit.services.keyring import column_aad
from xkit.services.provider_http import oauth_client

log = logging.getLogger("xkit.flow")

STATE_TTL = dt.timedelta(minutes=10)
# A callback exchanges the code and reads the account: two provider calls, each bounded by
# XKIT_PROVIDER_TIMEOUT_SECONDS (at most 120 s). One still `retrieving_tokens` after this long
# was cut short (the process died mid-callback) and will never finish by itself.
INTERRUPTED_AFTER = dt.timedelta(minutes=5)
AWAITING = "awaiting_callback"
RETRIEVING = "retrieving_tokens"
ACTIVE = "active"
ERROR = "error"

# Our own error codes, with messages an end user can act on.
FLOW_MESSAGES = {
    "cancelled": "The connection was cancelled before it finished. You can try again.",
    "state_expired": "The sign-in took too long and expired. Please try again.",
    "different_account": "You signed in with a different account than the one this connection "
                         "uses. Sign in with the original account, or remove the connection "
                         "and connect again.",
    "account_unreadable": "Signed in, but the account could not be read from the provider. "
                          "Please try again.",
    "provider_unavailable": "The provider could not be reached or answered with an error. "
                            "Please try again in a moment.",
    "missing_code": "The provider sent no authorization code back. Please try again.",
    "interrupted": "The connection was interrupted while it was being completed. "
                   "Please try again.",
    "lookup_failed": "Signed in, but the provider refused to say which account or workspace "
                     "was connected. Please try again; if it keeps failing, the app's team "
                     "should check the integration's permissions.",
    "provider_missing": "This integration is not available on this server any more. "
                        "Please contact the app's team.",
}


@dataclass(frozen=True)
class FlowDeps:
    providers: ProviderRegistry
    keyring: Keyring
    http: httpx.AsyncClient
    public_url: str


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback page shows and tells the opener."""

    authorization: Authorization | None
    status: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def opener_origin(self) -> str | None:
        return self.authorization.opener_origin if self.authorization else None


def _aad(column: str, authorization_id: str) -> str:
    return column_aad("authorizations", column, authorization_id)


def encrypt_for(keyring: Keyring, authorization: Authorization, column: str, value: str) -> str:
    return keyring.encrypt(value, aad=_aad(column, authorization.id))


def decrypt_from(keyring: Keyring, authorization: Authorization, column: str) -> str | None:
    value = getattr(authorization, column)
    return None if value is None else keyring.decrypt(value, aad=_aad(column, authorization.id))


def needs_collect(template: ProviderTemplate, authorization: Authorization) -> bool:
    """The template asks the user for input (the collect step) and none was given yet."""
    return bool(template.collect) and authorization.collected is None


def effective_settings(keyring: Keyring, connector: Connector,
                       authorization: Authorization | None) -> dict[str, str]:
    """What URL placeholders are filled from: the connector's settings, then what this
    authorization's user typed in the collect step."""
    raw = decrypt_from(keyring, authorization, "collected") if authorization else None
    return {**connector.settings, **(json.loads(raw) if raw else {})}


def connected_values(keyring: Keyring, template: ProviderTemplate, connector: Connector,
                     authorization: Authorization | None) -> dict[str, str]:
    """What a connected authorization's placeholders (API base URL, API headers) are filled
    from: its effective settings plus the extras the provider told us while connecting."""
    return {**effective_settings(keyring, connector, authorization),
            **extras.placeholder_values(template, authorization)}


# --- 1. begin ---------------------------------------------------------------------------------

async def begin_connection(session: AsyncSession, deps: FlowDeps, platform: Platform,
                           context: Context, connector_slug: str, *,
                           connection_id: str | None = None,
                           reconnect_id: str | None = None) -> ConnectionView:
    """A connection with a new authorization awaiting the provider.

    Reuses the context's existing connection for a connector that allows one connection only
    (connecting again is reconnecting), and the named connection when ``reconnect_id`` is given.
    """
    connector = await _connectable_connector(session, deps, platform, connector_slug)
    connection: Connection | None = None
    if reconnect_id is not None:
        connection = await session.scalar(select(Connection).where(
            Connection.id == reconnect_id, Connection.context_id == context.id,
            Connection.connector_id == connector.id))
        if connection is None:
            raise NotFound(f"no connection {reconnect_id!r}", code="connection_not_found")
    elif not connector.multiple_connections:
        connection = await session.scalar(select(Connection).where(
            Connection.context_id == context.id, Connection.connector_id == connector.id)
            .order_by(Connection.created_at))
    if connection is None:
        if connection_id is not None:
            _check_client_id(connection_id)
            if await session.get(Connection, connection_id) is not None:
                raise Conflict("a connection with this id already exists", code="id_taken")
        connection = Connection(id=connection_id or new_id(), platform_id=platform.id,
                                context_id=context.id, connector_id=connector.id)
        session.add(connection)
        await session.flush()  # the authorization references it
    connection.enabled = True
    template = deps.providers.get(connector.provider)
    authorization = Authorization(
        id=new_id(), platform_id=platform.id, connection_id=connection.id, status=AWAITING,
        requested_scopes=template.effective_scopes(connector.scopes))
    session.add(authorization)
    await session.commit()
    return ConnectionView(connection=connection, connector=connector, context=context,
                          authorization=authorization)


async def _connectable_connector(session: AsyncSession, deps: FlowDeps, platform: Platform,
                                 slug: str) -> Connector:
    connector = await find_connector(session, platform.id, slug)
    template = template_of(deps.providers, connector) if connector else None
    if connector is None or template is None:
        raise NotFound(f"no connector {slug!r}", code="connector_not_found")
    if not connector.enabled:
        raise Conflict(f"{connector.name} is disabled", code="connector_disabled")
    if not is_ready(connector, template):
        raise Conflict(f"{connector.name} is not set up yet", code="connector_not_ready")
    return connector


def _check_client_id(value: str) -> None:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        raise InvalidInput("a connection id chosen by the client must be a UUID",
                           details={"field": "id"}) from None


# --- 2. redirect to the provider -------------------------------------------------------------

def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_allowed_origin(platform: Platform, origin: str, *, own_origin: str | None = None) -> str:
    """``origin`` must be one of the platform's allowed origins: it receives postMessage.
    xkit's own origin (``own_origin``, where the hosted catalog lives) is always allowed."""
    if origin != own_origin and origin not in platform.allowed_origins:
        raise Forbidden(f"origin {origin!r} is not allowed for this platform; add it in the "
                        "platform's settings", code="origin_not_allowed")
    return origin


def check_return_url(platform: Platform, url: str, *, own_origin: str | None = None) -> str:
    """Redirect mode sends the user back to ``url``: only to an allowed origin (no open
    redirect)."""
    check_allowed_origin(platform, origin_of(url), own_origin=own_origin)
    return url


async def authorization_redirect(session: AsyncSession, deps: FlowDeps, platform: Platform,
                                 authorization: Authorization, *, opener_origin: str | None,
                                 return_url: str | None) -> str:
    if authorization.status != AWAITING:
        raise Conflict("this authorization is no longer waiting to start", code="not_awaiting")
    own_origin = origin_of(deps.public_url)
    if opener_origin is not None:
        authorization.opener_origin = check_allowed_origin(platform, opener_origin,
                                                           own_origin=own_origin)
    if return_url is not None:
        authorization.return_url = check_return_url(platform, return_url, own_origin=own_origin)
    connection = await session.get(Connection, authorization.connection_id)
    connector = await session.get(Connector, connection.connector_id) if connection else None
    template = template_of(deps.providers, connector) if connector else None
    if connector is None or template is None:
        raise NotFound("the connection was removed, or its connector can no longer be used",
                       code="connection_not_found")
    if needs_collect(template, authorization):
        raise Conflict(f"{template.name} needs some details first", code="collect_required")
    client = oauth_client(template, connector, deps.keyring,
                          effective_settings(deps.keyring, connector, authorization))
    state = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce_pair()
    authorization.state_hash = fingerprint(state)
    authorization.state_expires_at = utcnow() + STATE_TTL
    authorization.pkce_verifier = encrypt_for(deps.keyring, authorization, "pkce_verifier",
                                              verifier)
    await session.commit()
    scope, scope_params = template.authorize_scopes(authorization.requested_scopes)
    return client.authorization_url(
        redirect_uri=callback_url(deps.public_url, platform.slug),
        scopes=scope, state=state, code_challenge=challenge, extra_params=scope_params)


# --- 3. callback ------------------------------------------------------------------------------

async def complete_callback(session: AsyncSession, deps: FlowDeps, platform: Platform,
                            params: dict[str, str]) -> CallbackOutcome:
    state = params.get("state", "")
    if not state:
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link is not valid. Start the connection again.")
    authorization = await session.scalar(select(Authorization).where(
        Authorization.state_hash == fingerprint(state), Authorization.platform_id == platform.id))
    if authorization is None:
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link was already used or is not valid. "
                               "Start the connection again.")
    # Claim it exactly once: a replayed or concurrent callback finds nothing to update.
    claimed = await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization.id, Authorization.status == AWAITING,
               Authorization.state_hash == authorization.state_hash)
        .values(status=RETRIEVING, state_hash=None, updated_at=utcnow()))
    await session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link was already used. Start the connection again.")
    await session.refresh(authorization)
    view = await get_connection(session, platform.id, authorization.connection_id)
    template = template_of(deps.providers, view.connector)
    if template is None:
        return await _fail(session, view, authorization, "provider_missing",
                           FLOW_MESSAGES["provider_missing"])

    if authorization.state_expires_at and authorization.state_expires_at < utcnow():
        return await _fail(session, view, authorization, "state_expired",
                           FLOW_MESSAGES["state_expired"])
    if "error" in params:
        code, message = template.describe_error(params["error"][:200],
                                                params.get("error_description", "")[:1000])
        return await _fail(session, view, authorization, code,
                           message or _provider_message(params["error"]))
    code_param = params.get("code")
    if not code_param:
        return await _fail(session, view, authorization, "missing_code",
                           FLOW_MESSAGES["missing_code"])

    settings = effective_settings(deps.keyring, view.connector, authorization)
    try:
        client = oauth_client(template, view.connector, deps.keyring, settings)
        tokens = await client.exchange_code(
            deps.http, code=code_param,
            redirect_uri=callback_url(deps.public_url, platform.slug),
            code_verifier=decrypt_from(deps.keyring, authorization, "pkce_verifier"),
            scope=template.authorize_scopes(authorization.requested_scopes)[0])
        findings = await extras.gather(deps.http, template, settings, tokens, params)
        account = await read_account(deps.http, template,
                                     {**settings, **findings.placeholders(template)},
                                     tokens, findings, scopes=authorization.requested_scopes)
    except ProviderError as exc:
        if exc.transient:
            return await _fail(session, view, authorization, exc.code,
                               FLOW_MESSAGES["provider_unavailable"])
        code, message = template.describe_error(exc.code, exc.description)
        message = message or FLOW_MESSAGES.get(code) or _provider_message(code)
        return await _fail(session, view, authorization, code, message)
    except Conflict as exc:
        return await _fail(session, view, authorization, exc.code, exc.message)

    previous_account = await _previous_account(session, authorization)
    if previous_account and account.id and previous_account != account.id:
        return await _fail(session, view, authorization, "different_account",
                           FLOW_MESSAGES["different_account"])
    store_tokens(deps.keyring, authorization, tokens, requested=authorization.requested_scopes)
    extras.store(deps.keyring, authorization, findings)
    authorization.status = ACTIVE
    authorization.error_code = authorization.error_message = None
    authorization.provider_account_id = account.id
    authorization.display_label = account.label
    authorization.pkce_verifier = None
    await session.execute(delete(Authorization).where(
        Authorization.connection_id == authorization.connection_id,
        Authorization.id != authorization.id))
    await events.record_connection_event(
        session, view,
        events.CONNECTION_RECONNECTED if previous_account else events.CONNECTION_ENABLED,
        status="connected")
    audit.record(session, actor=f"context:{view.context.external_id}",
                 action="connection.connected",
                 platform_id=platform.id, target_type="connection", target_id=view.connection.id,
                 details={"connector": view.connector.slug})
    await session.commit()
    return CallbackOutcome(authorization, ACTIVE)


def store_tokens(keyring: Keyring, authorization: Authorization, tokens: TokenSet, *,
                 requested: list[str]) -> None:
    """Put a token response on the authorization. A response without a refresh token keeps
    the one already stored (providers that do not rotate send none on refresh)."""
    now = utcnow()
    authorization.access_token = encrypt_for(keyring, authorization, "access_token",
                                             tokens.access_token)
    if tokens.refresh_token:
        authorization.refresh_token = encrypt_for(keyring, authorization, "refresh_token",
                                                  tokens.refresh_token)
    authorization.token_type = tokens.token_type
    authorization.expires_at = (now + dt.timedelta(seconds=tokens.expires_in)
                                if tokens.expires_in else None)
    if tokens.scopes is not None:
        authorization.granted_scopes = tokens.scopes
    elif not authorization.granted_scopes:
        authorization.granted_scopes = list(requested)
    if tokens.extras:
        authorization.extras = {**authorization.extras, **tokens.extras}
    authorization.last_refreshed_at = now


async def read_account(http: httpx.AsyncClient, template: ProviderTemplate,
                       settings: dict[str, str], tokens: TokenSet,
                       findings: extras.Findings | None = None, *,
                       scopes: Sequence[str] = ()) -> AccountInfo:
    """Who connected: from the template's account URL, the id_token, the token response,
    the extras, or the answer of one of its lookups — the first source available.
    ``scopes`` (what was asked for) decide whether the token can read the account URL."""
    spec = template.account
    if spec is None:
        return AccountInfo(id=None, label=None)
    documents = findings.documents if findings else {}
    for source in spec.source:
        if source == "url":
            url = template.account_url(settings, scopes)
            if url is None:
                continue
            body = await extras.fetch_json(
                http, "GET", url, template.token_header(tokens.access_token),
                failure=ProviderError(code="account_unreadable", transient=True))
            if not isinstance(body, dict):
                raise ProviderError(code="account_unreadable", transient=True)
            return spec.extract(body)
        if source == "id_token" and tokens.id_token:
            return spec.extract(_unverified_claims(tokens.id_token))
        if source == "token_response":
            return spec.extract(tokens.response)
        if source == "extras":
            return spec.extract(findings.values if findings else {})
        if source in documents:
            return spec.extract(documents[source])
    return AccountInfo(id=None, label=None)


def _unverified_claims(id_token: str) -> dict[str, Any]:
    """Claims of an id_token received straight from the token endpoint over TLS, which OpenID
    Connect Core §3.1.3.7 accepts in place of checking the signature."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise ProviderError(code="account_unreadable", transient=True) from None
    return claims if isinstance(claims, dict) else {}


async def _previous_account(session: AsyncSession, authorization: Authorization) -> str | None:
    """The account of the connection's earlier successful authorization, if any."""
    return await session.scalar(
        select(Authorization.provider_account_id).where(
            Authorization.connection_id == authorization.connection_id,
            Authorization.id != authorization.id,
            Authorization.provider_account_id.is_not(None))
        .order_by(Authorization.created_at.desc()).limit(1))


async def _fail(session: AsyncSession, view: ConnectionView, authorization: Authorization,
                code: str, message: str, *, notify: bool = True) -> CallbackOutcome:
    """End the attempt in ``error``. The developer's backend hears ``connection.error`` only
    when the connection is left unusable: a reconnect that was cancelled, denied or made with
    another account leaves the earlier, working credential in place — nothing to act on."""
    authorization.status = ERROR
    authorization.error_code = code[:200]
    authorization.error_message = message
    authorization.pkce_verifier = None
    if notify and not await _still_connected(session, view.connection):
        await events.record_connection_event(session, view, events.CONNECTION_ERROR,
                                             status="error",
                                             error={"code": code, "message": message})
    await session.commit()
    log.info("authorization %s ended in error %s", authorization.id, code)
    return CallbackOutcome(authorization, ERROR, code, message)


async def _still_connected(session: AsyncSession, connection: Connection) -> bool:
    """Whether the connection still works: enabled, and the authorization that stands for it
    (the newest that got tokens, see ``latest_authorizations``) is active."""
    standing = (await latest_authorizations(session, [connection.id])).get(connection.id)
    return connection.enabled and standing is not None and standing.status == ACTIVE


def _provider_message(code: str) -> str:
    return f"The provider refused the connection ({code}). Please try again."


# --- interrupted callbacks -------------------------------------------------------------------

def is_interrupted(authorization: Authorization, *, now: dt.datetime | None = None) -> bool:
    return (authorization.status == RETRIEVING
            and authorization.updated_at < (now or utcnow()) - INTERRUPTED_AFTER)


async def settle_if_interrupted(session: AsyncSession, authorization: Authorization) -> bool:
    """The on-read check: end an interrupted callback in ``error`` (retry-able) so that a
    popup or a poll never waits on a process that is gone. True when this call ended it."""
    if not is_interrupted(authorization):
        return False
    now = utcnow()
    # Claimed by one conditional UPDATE: a concurrent sweep or read finds nothing to claim.
    claimed = await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization.id, Authorization.status == RETRIEVING,
               Authorization.updated_at < now - INTERRUPTED_AFTER)
        .values(status=ERROR, updated_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(authorization)
        return False
    view = await get_connection(session, authorization.platform_id, authorization.connection_id)
    await _fail(session, view, authorization, "interrupted", FLOW_MESSAGES["interrupted"])
    return True


async def end_interrupted_callbacks(session: AsyncSession) -> int:
    """The sweep: every interrupted callback ends in ``error`` with code ``interrupted`` and a
    ``connection.error`` event; returns how many. Safe to run from any number of processes at
    once; the worker loop should call it periodically (``xkit serve`` runs it at start-up)."""
    stale = (await session.scalars(select(Authorization).where(
        Authorization.status == RETRIEVING,
        Authorization.updated_at < utcnow() - INTERRUPTED_AFTER))).all()
    return sum([await settle_if_interrupted(session, a) for a in stale])


# --- cancel -----------------------------------------------------------------------------------

async def cancel_authorization(session: AsyncSession, authorization: Authorization,
                               view: ConnectionView) -> Authorization:
    """The popup closed before the provider answered: end the authorization as cancelled."""
    if authorization.status == AWAITING:
        authorization.state_hash = None
        # The user chose to stop: nothing for the developer's backend to act on.
        await _fail(session, view, authorization, "cancelled", FLOW_MESSAGES["cancelled"],
                    notify=False)
    return authorization
