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

from xkit.dotpath import dig
from xkit.oauth import errors
from xkit.oauth.errors import ProviderError

TokenAuthMethod = Literal["client_secret_post", "client_secret_basic"]
BodyFormat = Literal["form", "json"]

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
    """What a token endpoint granted. ``scopes`` is None when the provider did not say.

    ``response`` is the whole answer, for templates that read more from it (an account id,
    a second token). Tokens are left out of ``repr``, so a log line never shows one.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int | None
    refresh_token: str | None = field(repr=False)
    scopes: list[str] | None
    id_token: str | None = field(repr=False)
    extras: dict[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)
    response: dict[str, Any] = field(default_factory=dict, repr=False)


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
    # Departures from RFC 6749 that some providers make (each template says which).
    token_request_format: BodyFormat = "form"
    scope_in_token_request: bool = False
    access_token_paths: Sequence[str] = ("access_token",)
    refresh_token_paths: Sequence[str] = ("refresh_token",)
    expires_in_paths: Sequence[str] = ("expires_in",)
    error_paths: Sequence[str] = ("error",)
    error_description_paths: Sequence[str] = ("error_description",)
    granted_scope_fields: Sequence[tuple[str, str]] = (("scope", ""),)

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        scopes: Sequence[str] | str,
        state: str,
        code_challenge: str | None,
        extra_params: Mapping[str, str] | None = None,
    ) -> str:
        """``scopes`` is a list joined with the separator, or the ``scope`` value itself;
        ``extra_params`` are per-request parameters such as Slack's ``user_scope``."""
        params: dict[str, str] = {**self.authorize_params, **(extra_params or {})}
        if isinstance(scopes, str):
            scope = scopes or None
        else:
            scope = self.scope_separator.join(scopes) if scopes else None
        if self.pkce and code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method="S256")
        return str(
            prepare_grant_uri(
                self.authorize_url,
                self.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=scope,
                state=state,
                **params,
            )
        )

    async def exchange_code(
        self,
        http: httpx.AsyncClient,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        scope: str | None = None,
    ) -> TokenSet:
        """``scope`` (the value sent to the authorize URL) goes along only for providers that
        want it again here."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.pkce and code_verifier:
            form["code_verifier"] = code_verifier
        if self.scope_in_token_request and scope:
            form["scope"] = scope
        return await self._token_request(http, form)

    async def refresh(self, http: httpx.AsyncClient, *, refresh_token: str) -> TokenSet:
        return await self._token_request(
            http, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def client_credentials(self, http: httpx.AsyncClient, *, scope: str | None,
                                 grant_type: str = "client_credentials") -> TokenSet:
        """RFC 6749 section 4.4: a token for the app itself. No refresh token comes back;
        when this one nears expiry, ask again. ``scope`` None (or empty) sends none: the
        provider grants what the app is configured with. ``grant_type`` is for providers
        that named the same grant their own way (Zoom's ``account_credentials``)."""
        form = {"grant_type": grant_type}
        if scope:
            form["scope"] = scope
        return await self._token_request(http, form)

    async def revoke(
        self, http: httpx.AsyncClient, *, token: str, token_type_hint: str = "refresh_token"
    ) -> None:
        """RFC 7009 revocation; raises ProviderError when the provider refuses."""
        if not self.revoke_url:
            return
        form = {"token": token, "token_type_hint": token_type_hint}
        response = await self._post(http, self.revoke_url, form)
        if response.status_code >= 400:
            raise errors.from_response(response, self._error_paths)

    async def _token_request(self, http: httpx.AsyncClient, form: dict[str, str]) -> TokenSet:
        response = await self._post(
            http, self.token_url, {**self.token_params, **form}, self.token_request_format
        )
        if response.status_code >= 400:
            raise errors.from_response(response, self._error_paths)
        return self._parse_token_response(response)

    async def _post(
        self, http: httpx.AsyncClient, url: str, form: dict[str, str], body: BodyFormat = "form"
    ) -> httpx.Response:
        auth: httpx.Auth | None = None
        if self.token_auth_method == "client_secret_basic":
            auth = httpx.BasicAuth(self.client_id, self.client_secret)
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        as_json = body == "json"
        request = http.build_request(
            "POST", url, headers={"Accept": "application/json"},
            json=form if as_json else None, data=None if as_json else form)
        try:
            return await http.send(request, auth=auth)
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc) from None

    def _parse_token_response(self, response: httpx.Response) -> TokenSet:
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
        if errors.error_code(body, self.error_paths) is not None:
            raise errors.from_error_fields(body, http_status=response.status_code,
                                           paths=self._error_paths)
        access_token = _first(body, self.access_token_paths, str)
        if not access_token:
            raise ProviderError(
                code="invalid_response",
                transient=True,
                description="the token response has no access_token",
            )
        return TokenSet(
            access_token=access_token,
            token_type=str(body.get("token_type") or "Bearer"),
            expires_in=_int_or_none(_first(body, self.expires_in_paths, object)),
            refresh_token=_first(body, self.refresh_token_paths, str) or None,
            scopes=self._granted_scopes(body),
            id_token=body.get("id_token") if isinstance(body.get("id_token"), str) else None,
            extras={
                k: body[k] for k in self.extras_to_keep if k in body and k not in _STANDARD_FIELDS
            },
            response=body,
        )

    @property
    def _error_paths(self) -> tuple[Sequence[str], Sequence[str]]:
        return self.error_paths, self.error_description_paths

    def _granted_scopes(self, body: dict[str, Any]) -> list[str] | None:
        """Every scope the response says was granted, with the prefix xkit's names carry;
        None when it says nothing."""
        granted: list[str] | None = None
        for path, prefix in self.granted_scope_fields:
            value = dig(body, path)
            if isinstance(value, str):
                granted = [*(granted or []), *(prefix + s for s in _split_scopes(value))]
        return granted


def parse_token_response(response: httpx.Response) -> TokenSet:
    """A 2xx token answer in RFC 6749's own shape, checked as a connector's client checks
    one, for grants made without a client (the JWT bearer grant of service accounts)."""
    return _RFC6749_SHAPE._parse_token_response(response)


def _first(body: dict[str, Any], paths: Sequence[str], kind: type) -> Any:
    """The first value of ``kind`` found at one of ``paths``; None if there is none."""
    for path in paths:
        value = dig(body, path)
        if isinstance(value, kind) and value is not None and value != "":
            return value
    return None


def _int_or_none(value: object) -> int | None:
    """A number from a provider's JSON, where some send ``"3600"`` for ``3600``."""
    if not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _split_scopes(value: str) -> list[str]:
    return [s for s in value.replace(",", " ").split() if s]


# A client with every option at RFC 6749's default: what parse_token_response reads with.
_RFC6749_SHAPE = OAuthClient(client_id="", client_secret="", authorize_url="", token_url="")
