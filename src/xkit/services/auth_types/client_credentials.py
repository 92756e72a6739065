"""``client_credentials``: machine-to-machine APIs (payments, CRMs, video platforms) that give
the app itself a token, with the client ID and secret the developer sets on the connector
(RFC 6749 section 4.4).

No one signs in. A connection is one tenant of the app: what differs per tenant (Zoom's
account id, a subdomain) is asked in the collect step and placed in the token URL or the
token parameters by the template. Connecting asks for the first token, which proves the
credentials and those values work; its answer is the connection's cached token. There is no
refresh token: near expiry :meth:`renew` asks again, under the same exactly-once lease as a
refresh, so concurrent fetches cause one request.

The same token request serves Microsoft's admin consent (:mod:`.admin_consent`): both go
through :meth:`xkit.oauth.OAuthClient.client_credentials`.
"""

from __future__ import annotations

from collections.abc import Mapping

from xkit.oauth import ProviderError, TokenSet
from xkit.oauth.errors import ADDRESS_REFUSED
from xkit.providers.schema import AccountInfo, ClientCredentialsSpec
from xkit.services.auth_types.base import (
    AuthContext,
    AuthType,
    CannotRenew,
    CredentialsRejected,
    Grant,
)
from xkit.services.connect.accounts import read_account
from xkit.services.tokens.provider_http import oauth_client

REFUSED = ("{name} refused this integration's credentials ({code}). The app's team must check "
           "the connector's client ID and secret{values}.")
BAD_SETTINGS = ("This connection's settings no longer make a valid token request ({problem}); "
                "connect it again.")


class ClientCredentials(AuthType):
    name = "client_credentials"
    app_credentials = "client"
    redirects = False
    renewable = True

    async def activate(self, ctx: AuthContext, collected: Mapping[str, str]) -> Grant:
        """The first token: proof that the credentials (and what the user typed) work."""
        try:
            tokens = await request_token(ctx)
        except ProviderError as exc:
            if exc.transient or exc.code == ADDRESS_REFUSED:  # not the credentials' fault
                raise
            raise CredentialsRejected(refused_message(ctx, exc), code=exc.code) from None
        account = await read_account(ctx.http, ctx.template, ctx.settings, tokens,
                                     scopes=ctx.authorization.requested_scopes)
        if account.id is None and account.label is None:
            account = AccountInfo(id=None, label=_label(ctx, collected))
        return Grant(account=account, tokens=tokens, granted_scopes=tokens.scopes)

    async def renew(self, ctx: AuthContext) -> TokenSet:
        return await request_token(ctx)


async def request_token(ctx: AuthContext) -> TokenSet:
    """A token for this connection: the connector's credentials, the template's endpoint
    with the connection's values, the connector's scopes."""
    spec = _spec(ctx)
    try:
        endpoints = ctx.template.client_credentials_endpoints(ctx.settings)
    except ValueError as exc:  # a setting or collected value that no longer passes its check
        raise CannotRenew(BAD_SETTINGS.format(problem=exc), code="invalid_settings") from None
    client = oauth_client(ctx.template, ctx.connector, ctx.keyring, endpoints=endpoints)
    scopes = ctx.template.effective_scopes(ctx.connector.scopes)
    return await client.client_credentials(
        ctx.http, scope=spec.scope_separator.join(scopes) or None, grant_type=spec.grant_type)


def refused_message(ctx: AuthContext, exc: ProviderError) -> str:
    """The template's words for the provider's code, or ours: the connector's credentials
    (and, when the template asks for some, the values typed) were not accepted."""
    code, message = ctx.template.describe_error(exc.oauth_error or exc.code, exc.description)
    if message:
        return message
    values = " and the details entered for this connection" if ctx.template.collect else ""
    return REFUSED.format(name=ctx.template.name, code=code, values=values)


def _label(ctx: AuthContext, collected: Mapping[str, str]) -> str | None:
    """Without an account to read, the connection is known by what was typed for it (never
    a secret field): "Account ID: abc123"."""
    shown = [f"{field.label}: {collected[field.name]}" for field in ctx.template.collect
             if field.type != "secret" and collected.get(field.name)]
    return ", ".join(shown)[:200] or None


def _spec(ctx: AuthContext) -> ClientCredentialsSpec:
    spec = ctx.template.client_credentials
    assert spec is not None  # the template loader requires it for this auth type
    return spec
