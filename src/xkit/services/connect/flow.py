"""The connect flow: from "Connect" to an active authorization, or a definite error.

1. :func:`begin_connection` makes (or reuses) the connection and a fresh authorization in
   ``awaiting_callback``.
2. :func:`next_step` — when the popup (or the redirect-mode page) arrives, after the collect
   step if the template has one — either sends the user to the provider (auth types that
   redirect: a single-use ``state``, stored hashed and expiring, a PKCE verifier, and a
   cookie that binds the flow to this browser), or checks the credentials right away
   (:func:`connect_without_redirect`).
3. :func:`complete_callback` claims the authorization by its state exactly once, refuses a
   browser other than the one sent to the provider, and lets the auth type finish (exchange
   the code, read the account), or send the user on to its next leg.

Whichever way, the authorization becomes ``active`` in :func:`_activate`: tokens stored
encrypted and the webhook event recorded in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit import metrics
from xkit.crypto import Keyring, fingerprint
from xkit.db.models import Authorization, Connection, Connector, Context, Platform
from xkit.db.results import rows_matched
from xkit.db.types import new_id, utcnow
from xkit.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from xkit.oauth import ProviderError, TokenSet, new_pkce_pair
from xkit.oauth.errors import ADDRESS_REFUSED
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import ProviderTemplate
from xkit.services.admin import audit
from xkit.services.auth_types import (
    AuthContext,
    CannotRenew,
    ConnectFailed,
    Continue,
    CredentialsRejected,
    Grant,
    auth_type_of,
)
from xkit.services.configuration.connectors import (
    callback_url,
    find_connector,
    is_ready,
    template_of,
)
from xkit.services.connect import browser_binding, extras, warnings
from xkit.services.connect.browser_binding import BrowserBinding
from xkit.services.tokens.authorization_values import effective_settings, encrypt_for
from xkit.services.tokens.connections import ConnectionView, get_connection, latest_authorizations
from xkit.services.webhooks import events

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
    "lookup_failed": "Signed in, but the provider refused to say which account or workspace "
                     "was connected. Please try again; if it keeps failing, the app's team "
                     "should check the integration's permissions.",
    "interrupted": "The connection was interrupted while it was being completed. "
                   "Please try again.",
    "provider_missing": "This integration is not available on this server any more. "
                        "Please contact the app's team.",
    "provider_address_refused": "This integration is set up to reach an address this server "
                                "may not call. Please contact the app's team.",
}


@dataclass(frozen=True)
class FlowDeps:
    providers: ProviderRegistry
    keyring: Keyring
    http: httpx.AsyncClient
    public_url: str


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback page shows and tells the opener — or, with ``redirect_url``, where
    the user goes next (an auth type with several legs)."""

    authorization: Authorization | None
    status: str
    error_code: str | None = None
    error_message: str | None = None
    redirect_url: str | None = None
    # With ``redirect_url``: the cookie the browser must carry back to the callback.
    binding: BrowserBinding | None = None

    @property
    def opener_origin(self) -> str | None:
        return self.authorization.opener_origin if self.authorization else None


async def find_authorization(session: AsyncSession, platform_id: str,
                             authorization_id: str) -> Authorization | None:
    """The platform's authorization with this id; None for another platform's or none."""
    return await session.scalar(select(Authorization).where(
        Authorization.id == authorization_id, Authorization.platform_id == platform_id))


def needs_collect(template: ProviderTemplate, authorization: Authorization) -> bool:
    """The template asks the user for input (the collect step) and none was given yet."""
    return bool(template.collect) and authorization.collected is None


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
    metrics.get().flows_started.labels(connector.provider).inc()
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


# --- 2. on to the provider, or straight to the result ----------------------------------------

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


@dataclass(frozen=True)
class NextStep:
    """Where the popup goes once it may proceed: to the provider's pages (``redirect_url``),
    or straight to the result (``outcome``), for auth types that connect without a visit."""

    redirect_url: str | None = None
    outcome: CallbackOutcome | None = None
    # With ``redirect_url``: the cookie the browser must carry back to the callback.
    binding: BrowserBinding | None = None


async def next_step(session: AsyncSession, deps: FlowDeps, platform: Platform,
                    authorization: Authorization, *, opener_origin: str | None,
                    return_url: str | None) -> NextStep:
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
    if not auth_type_of(template).redirects:
        await session.commit()
        return NextStep(outcome=await connect_without_redirect(session, deps, authorization, {}))
    ctx = _context(deps, platform, template, connector, authorization)
    url, binding = await _redirect_url(session, ctx)
    return NextStep(redirect_url=url, binding=binding)


async def _redirect_url(session: AsyncSession,
                        ctx: AuthContext) -> tuple[str, BrowserBinding]:
    """A fresh single-use state (and PKCE verifier), the auth type's authorize URL, and the
    cookie value that binds the callback to the browser sent there."""
    authorization = ctx.authorization
    state = secrets.token_urlsafe(32)
    verifier, challenge = new_pkce_pair()
    url = auth_type_of(ctx.template).authorize_url(ctx, state=state, code_challenge=challenge)
    authorization.state_hash = fingerprint(state)
    authorization.state_expires_at = utcnow() + STATE_TTL
    authorization.pkce_verifier = encrypt_for(ctx.keyring, authorization, "pkce_verifier",
                                              verifier)
    binding = browser_binding.bind(authorization)
    await session.commit()
    return url, binding


def _context(deps: FlowDeps, platform: Platform, template: ProviderTemplate,
             connector: Connector, authorization: Authorization) -> AuthContext:
    return AuthContext(
        template=template, connector=connector, authorization=authorization,
        settings=effective_settings(deps.keyring, connector, authorization),
        keyring=deps.keyring, http=deps.http,
        redirect_uri=callback_url(deps.public_url, platform.slug))


# --- 3. callback ------------------------------------------------------------------------------

async def complete_callback(session: AsyncSession, deps: FlowDeps, platform: Platform,
                            params: dict[str, str],
                            cookies: Mapping[str, str]) -> CallbackOutcome:
    """Finish the flow whose ``state`` came back — only in the browser that was sent to the
    provider (its ``cookies`` hold the binding); in any other the attempt ends in
    ``browser_mismatch`` before the code is redeemed."""
    state = params.get("state", "")
    if not state:
        _count_failure(metrics.UNKNOWN_PROVIDER, "invalid_state")
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link is not valid. Start the connection again.")
    authorization = await session.scalar(select(Authorization).where(
        Authorization.state_hash == fingerprint(state), Authorization.platform_id == platform.id))
    if authorization is None:
        _count_failure(metrics.UNKNOWN_PROVIDER, "invalid_state")
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link was already used or is not valid. "
                               "Start the connection again.")
    same_browser = browser_binding.presented_by(authorization, cookies)
    if not await _claim(session, authorization, state_hash=authorization.state_hash):
        _count_failure(metrics.UNKNOWN_PROVIDER, "invalid_state")
        return CallbackOutcome(None, ERROR, "invalid_state",
                               "This sign-in link was already used. Start the connection again.")
    view = await get_connection(session, platform.id, authorization.connection_id)
    if not same_browser:
        log.warning("authorization %s: callback in a browser that was not sent to the "
                    "provider; refused", authorization.id)
        return await _fail(session, view, authorization, browser_binding.MISMATCH_CODE,
                           browser_binding.MISMATCH_MESSAGE)
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

    ctx = _context(deps, platform, template, view.connector, authorization)
    try:
        with metrics.provider_call(template.slug, "token"):
            result = await auth_type_of(template).complete(ctx, params)
    except ProviderError as exc:
        if exc.transient:
            return await _fail(session, view, authorization, exc.code,
                               FLOW_MESSAGES["provider_unavailable"])
        code, message = template.describe_error(exc.code, exc.description)
        message = message or FLOW_MESSAGES.get(code) or _provider_message(code)
        return await _fail(session, view, authorization, code, message)
    except (Conflict, ConnectFailed) as exc:
        return await _fail(session, view, authorization, exc.code, exc.message)
    if isinstance(result, Continue):
        authorization.status = AWAITING
        url, binding = await _redirect_url(session, ctx)
        return CallbackOutcome(authorization, AWAITING, redirect_url=url,
                               binding=binding)
    return await _activate(session, deps, view, authorization, result)


async def _claim(session: AsyncSession, authorization: Authorization, *,
                 state_hash: str | None = None) -> bool:
    """Move the authorization from ``awaiting_callback`` to ``retrieving_tokens`` exactly
    once: a replayed or concurrent callback (or form) finds nothing to update."""
    condition = [Authorization.id == authorization.id, Authorization.status == AWAITING]
    if state_hash is not None:
        condition.append(Authorization.state_hash == state_hash)
    claimed = await session.execute(
        update(Authorization).where(*condition)
        .values(status=RETRIEVING, state_hash=None, browser_binding_hash=None,
                updated_at=utcnow()))
    await session.commit()
    if rows_matched(claimed) != 1:
        return False
    await session.refresh(authorization)
    return True


# --- auth types that connect without a visit to the provider ----------------------------------

async def connect_without_redirect(session: AsyncSession, deps: FlowDeps,
                                   authorization: Authorization,
                                   collected: dict[str, str]) -> CallbackOutcome:
    """Check the credentials now — an API key the user typed, the connector's service account
    key — and activate; what the user typed is stored only once it works.

    Raises :class:`CredentialsRejected` (the authorization stays open, so the user can
    correct what they typed) or :class:`ServiceUnavailable` while the template collects
    input; without a form to go back to, the authorization ends in ``error`` instead.
    """
    if not await _claim(session, authorization):
        raise Conflict("this authorization is no longer waiting for input", code="not_awaiting")
    view = await get_connection(session, authorization.platform_id, authorization.connection_id)
    template = deps.providers.get(view.connector.provider)
    ctx = AuthContext(template=template, connector=view.connector, authorization=authorization,
                      settings={**view.connector.settings, **collected},
                      keyring=deps.keyring, http=deps.http)
    try:
        with metrics.provider_call(template.slug, "token"):
            grant = await auth_type_of(template).activate(ctx, collected)
    except (CredentialsRejected, ProviderError, ConnectFailed, CannotRenew) as exc:
        if isinstance(exc, ProviderError):
            code, message = exc.code, FLOW_MESSAGES[
                ADDRESS_REFUSED if exc.code == ADDRESS_REFUSED else "provider_unavailable"]
        else:
            code, message = exc.code, exc.message
        if template.collect:
            authorization.status = AWAITING
            if not isinstance(exc, ProviderError):
                # The popup asks again; meanwhile the dashboard can say why this try failed.
                # A later success clears it (_activate), a cancel replaces it.
                authorization.error_code, authorization.error_message = code[:200], message
            await session.commit()
            if isinstance(exc, ProviderError):
                raise ServiceUnavailable(message, code="provider_unavailable") from None
            raise
        return await _fail(session, view, authorization, code, message)
    if collected:
        authorization.collected = encrypt_for(deps.keyring, authorization, "collected",
                                              json.dumps(collected))
    return await _activate(session, deps, view, authorization, grant)


# --- the end of every successful connect ------------------------------------------------------

async def _activate(session: AsyncSession, deps: FlowDeps, view: ConnectionView,
                    authorization: Authorization, grant: Grant) -> CallbackOutcome:
    account = grant.account
    previous_account = await _previous_account(session, authorization)
    if previous_account and account.id and previous_account != account.id:
        return await _fail(session, view, authorization, "different_account",
                           FLOW_MESSAGES["different_account"])
    if grant.tokens is not None:
        store_tokens(deps.keyring, authorization, grant.tokens,
                     requested=authorization.requested_scopes)
    if grant.findings is not None:
        extras.store(deps.keyring, authorization, grant.findings)
    if grant.granted_scopes is not None:
        authorization.granted_scopes = grant.granted_scopes
    elif not authorization.granted_scopes:
        authorization.granted_scopes = list(authorization.requested_scopes)
    if grant.extras:
        authorization.extras = {**authorization.extras, **grant.extras}
    authorization.extras = warnings.keep(
        authorization.extras, warnings.on_connect(authorization.requested_scopes, grant.tokens),
        authorization_id=authorization.id, connector=view.connector.slug)
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
                 platform_id=authorization.platform_id, target_type="connection",
                 target_id=view.connection.id, details={"connector": view.connector.slug})
    await session.commit()
    metrics.get().flows_completed.labels(view.connector.provider).inc()
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
    _count_failure(view.connector.provider, code)
    return CallbackOutcome(authorization, ERROR, code, message)


def _count_failure(provider: str, code: str) -> None:
    """``xkit_connect_flows_failed_total``; a code nobody declared (a callback's ``?error=``
    is whatever the browser sent) is counted as ``other``."""
    metrics.get().flows_failed.labels(provider, metrics.error_code_label(code)).inc()


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
    if rows_matched(claimed) != 1:
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
