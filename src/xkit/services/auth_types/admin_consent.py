"""``oauth2_admin_consent``: an administrator approves the app for their whole organization,
then xkit gets app-only tokens for that organization with client credentials.

Microsoft documents the consent callback's ``tenant`` as something anyone can type ("Never
use the tenant ID value of the tenant parameter to authenticate or authorize users"), so the
flow has two legs:

1. The admin signs in (authorization code with ``openid``). The id_token, fetched from the
   token endpoint with the app's secret, names their tenant: this is the tenant the
   connection is for, and it is stored on the authorization (``extras.tenant_id``).
2. The admin is sent to the consent page *of that tenant*. Its callback must name the same
   tenant; then a client credentials token for the tenant proves the consent took effect.

There is no refresh token: when the cached app token nears expiry, :meth:`renew` asks for a
new one, under the same exactly-once lease as a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping

from authlib.common.urls import add_params_to_uri

from xkit.dotpath import dig
from xkit.oauth import TokenSet
from xkit.providers.schema import AccountInfo, AdminConsentSpec
from xkit.services.auth_types.base import (
    CONTINUE,
    AuthContext,
    AuthType,
    CannotRenew,
    ConnectFailed,
    Continue,
    Grant,
)
from xkit.services.auth_types.oauth2 import exchange_code, sign_in_url
from xkit.services.connect.accounts import unverified_claims

TENANT_ID = "tenant_id"  # the key in authorizations.extras, handed to backends as well

NO_TENANT = ("The sign-in did not say which organization you belong to. Sign in with a work "
             "or school account.")
OTHER_TENANT = ("You approved the app for another organization than the one you signed in "
                "with. Connect again and approve it for your own organization.")
NO_CONSENT = ("The provider did not confirm the approval. Connect again and accept the "
              "permissions for your organization.")


class AdminConsent(AuthType):
    name = "oauth2_admin_consent"
    redirects = True
    renewable = True

    def authorize_url(self, ctx: AuthContext, *, state: str, code_challenge: str) -> str:
        assert ctx.redirect_uri is not None
        spec = _spec(ctx)
        tenant = ctx.authorization.extras.get(TENANT_ID)
        if tenant is None:  # leg 1: learn, verifiably, whose organization this is
            return sign_in_url(ctx, spec.sign_in_scopes, state=state,
                               code_challenge=code_challenge)
        settings = _for_tenant(ctx, tenant)  # leg 2: consent for that organization
        assert ctx.connector.client_id is not None
        params = {
            **{k: ctx.template.render_text(v, settings) for k, v in spec.params.items()},
            "client_id": ctx.connector.client_id,
            "scope": ctx.template.render_text(spec.scope, settings),
            "redirect_uri": ctx.redirect_uri,
            "state": state,
        }
        return str(add_params_to_uri(ctx.template.render(spec.url, settings), params))

    async def complete(self, ctx: AuthContext, params: Mapping[str, str]) -> Grant | Continue:
        spec = _spec(ctx)
        tenant = ctx.authorization.extras.get(TENANT_ID)
        if tenant is None:
            tokens = await exchange_code(ctx, params)
            claims = unverified_claims(tokens.id_token) if tokens.id_token else {}
            tenant = dig(claims, spec.tenant_claim)
            if not isinstance(tenant, str) or not tenant:
                raise ConnectFailed("tenant_unknown", NO_TENANT)
            _check_tenant(ctx, tenant)
            label = ctx.template.account.extract(claims).label if ctx.template.account else None
            ctx.authorization.extras = {**ctx.authorization.extras, TENANT_ID: tenant}
            ctx.authorization.provider_account_id = tenant
            ctx.authorization.display_label = label
            return CONTINUE
        consented = params.get(spec.tenant_param, "")
        if not consented:
            raise ConnectFailed("consent_not_confirmed", NO_CONSENT)
        if consented.lower() != tenant.lower():
            raise ConnectFailed("tenant_mismatch", OTHER_TENANT)
        tokens = await _client_credentials(ctx, tenant)
        return Grant(account=AccountInfo(id=tenant, label=ctx.authorization.display_label),
                     tokens=tokens, extras={TENANT_ID: tenant},
                     granted_scopes=_granted(params.get("scope", "")))

    async def renew(self, ctx: AuthContext) -> TokenSet:
        tenant = ctx.authorization.extras.get(TENANT_ID)
        if not tenant:
            raise CannotRenew("This connection does not know its organization; the "
                              "administrator must connect again.", code="tenant_unknown")
        return await _client_credentials(ctx, tenant)


def _spec(ctx: AuthContext) -> AdminConsentSpec:
    spec = ctx.template.admin_consent
    assert spec is not None  # the template loader requires it for this auth type
    return spec


def _for_tenant(ctx: AuthContext, tenant: str) -> dict[str, str]:
    """The settings with the tenant setting naming exactly this organization."""
    return {**ctx.settings, _spec(ctx).tenant_setting: tenant}


def _check_tenant(ctx: AuthContext, tenant: str) -> None:
    """The tenant id goes into URLs: it must be a value the tenant setting accepts."""
    setting = next(s for s in ctx.template.settings if s.name == _spec(ctx).tenant_setting)
    try:
        setting.check(tenant)
    except ValueError:
        raise ConnectFailed("tenant_unknown", NO_TENANT) from None


async def _client_credentials(ctx: AuthContext, tenant: str) -> TokenSet:
    settings = _for_tenant(ctx, tenant)
    scope = ctx.template.render_text(_spec(ctx).scope, settings)
    return await ctx.oauth_client(settings).client_credentials(ctx.http, scope=scope)


def _granted(scope: str) -> list[str] | None:
    """Permission names from the consent callback's ``scope`` ("https://graph.microsoft.com/
    Mail.Read ..."), without the resource prefix; None when it lists nothing specific."""
    names = [item.rsplit("/", 1)[-1] for item in scope.split()]
    names = [name for name in names if name and name != ".default"]
    return names or None
