"""The sandbox provider's tokens: signed, stateless and short, so the pretend provider keeps no
state of its own and works on any number of replicas. Codes and tokens are JWTs (HS256) under a
key derived from the keyring for this one purpose."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time
from typing import Any

import jwt

from xkit.crypto import Keyring
from xkit.services.configuration.validation import SLUG_PATTERN

CODE_TTL = dt.timedelta(minutes=5)
ACCESS_TTL = dt.timedelta(hours=1)


class SandboxError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def is_own_callback(public_url: str, redirect_uri: str) -> bool:
    """Whether ``redirect_uri`` is the callback page of a platform on this xkit — the only
    place the sandbox sends anyone back to. Any other address would make its authorize page
    an open redirect on xkit's own origin."""
    prefix = f"{public_url}/p/"
    if not redirect_uri.startswith(prefix):
        return False
    slug, _, rest = redirect_uri[len(prefix):].partition("/")
    return rest == "callback" and bool(SLUG_PATTERN.match(slug))


def _key(keyring: Keyring) -> bytes:
    return keyring.derive_key(b"xkit sandbox provider v1")


def _sign(keyring: Keyring, claims: dict[str, Any], ttl: dt.timedelta | None) -> str:
    now = dt.datetime.now(dt.UTC)
    body = {**claims, "iat": now, "jti": secrets.token_hex(8)}
    if ttl is not None:
        body["exp"] = now + ttl
    return jwt.encode(body, _key(keyring), algorithm="HS256")


def _read(keyring: Keyring, token: str, kind: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, _key(keyring), algorithms=["HS256"])
    except jwt.PyJWTError:
        raise SandboxError("invalid_grant", f"the {kind} is invalid or expired") from None
    if claims.get("typ") != kind:
        raise SandboxError("invalid_grant", f"not a {kind}")
    return claims


def issue_code(
    keyring: Keyring,
    *,
    name: str,
    client_id: str,
    redirect_uri: str,
    scope: str,
    code_challenge: str | None,
) -> str:
    return _sign(
        keyring,
        {
            "typ": "code",
            "sub": _user_id(name),
            "name": name,
            "cid": client_id,
            "ruri": redirect_uri,
            "scope": scope,
            "cc": code_challenge,
            # When the person approved: the grant's identity for the revoke switch
            # (sandbox_switches), carried into every token of the grant.
            "gat": time.time(),
        },
        CODE_TTL,
    )


def read_code(keyring: Keyring, code: str) -> dict[str, Any]:
    return _read(keyring, code, "code")


def redeem_code(
    keyring: Keyring, *, claims: dict[str, Any], client_id: str, redirect_uri: str,
    code_verifier: str | None
) -> dict[str, Any]:
    """Tokens for a code read by :func:`read_code`, if it was issued to this client."""
    if claims["cid"] != client_id or claims["ruri"] != redirect_uri:
        raise SandboxError("invalid_grant", "the code was issued to another client or URI")
    if claims.get("cc"):
        digest = hashlib.sha256((code_verifier or "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != claims["cc"]:
            raise SandboxError("invalid_grant", "the PKCE code_verifier does not match")
    return _tokens(keyring, claims)


def read_refresh_token(keyring: Keyring, refresh_token: str) -> dict[str, Any]:
    return _read(keyring, refresh_token, "refresh")


def refresh(keyring: Keyring, claims: dict[str, Any]) -> dict[str, Any]:
    """New tokens for the grant of a refresh token read by :func:`read_refresh_token`."""
    return _tokens(keyring, claims)


def read_access_token(keyring: Keyring, token: str) -> dict[str, Any]:
    return _read(keyring, token, "access")


def _tokens(keyring: Keyring, claims: dict[str, Any]) -> dict[str, Any]:
    person = {"sub": claims["sub"], "name": claims["name"], "scope": claims["scope"],
              "gat": claims.get("gat", 0.0)}
    return {
        "access_token": _sign(keyring, {**person, "typ": "access"}, ACCESS_TTL),
        "refresh_token": _sign(keyring, {**person, "typ": "refresh"}, None),
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TTL.total_seconds()),
        "scope": claims["scope"],
    }


def _user_id(name: str) -> str:
    return "sbx-" + hashlib.sha256(name.strip().lower().encode()).hexdigest()[:12]


def profile(claims: dict[str, Any]) -> dict[str, str]:
    slug = "".join(ch if ch.isalnum() else "." for ch in claims["name"].lower()).strip(".")
    return {"id": claims["sub"], "name": claims["name"], "email": f"{slug or 'user'}@sandbox.test"}
