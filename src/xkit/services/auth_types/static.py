"""What ``api_key`` and ``basic`` share: credentials the end user types, checked once against
the template's account URL, then attached as they are to every API call.

Nothing expires, so nothing is renewed. A key that stops working shows as the provider's
401 through the proxy; the user reconnects with a new one.
"""

from __future__ import annotations

from collections.abc import Mapping

from xkit.crypto import Keyring
from xkit.oauth import ProviderError
from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types.base import AuthContext, AuthType, CredentialsRejected, Grant
from xkit.services.connect.accounts import read_account
from xkit.services.tokens.authorization_values import collected_values
from xkit.services.tokens.provider_http import RequestAuth
from xkit.services.tokens.records import GrantRecord


class StaticCredentials(AuthType):
    redirects = False
    renewable = False
    app_credentials = None

    def credentials(self, template: ProviderTemplate, values: Mapping[str, str]) -> RequestAuth:
        """The request credentials built from the template and the user's answers."""
        raise NotImplementedError

    async def activate(self, ctx: AuthContext, collected: Mapping[str, str]) -> Grant:
        values = {**ctx.connector.settings, **collected}
        try:
            account = await read_account(ctx.http, ctx.template, values, None,
                                         auth=self.credentials(ctx.template, values))
        except ProviderError as exc:
            if exc.code != "invalid_credentials":
                raise
            raise CredentialsRejected(rejected_message(ctx.template)) from None
        return Grant(account=account)

    def request_auth(self, ctx: AuthContext) -> RequestAuth:
        return self.credentials(ctx.template, ctx.settings)

    def backend_credentials(self, keyring: Keyring,
                            authorization: GrantRecord) -> dict[str, str]:
        """What the user typed, so the backend can call the API directly too."""
        return collected_values(keyring, authorization)


def rejected_message(template: ProviderTemplate) -> str:
    return template.error_message("invalid_credentials") or (
        f"{template.name} did not accept these details. Check them and try again.")
