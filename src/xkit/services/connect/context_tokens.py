"""Context tokens: short-lived, signed credentials a developer's web app hands to ``xkit.js``.

They are JWTs (HS256) whose signing key is derived from the keyring with HKDF, so they need no
storage, survive restarts and work across replicas; the key id in the header follows key
rotation. A token names one platform and one context and reads nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import Keyring
from xkit.db.models import Context, Platform
from xkit.errors import Unauthorized
from xkit.services.configuration.platforms import find_platform

AUDIENCE = "xkit:platform_user"
PURPOSE = b"xkit context token v1"


@dataclass(frozen=True)
class ContextClaims:
    platform_id: str
    context_id: str
    expires_at: dt.datetime


class ContextTokenSigner:
    def __init__(self, keyring: Keyring, issuer: str) -> None:
        self._issuer = issuer
        self._keys = {key_id: keyring.derive_key(PURPOSE, key_id) for key_id in keyring.key_ids}
        self._primary = keyring.primary_key_id

    def issue(
        self, *, platform_id: str, context_id: str, ttl: dt.timedelta
    ) -> tuple[str, dt.datetime]:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        expires_at = now + ttl
        token = jwt.encode(
            {
                "iss": self._issuer,
                "aud": AUDIENCE,
                "sub": context_id,
                "plt": platform_id,
                "iat": now,
                "exp": expires_at,
            },
            self._keys[self._primary],
            algorithm="HS256",
            headers={"kid": self._primary},
        )
        return token, expires_at

    def verify(self, token: str) -> ContextClaims:
        refused = Unauthorized("invalid or expired context token", code="invalid_context_token")
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(key_id) if isinstance(key_id, str) else None
            if key is None:
                raise refused
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "plt"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("context token expired", code="context_token_expired") from None
        except jwt.PyJWTError:
            raise refused from None
        return ContextClaims(
            platform_id=str(claims["plt"]),
            context_id=str(claims["sub"]),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )


async def authenticate(session: AsyncSession, signer: ContextTokenSigner, token: str,
                       platform_slug: str) -> tuple[Platform, Context]:
    """The platform and context a browser-API call acts for: the token must be valid, for the
    platform in the URL, and its context must still exist."""
    claims = signer.verify(token)
    platform = await find_platform(session, platform_slug)
    if platform is None or platform.id != claims.platform_id:
        raise Unauthorized(
            "this context token is for another platform", code="invalid_context_token"
        )
    context = await session.get(Context, claims.context_id)
    if context is None or context.platform_id != platform.id:
        raise Unauthorized(
            "the context of this token no longer exists", code="invalid_context_token"
        )
    return platform, context
