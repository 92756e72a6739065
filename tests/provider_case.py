"""The shape of a provider case: what a provider documents, restated for the quirk emulator.

``tests/provider_cases.py`` gathers the cases (one per built-in OAuth template; the newer
families live in ``tests/catalog_cases/``). Each module of cases imports its shapes from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GOOGLE_ID = {"sub": "110248495921238986420", "email": "ada@example.com", "name": "Ada"}


@dataclass(frozen=True)
class Document:
    """An answer the provider's API gives to the new token."""

    url: str
    json: Any
    method: str = "GET"
    prefix: str | None = None  # how this endpoint wants the token, when unlike the API's


@dataclass(frozen=True)
class TokenError:
    """How the provider refuses a code exchange, as its documentation shows it: the status and
    JSON body of its token endpoint's answer, and words the user must then read (a part of the
    template's message for that code, so a template that misreads the shape fails)."""

    json: Any
    says: str
    status: int = 400


@dataclass(frozen=True)
class ProviderCase:
    slug: str
    authorize_url: str  # as documented, without the query
    token_url: str
    scopes: tuple[str, ...]  # the connector's choice
    scope_params: dict[str, str]  # what the authorize URL must carry: {"scope": "a b"}
    account: tuple[str | None, str | None]  # (provider account id, label) xkit must read
    authorize_params: dict[str, str] = field(default_factory=dict)  # also required there
    pkce: bool = True  # the template sends a code challenge
    client_auth: str = "client_secret_basic"  # or client_secret_post
    body_format: str = "form"  # or json
    scope_in_token_request: bool = False
    refresh_token: bool = True
    expires_in: int | None = 3600
    top_level_token: bool = True
    token_fields: dict[str, Any] = field(default_factory=dict)
    callback_params: dict[str, str] = field(default_factory=dict)
    id_token_claims: dict[str, Any] | None = None
    api_token: tuple[str, str] = ("Authorization", "Bearer ")
    documents: tuple[Document, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    collect: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # must be among the backend's extras
    extras_present: tuple[str, ...] = ()  # ...and these, whatever their value (a token)
    proxy: tuple[str, str] | None = None  # (path through xkit's proxy, URL the provider sees)
    proxy_headers: dict[str, str] = field(default_factory=dict)  # ...and headers it gets
    variant: str = ""  # a second case of the same provider (Slack's user-only installation)
    token_error: TokenError | None = None  # one of its documented refusals

    @property
    def connector_slug(self) -> str:
        return f"{self.slug}-{self.variant}" if self.variant else self.slug

    @property
    def id(self) -> str:
        return self.connector_slug

    def profile(self, *, refusing: bool = False) -> dict[str, Any]:
        """The quirk emulator's profile for this provider; ``refusing``: it refuses the code
        exchange the way ``token_error`` shows."""
        refusal = self.token_error if refusing else None
        return {
            "token_error": ({"status": refusal.status, "json": refusal.json}
                            if refusal else None),
            "client_auth": self.client_auth,
            "body_format": self.body_format,
            "pkce": "optional" if self.pkce else "unsupported",
            "scope_in_token_request": self.scope_in_token_request,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "top_level_token": self.top_level_token,
            "token_fields": self.token_fields,
            "callback_params": self.callback_params,
            "id_token_claims": self.id_token_claims,
            "api_token": {"header": self.api_token[0], "prefix": self.api_token[1]},
            "documents": [
                {"method": d.method, "url": d.url, "json": d.json,
                 **({"prefix": d.prefix} if d.prefix is not None else {})}
                for d in self.documents
            ],
        }


def microsoft(slug: str, tenant: str, scopes: tuple[str, ...],
              proxy: tuple[str, str]) -> ProviderCase:
    """A delegated Microsoft Graph template: the Microsoft identity platform v2.0 endpoints
    for ``tenant``, offline_access first, the account from Graph's /me."""
    return ProviderCase(
        slug=slug,
        authorize_url=f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        token_url=f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        scopes=scopes, scope_params={"scope": " ".join(("offline_access", *scopes))},
        authorize_params={"response_mode": "query"}, client_auth="client_secret_post",
        documents=(Document("https://graph.microsoft.com/v1.0/me",
                            {"id": "48d31887-5fad-4d73-a9f5-3c356e68a038", "mail": None,
                             "userPrincipalName": "megan@contoso.test"}),),
        account=("48d31887-5fad-4d73-a9f5-3c356e68a038", "megan@contoso.test"),
        proxy=proxy,
        # A code used twice: RFC 6749's error, and in error_description the AADSTS code the
        # template's message is keyed on.
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": ("AADSTS54005: OAuth2 Authorization code was already redeemed, "
                                   "please retry with a new valid code or use an existing refresh "
                                   "token."),
             "error_codes": [54005]},
            says="That sign-in link was already used"),
    )


def google(slug: str, scope: str, proxy_path: str, upstream: str) -> ProviderCase:
    return ProviderCase(
        slug=slug, authorize_url=GOOGLE_AUTHORIZE, token_url=GOOGLE_TOKEN,
        scopes=(scope,), scope_params={"scope": f"openid email {scope}"},
        authorize_params={"access_type": "offline", "prompt": "consent"},
        client_auth="client_secret_post", id_token_claims=GOOGLE_ID,
        account=("110248495921238986420", "ada@example.com"),
        proxy=(proxy_path, upstream),
        token_error=TokenError(
            {"error": "invalid_grant",
             "error_description": "Bad Request"},
            says="Access to your Google account has expired or was revoked"),
    )
