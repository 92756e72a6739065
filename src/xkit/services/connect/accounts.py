"""Who connected: the provider account behind a new authorization, read right after it is
granted — from the template's account URL, the id_token, the token response, the extras, or
the answer of one of the template's lookups."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from xkit import metrics
from xkit.oauth import ProviderError, TokenSet
from xkit.oauth.errors import from_transport
from xkit.outbound import AddressRefused
from xkit.providers.schema import AccountInfo, ProviderTemplate
from xkit.services.connect import extras
from xkit.services.tokens.provider_http import RequestAuth

#: Answers of an account URL that mean "these credentials are not accepted" rather than
#: "the provider is having trouble": an API key or password typed wrong.
REJECTED_STATUSES = frozenset({401, 403})


async def read_account(http: httpx.AsyncClient, template: ProviderTemplate,
                       settings: Mapping[str, str], tokens: TokenSet | None,
                       findings: extras.Findings | None = None, *,
                       auth: RequestAuth | None = None,
                       scopes: Sequence[str] = ()) -> AccountInfo:
    """The account, from the first source the template lists that is available;
    ``scopes`` (what was asked for) decide whether the token can read the account URL.

    The account URL is called with ``auth`` (an API key, Basic credentials), or else with the
    new access token. Raises ProviderError: ``invalid_credentials`` when the URL refuses the
    ``auth`` given (a typo in a key), ``account_unreadable`` (transient) when the account
    cannot be read. Its requests count as ``account`` calls to the provider.
    """
    with metrics.provider_call(template.slug, "account"):
        return await _read_account(http, template, settings, tokens, findings, auth, scopes)


async def _read_account(http: httpx.AsyncClient, template: ProviderTemplate,
                        settings: Mapping[str, str], tokens: TokenSet | None,
                        findings: extras.Findings | None, auth: RequestAuth | None,
                        scopes: Sequence[str]) -> AccountInfo:
    spec = template.account
    if spec is None:
        return AccountInfo(id=None, label=None)
    documents = findings.documents if findings else {}
    for source in spec.source:
        if source == "url":
            url = template.account_url(settings, scopes)
            if url is None:
                continue
            if auth is not None:
                return spec.extract(await _get_with_credentials(http, url, auth))
            if tokens is None:
                continue
            body = await extras.fetch_json(
                http, "GET", url, template.token_header(tokens.access_token),
                failure=ProviderError(code="account_unreadable", transient=True))
            if not isinstance(body, dict):
                raise ProviderError(code="account_unreadable", transient=True)
            return spec.extract(body)
        if source == "id_token" and tokens is not None and tokens.id_token:
            return spec.extract(unverified_claims(tokens.id_token))
        if source == "token_response" and tokens is not None:
            return spec.extract(tokens.response)
        if source == "extras":
            return spec.extract(findings.values if findings else {})
        if source in documents:
            return spec.extract(documents[source])
    return AccountInfo(id=None, label=None)


async def _get_with_credentials(http: httpx.AsyncClient, url: str,
                                auth: RequestAuth) -> dict[str, Any]:
    """The account document, checking credentials the user typed: a refusal is theirs to
    fix (``invalid_credentials``), anything else the provider's (transient)."""
    try:
        response = await http.get(auth.url(url),
                                  headers={**auth.headers, "Accept": "application/json"})
    except AddressRefused as exc:  # the connector's configuration, not a passing fault
        raise from_transport(exc) from None
    except httpx.HTTPError:
        raise ProviderError(code="account_unreadable", transient=True) from None
    if response.status_code in REJECTED_STATUSES:
        raise ProviderError(code="invalid_credentials", http_status=response.status_code)
    if response.status_code != 200:
        raise ProviderError(code="account_unreadable", http_status=response.status_code,
                            transient=True)
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(code="account_unreadable", transient=True) from None
    if not isinstance(body, dict):
        raise ProviderError(code="account_unreadable", transient=True)
    return body


def unverified_claims(id_token: str) -> dict[str, Any]:
    """Claims of an id_token received straight from the token endpoint over TLS, which OpenID
    Connect Core §3.1.3.7 accepts in place of checking the signature."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise ProviderError(code="account_unreadable", transient=True) from None
    return claims if isinstance(claims, dict) else {}
