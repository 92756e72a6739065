"""Signing in to the browser API with the app's own user JWT instead of a context token.

A platform registers its login system as a JWT issuer (:mod:`xkit.services.configuration.
jwt_issuers`); xkit.js sends the JWT the app already has, and :func:`exchange` checks it and
hands back the usual context token, for the context named by the issuer's user id claim
(created on first sight). The developer's backend takes no part.

What is checked, and why:

- the issuer (``iss``) must be one of the platform's enabled issuers, matched exactly;
- the algorithm is pinned by that issuer and always asymmetric: ``none`` and ``HS*`` are refused
  before any key is looked at, so the public key can never serve as an HMAC secret;
- the key comes from the issuer's JWKS, fetched through the outbound address policy (the
  provider client built in ``runtime.py``), cached in memory for :data:`JWKS_TTL` and fetched
  again once when a token names an unknown ``kid`` (key rotation) — at most once per
  :data:`REFETCH_INTERVAL` per JWKS URL, so a flood of made-up kids cannot hammer it (and a
  JWKS that is down is asked at most once per :data:`FAILED_FETCH_PAUSE`);
- a key whose ``alg`` or ``use`` contradicts the token is not used;
- ``exp`` (required), ``nbf``, ``iat``, ``iss`` and ``aud`` with :data:`LEEWAY` of clock skew.

Each refusal is a 401 with its own code (``jwt_expired``, ``jwt_audience``, ``jwt_signature``,
``jwt_issuer_unknown`` …) and a message for the developer; none ever quotes the token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import JwtIssuer, Platform
from xkit.errors import InvalidInput, ServiceUnavailable, Unauthorized
from xkit.services.configuration.contexts import ContextRecord, upsert_context
from xkit.services.configuration.jwt_issuers import ALLOWED_ALGORITHMS, find_enabled_issuer
from xkit.services.configuration.platforms import find_platform
from xkit.services.connect.context_tokens import ContextTokenSigner

log = logging.getLogger("xkit.user_jwt")

LEEWAY = dt.timedelta(seconds=30)
JWKS_TTL = 600.0  # seconds a fetched JWKS is used before it is fetched again
REFETCH_INTERVAL = 30.0  # at least this long between two unknown-kid fetches of one JWKS
FAILED_FETCH_PAUSE = 5.0  # a JWKS that could not be fetched is asked again after this long
JWKS_MAX_BYTES = 256 * 1024
MAX_TOKEN_LENGTH = 16 * 1024
MAX_CACHED_URLS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def refused(code: str, message: str) -> Unauthorized:
    return Unauthorized(message, code=code)


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float


@dataclass
class JwksCache:
    """Each JWKS URL's keys, in memory (per process: replicas each fetch their own)."""

    http: httpx.AsyncClient
    ttl: float = JWKS_TTL
    refetch_interval: float = REFETCH_INTERVAL
    clock: Callable[[], float] = time.monotonic
    fetches: int = 0  # how many requests went out: tests and metrics read it
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _attempted: dict[str, float] = field(default_factory=dict)
    _kid_refetched: dict[str, float] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def keys(self, url: str, *, unknown_kid: bool = False) -> list[dict[str, Any]]:
        """The keys at ``url``: cached while fresh, fetched again when stale; with
        ``unknown_kid`` (a token names a key we lack: a rotation) fetched again at once, but
        at most once per refetch interval, so made-up kids cannot hammer the issuer."""
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:  # one fetch per URL at a time; waiters read its result
            entry = self._entries.get(url)
            now = self.clock()
            if unknown_kid:
                fetch = now - self._kid_refetched.get(url, -1e18) >= self.refetch_interval
                if fetch:
                    self._kid_refetched[url] = now
            else:  # a JWKS that is down is asked again only after a pause
                fetch = (entry is None or now - entry.fetched_at >= self.ttl) and \
                    now - self._attempted.get(url, -1e18) >= FAILED_FETCH_PAUSE
            if fetch:
                self._attempted[url] = now
                try:
                    keys = await self._fetch(url)
                except ServiceUnavailable:
                    if entry is None:
                        raise
                    log.warning("JWKS %s could not be fetched again; using the keys held",
                                url)
                else:
                    entry = _Entry(keys, now)
                    self._entries[url] = entry
                    self._entries.move_to_end(url)
                    while len(self._entries) > MAX_CACHED_URLS:
                        old, _ = self._entries.popitem(last=False)
                        for held in (self._attempted, self._kid_refetched, self._locks):
                            held.pop(old, None)
            if entry is None:
                raise ServiceUnavailable(
                    "the JWT issuer's JWKS could not be fetched just now; retry shortly",
                    code="jwks_unavailable")
            return entry.keys

    async def _fetch(self, url: str) -> list[dict[str, Any]]:
        unavailable = ServiceUnavailable(
            "the JWT issuer's JWKS could not be fetched; check its jwks_url",
            code="jwks_unavailable")
        self.fetches += 1
        try:
            async with self.http.stream("GET", url, headers={"Accept": "application/json"}) as r:
                if r.status_code != 200:
                    log.warning("JWKS %s answered %d", url, r.status_code)
                    raise unavailable
                body = b""
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > JWKS_MAX_BYTES:
                        log.warning("JWKS %s is larger than %d bytes", url, JWKS_MAX_BYTES)
                        raise unavailable
        except httpx.HTTPError as exc:
            log.warning("JWKS %s could not be fetched: %s", url, type(exc).__name__)
            raise unavailable from None
        try:
            document = json.loads(body)
        except ValueError:
            log.warning("JWKS %s is not JSON", url)
            raise unavailable from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            log.warning("JWKS %s has no \"keys\" list", url)
            raise unavailable
        return [k for k in keys if isinstance(k, dict)]


@dataclass(frozen=True)
class UserClaims:
    """Who a verified user JWT names."""

    user_id: str
    name: str | None
    expires_at: dt.datetime


def _pick_key(keys: list[dict[str, Any]], kid: str | None, alg: str) -> Any | None:
    """The key for ``kid`` (or the only usable key when the token names none) that suits
    ``alg``; None when there is none."""
    suitable = []
    for jwk in keys:
        if kid is not None and jwk.get("kid") != kid:
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        try:
            suitable.append(jwt.PyJWK(jwk, algorithm=alg).key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue  # another kind of key (an EC key for RS256 …), or a broken one
    if kid is None and len(suitable) != 1:
        return None  # without a kid, only an unambiguous JWKS will do
    return suitable[0] if suitable else None


def _clean_name(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _CONTROL.sub(" ", value.strip())[:255]


@dataclass
class UserJwtVerifier:
    """Checks user JWTs against a platform's issuers; holds the JWKS cache."""

    jwks: JwksCache

    async def verify(self, session: AsyncSession, platform: Platform, token: str) -> UserClaims:
        if len(token) > MAX_TOKEN_LENGTH:
            raise refused("jwt_malformed", "the user JWT is too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise refused("jwt_malformed", "the user JWT is not a JWS compact JWT") from None
        iss = unverified.get("iss")
        if not isinstance(iss, str) or not iss:
            raise refused("jwt_issuer_unknown", "the user JWT has no 'iss' claim")
        issuer = await find_enabled_issuer(session, platform.id, iss)
        if issuer is None:
            raise refused("jwt_issuer_unknown",
                          f"the issuer {iss[:200]!r} is not an enabled JWT issuer of platform "
                          f"{platform.slug!r}; add it in the dashboard or with the Platform "
                          "API (/api/platform/jwt-issuers)")
        # End the read before any JWKS request: a slow issuer must not hold a database
        # connection for the length of its timeout.
        await session.commit()
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS \
                or alg not in issuer.algorithms:
            raise refused("jwt_algorithm",
                          f"the user JWT is signed with {str(alg)[:20]!r}; this issuer allows "
                          f"{', '.join(issuer.algorithms)}")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise refused("jwt_malformed", "the user JWT's 'kid' is not a string")
        key = _pick_key(await self.jwks.keys(issuer.jwks_url), kid, alg)
        if key is None and kid is not None:  # a rotated key: look once more
            key = _pick_key(await self.jwks.keys(issuer.jwks_url, unknown_kid=True), kid, alg)
        if key is None:
            raise refused("jwt_key_unknown",
                          f"the issuer's JWKS has no {alg} signing key "
                          + (f"with kid {kid[:100]!r}" if kid else "(and the JWT names no kid)"))
        return self._decode(token, key, alg, issuer)

    @staticmethod
    def _decode(token: str, key: Any, alg: str, issuer: JwtIssuer) -> UserClaims:
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=issuer.audience, issuer=issuer.issuer,
                leeway=LEEWAY, options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise refused("jwt_expired", "the user JWT has expired: get a fresh one from your "
                                         "login system") from None
        except jwt.ImmatureSignatureError:
            raise refused("jwt_not_yet_valid", "the user JWT is not valid yet (nbf or iat "
                                               "in the future): check the clocks") from None
        except jwt.InvalidAudienceError:
            raise refused("jwt_audience", f"the user JWT's 'aud' is not {issuer.audience!r}, "
                                          "the audience configured for this issuer") from None
        except jwt.InvalidIssuerError:
            raise refused("jwt_issuer_unknown", "the user JWT's 'iss' does not match") from None
        except jwt.InvalidSignatureError:
            raise refused("jwt_signature", "the user JWT's signature does not verify with the "
                                           "issuer's key") from None
        except jwt.MissingRequiredClaimError as exc:
            raise refused("jwt_claims", f"the user JWT has no {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise refused("jwt_malformed", f"the user JWT was refused: {type(exc).__name__}") \
                from None
        user_id = claims.get(issuer.user_id_claim)
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id.strip():
            raise refused("jwt_claims", f"the user JWT has no {issuer.user_id_claim!r} claim "
                                        "(this issuer's user id claim) with a text value")
        name = claims.get(issuer.name_claim) if issuer.name_claim else None
        return UserClaims(user_id=user_id.strip(), name=_clean_name(name),
                          expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC))


@dataclass(frozen=True)
class JwtSession:
    platform: Platform
    context: ContextRecord
    context_token: str
    expires_at: dt.datetime


async def exchange(session: AsyncSession, verifier: UserJwtVerifier, signer: ContextTokenSigner,
                   platform_slug: str, token: str, *, max_ttl: dt.timedelta) -> JwtSession:
    """A valid user JWT for the usual browser session: a context token for the context named by
    the user id claim, living no longer than the JWT (nor ``max_ttl``)."""
    platform = await find_platform(session, platform_slug)
    if platform is None:
        raise refused("jwt_issuer_unknown", f"no platform {platform_slug[:64]!r}")
    claims = await verifier.verify(session, platform, token)
    try:
        context, _ = await upsert_context(session, platform.id, external_id=claims.user_id,
                                          external_name=claims.name)
    except InvalidInput as exc:
        raise refused("jwt_claims", f"the user id claim cannot name a context: {exc.message}") \
            from None
    left = claims.expires_at - dt.datetime.now(dt.UTC) + LEEWAY
    ttl = max(min(max_ttl, left), dt.timedelta(seconds=1))
    context_token, expires_at = signer.issue(platform_id=platform.id, context_id=context.id,
                                             ttl=ttl)
    return JwtSession(platform=platform, context=context, context_token=context_token,
                      expires_at=expires_at)
