"""``oauth2``: the authorization code grant (RFC 6749 section 4.1) with PKCE, and refresh.

Everything that differs between OAuth providers (endpoints, scope separator, client
authentication, extra parameters, how to read the account) is template data; this module is
the protocol's order of steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xkit.oauth import TokenSet
from xkit.services.auth_types.base import (
    AuthContext,
    AuthType,
    CannotRenew,
    ConnectFailed,
    Grant,
)
from xkit.services.connect import extras
from xkit.services.connect.accounts import read_account

MISSING_CODE = "The provider sent no authorization code back. Please try again."


class OAuth2(AuthType):
    name = "oauth2"
    redirects = True
    renewable = True

    def authorize_url(self, ctx: AuthContext, *, state: str, code_challenge: str) -> str:
        scope, scope_params = ctx.template.authorize_scopes(ctx.authorization.requested_scopes)
        return sign_in_url(ctx, scope, state=state, code_challenge=code_challenge,
                           extra_params=scope_params)

    async def complete(self, ctx: AuthContext, params: Mapping[str, str]) -> Grant:
        tokens = await exchange_code(
            ctx, params, scope=ctx.template.authorize_scopes(ctx.authorization.requested_scopes)[0])
        findings = await extras.gather(ctx.http, ctx.template, ctx.settings, tokens, params)
        account = await read_account(ctx.http, ctx.template,
                                     {**ctx.settings, **findings.placeholders(ctx.template)},
                                     tokens, findings, scopes=ctx.authorization.requested_scopes)
        return Grant(account=account, tokens=tokens, findings=findings)

    async def renew(self, ctx: AuthContext) -> TokenSet:
        refresh_token = ctx.secret("refresh_token")
        if refresh_token is None:
            raise CannotRenew("The provider gave no refresh token, so the access token cannot "
                              "be renewed: the user must reconnect.", code="no_refresh_token")
        return await ctx.oauth_client().refresh(ctx.http, refresh_token=refresh_token)


def sign_in_url(ctx: AuthContext, scopes: Sequence[str] | str, *, state: str,
                code_challenge: str, extra_params: Mapping[str, str] | None = None) -> str:
    """The template's authorize URL asking for ``scopes``, back to the platform's callback."""
    assert ctx.redirect_uri is not None
    return ctx.oauth_client().authorization_url(
        redirect_uri=ctx.redirect_uri, scopes=scopes, state=state, code_challenge=code_challenge,
        extra_params=extra_params)


async def exchange_code(ctx: AuthContext, params: Mapping[str, str], *,
                        scope: str | None = None) -> TokenSet:
    """The callback's ``code`` traded for tokens, with the verifier of this authorization
    (and ``scope`` again, for providers that want it here)."""
    code = params.get("code")
    if not code:
        raise ConnectFailed("missing_code", MISSING_CODE)
    assert ctx.redirect_uri is not None
    return await ctx.oauth_client().exchange_code(
        ctx.http, code=code, redirect_uri=ctx.redirect_uri,
        code_verifier=ctx.secret("pkce_verifier"), scope=scope)
