"""RFC 7523 JWT bearer grant with a Google service account key: sign an assertion, trade it.

Google's "Using OAuth 2.0 for Server to Server Applications": the assertion is an RS256 JWT
whose claims are ``iss`` (the service account's email), ``scope`` (space-delimited), ``aud``
(``https://oauth2.googleapis.com/token``), ``iat`` and ``exp`` (at most one hour later), and,
for domain-wide delegation, ``sub`` (the user to act as). It is posted as
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...``; no client secret
travels, only the signature proves who is asking.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from xkit.oauth import errors
from xkit.oauth.client import TokenSet, parse_token_response

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_KEY_JSON_BYTES = 20_000


@dataclass(frozen=True)
class ServiceAccountKey:
    """The parts of a service account's JSON key file that signing needs."""

    client_email: str
    private_key_id: str
    client_id: str | None
    private_key_pem: str = field(repr=False)


def parse_service_account_key(text: str) -> ServiceAccountKey:
    """Check a JSON key file as the developer uploads it.

    Raises ValueError with a message fit for the developer; it never quotes the key.
    """
    if len(text.encode("utf-8", "replace")) > MAX_KEY_JSON_BYTES:
        raise ValueError("is too large to be a service account key file")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("must be the JSON key file of a service account") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise ValueError('must be a service account key file ("type": "service_account"); '
                         "create one under the service account's Keys tab")
    values: dict[str, str] = {}
    for name in ("client_email", "private_key", "private_key_id"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"has no {name}; download a new JSON key for the service account")
        values[name] = value.strip()
    if "@" not in values["client_email"]:
        raise ValueError("has a client_email that is not an email address")
    try:
        key = load_pem_private_key(values["private_key"].encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("has a private_key that cannot be read; download a new JSON key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("has a private_key that is not an RSA key")
    client_id = data.get("client_id")
    return ServiceAccountKey(
        client_email=values["client_email"],
        private_key_id=values["private_key_id"],
        client_id=str(client_id) if isinstance(client_id, (str, int)) and client_id else None,
        private_key_pem=values["private_key"],
    )


def make_assertion(key: ServiceAccountKey, *, audience: str, scopes: Sequence[str],
                   subject: str | None, lifetime_seconds: int = 3600,
                   now: float | None = None) -> str:
    """The signed JWT; ``kid`` names the key so the server knows which public half to use."""
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": key.client_email,
        "scope": " ".join(scopes),
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
    }
    if subject:
        claims["sub"] = subject
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256",
                      headers={"kid": key.private_key_id})


async def request_token(http: httpx.AsyncClient, token_url: str, assertion: str) -> TokenSet:
    """Trade the assertion; ProviderError says why the server refused (``unauthorized_client``
    when domain-wide delegation is missing, ``invalid_grant`` for a bad signature or user)."""
    try:
        response = await http.post(
            token_url, data={"grant_type": GRANT_TYPE, "assertion": assertion},
            headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise errors.from_transport(exc) from None
    if response.status_code >= 400:
        raise errors.from_response(response)
    return parse_token_response(response)
