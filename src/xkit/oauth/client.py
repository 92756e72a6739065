"""An OAuth 2.0 client for one connector: Authlib encodes the protocol, httpx carries it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from xkit.oauth import errors
from xkit.oauth.errors import ProviderError

TokenAuthMethod = Literal["client_secret_post", "client_secret_basic"]

# Fields of a token response that are protocol, not provider extras worth keeping.
_STANDARD_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "scope",
        "id_token",
        "ext_expires_in",
        "refresh_token_expires_in",
    }
)


def new_pkce_pair() -> tuple[str, str]:
    """A (verifier, S256 challenge) pair for RFC 7636."""
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint granted. ``scopes`` is None when the provider did not say."""

    access_token: str
    token_type: str
    expires_in: int | None
    refresh_token: str | None
    scopes: list[str] | None
    id_token: str | None
    extras: dict[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    token_auth_method: TokenAuthMethod = "client_secret_post"
    scope_separator: str = " "
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_params: Mapping[str, str] = field(default_factory=dict)
    pkce: bool = True
    extras_to_keep: Sequence[str] = ()

    def authorization_url(
        self, *, redirect_uri: str, scopes: Sequence[str], state: str, code_challenge: str | None
    ) -> str:
        params: dict[str, str] = dict(self.authorize_params)
        if self.pkce and code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return str(
            prepare_grant_uri(
                self.authorize_url,
                self.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=self.scope_separator.join(scopes) if scopes else None,
                state=state,
                **params,
            )
        )

    async def exchange_code(
        self, http: httpx.AsyncClient, *, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.pkce and code_verifier:
            form["code_verifier"] = code_verifier
        return await self._token_request(http, form)

    async def refresh(self, http: httpx.AsyncClient, *, refresh_token: str) -> TokenSet:
        return await self._token_request(
            http, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def client_credentials(self, http: httpx.AsyncClient, *, scope: str) -> TokenSet:
        """RFC 6749 section 4.4: a token for the app itself. No refresh token comes back;
        when this one nears expiry, ask again."""
        return await self._token_request(
            http, {"grant_type": "client_credentials", "scope": scope}
        )

    async def revoke(
        self, http: httpx.AsyncClient, *, token: str, token_type_hint: str = "refresh_token"
    ) -> None:
        """RFC 7009 revocation; raises ProviderError when the provider refuses."""
        if not self.revoke_url:
            return
        form = {"token": token, "token_type_hint": token_type_hint}
        response = await self._post(http, self.revoke_url, form)
        if response.status_code >= 400:
            raise errors.from_response(response)

    async def _token_request(self, http: httpx.AsyncClient, form: dict[str, str]) -> TokenSet:
        response = await self._post(http, self.token_url, {**self.token_params, **form})
        if response.status_code >= 400:
            raise errors.from_response(response)
        return parse_token_response(response, extras_to_keep=self.extras_to_keep)

    async def _post(
        self, http: httpx.AsyncClient, url: str, form: dict[str, str]
    ) -> httpx.Response:
        auth: httpx.Auth | None = None
        if self.token_auth_method == "client_secret_basic":
            auth = httpx.BasicAuth(self.client_id, self.client_secret)
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            return await http.post(
                url, data=form, auth=auth, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc) from None


def parse_token_response(response: httpx.Response, *,
                         extras_to_keep: Sequence[str] = ()) -> TokenSet:
    """A 2xx token endpoint answer as a TokenSet, or ProviderError for anything unusable."""
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(
            code="invalid_response",
            transient=True,
            http_status=response.status_code,
            description="the token endpoint did not answer JSON",
        ) from None
    if not isinstance(body, dict):
        raise ProviderError(
            code="invalid_response",
            transient=True,
            description="the token endpoint answered JSON that is not an object",
        )
    if "error" in body:
        raise errors.from_error_fields(body, http_status=response.status_code)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError(
            code="invalid_response",
            transient=True,
            description="the token response has no access_token",
        )
    scope = body.get("scope")
    return TokenSet(
        access_token=access_token,
        token_type=str(body.get("token_type") or "Bearer"),
        expires_in=_int_or_none(body.get("expires_in")),
        refresh_token=body.get("refresh_token")
        if isinstance(body.get("refresh_token"), str)
        else None,
        scopes=_split_scopes(scope) if isinstance(scope, str) else None,
        id_token=body.get("id_token") if isinstance(body.get("id_token"), str) else None,
        extras={k: body[k] for k in extras_to_keep if k in body and k not in _STANDARD_FIELDS},
    )


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


def _split_scopes(value: str) -> list[str]:
    return [s for s in value.replace(",", " ").split() if s]
