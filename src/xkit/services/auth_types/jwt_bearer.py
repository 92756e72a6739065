"""``jwt_bearer``: a service account's key, uploaded by the developer for the connector, signs
assertions that the token endpoint trades for access tokens (RFC 7523).

Connecting checks the key by getting a token for the service account itself; that token is
the connection's cached one, renewed under the exactly-once lease like any other. A backend
asking for another user (``subject``, Google's domain-wide delegation) gets a token minted
for that request: the backend, which knows its users, decides whom the app acts as.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from xkit.errors import InvalidInput
from xkit.oauth import ProviderError, TokenSet
from xkit.oauth.errors import ADDRESS_REFUSED
from xkit.oauth.jwt_bearer import (
    ServiceAccountKey,
    make_assertion,
    parse_service_account_key,
    request_token,
)
from xkit.providers.schema import AccountInfo, JwtBearerSpec
from xkit.services.auth_types.base import (
    AuthContext,
    AuthType,
    CannotRenew,
    CredentialsRejected,
    Grant,
)
from xkit.services.configuration.keyring import decrypt_client_secret

# An email address as Google Workspace users have them: no spaces or control characters.
SUBJECT = re.compile(r"[^@\s\x00-\x1f\x7f]{1,200}@[A-Za-z0-9.-]{1,200}")
KEY_MISSING = "This integration has no service account key yet. The app's team must upload one."


class JwtBearer(AuthType):
    name = "jwt_bearer"
    app_credentials = "service_account_key"
    redirects = False
    renewable = True

    async def activate(self, ctx: AuthContext, collected: Mapping[str, str]) -> Grant:
        key = service_account_key(ctx)
        try:
            tokens = await self.mint(ctx, subject=None)
        except ProviderError as exc:
            if exc.transient or exc.code == ADDRESS_REFUSED:  # not the key's fault
                raise
            _, message = ctx.template.describe_error(exc.code, exc.description)
            raise CredentialsRejected(message or "The service account key was refused.",
                                      code=exc.code) from None
        return Grant(account=AccountInfo(id=key.client_email, label=key.client_email),
                     tokens=tokens)

    async def renew(self, ctx: AuthContext) -> TokenSet:
        return await self.mint(ctx, subject=None)

    async def token_for_subject(self, ctx: AuthContext, subject: str) -> TokenSet:
        if not SUBJECT.fullmatch(subject):
            raise InvalidInput("subject must be the email address of a user to act as",
                               code="invalid_subject", details={"field": "subject"})
        return await self.mint(ctx, subject=subject)

    async def mint(self, ctx: AuthContext, *, subject: str | None) -> TokenSet:
        """A token for the service account, or for ``subject`` when one is named."""
        spec = _spec(ctx)
        token_url = ctx.template.render(spec.token_url, ctx.settings)
        audience = (ctx.template.render_text(spec.audience, ctx.settings)
                    if spec.audience else token_url)
        assertion = make_assertion(
            service_account_key(ctx), audience=audience, subject=subject,
            scopes=ctx.template.effective_scopes(ctx.connector.scopes),
            lifetime_seconds=spec.assertion_lifetime_seconds)
        return await request_token(ctx.http, token_url, assertion)


def service_account_key(ctx: AuthContext) -> ServiceAccountKey:
    """The connector's key; it was checked on upload, so a failure here means it is gone."""
    stored = decrypt_client_secret(ctx.keyring, ctx.connector)
    if stored is None:
        raise CannotRenew(KEY_MISSING, code="connector_not_ready")
    try:
        return parse_service_account_key(stored)
    except ValueError:
        raise CannotRenew(KEY_MISSING, code="connector_not_ready") from None


def _spec(ctx: AuthContext) -> JwtBearerSpec:
    spec = ctx.template.jwt_bearer
    assert spec is not None  # the template loader requires it for this auth type
    return spec
