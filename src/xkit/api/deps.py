"""FastAPI dependencies: the runtime, a database session, and the API-key caller."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.errors import DatabaseProblem, classify
from xkit.db.models import Platform
from xkit.errors import Unauthorized
from xkit.http.runtime import get_runtime
from xkit.runtime import Runtime
from xkit.services.configuration import api_keys

log = logging.getLogger("xkit.api")


async def _runtime_dependency(request: Request) -> Runtime:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, and
    that hop was the largest single cost of a token fetch (bench/profile.py)."""
    return get_runtime(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime_dependency)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    session = runtime.sessions()
    try:
        yield session
    finally:
        try:
            await session.close()
        except Exception as exc:
            # Closing runs after the answer went out; a connection the database dropped
            # meanwhile is discarded by the pool, and is no reason for a traceback.
            if classify(exc) is not DatabaseProblem.OUTAGE:
                raise
            log.warning("database connection lost while closing a session: %s",
                        type(exc).__name__)


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True)
class ApiCaller:
    """A backend authenticated by an API key; everything it reads is scoped to its platform."""

    api_key: api_keys.CallingKey

    @property
    def platform_id(self) -> str:
        return self.api_key.platform_id

    @property
    def platform_slug(self) -> str:
        return self.api_key.platform_slug

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key.publishable_key}"


def parse_credentials(authorization: str | None) -> tuple[str | None, str]:
    """``Basic base64(publishable:secret)`` or ``Bearer secret`` → (publishable, secret)."""
    missing = Unauthorized(
        "send your API key as HTTP Basic 'publishable:secret' or 'Authorization: Bearer <secret>'",
        code="missing_api_key",
    )
    if not authorization:
        raise missing
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials", code="invalid_api_key") from None
        publishable, sep, secret = decoded.partition(":")
        if not sep:
            raise Unauthorized("malformed Basic credentials", code="invalid_api_key")
        return publishable, secret
    raise missing


#: The two ways to send an API key, as ``/openapi.json`` declares them, so the "Authorize"
#: button of /docs works and generated clients know how to sign in.
API_KEY_SCHEMES: dict[str, dict[str, str]] = {
    "ApiKeyBasic": {"type": "http", "scheme": "basic",
                    "description": "Your API key as publishable key : secret key."},
    "ApiKeyBearer": {"type": "http", "scheme": "bearer",
                     "description": "Your secret API key as a bearer token."},
}
#: An operation's OpenAPI security: either scheme. Declared (:mod:`xkit.api.platform`) rather
#: than taken as FastAPI ``Security`` dependencies, which FastAPI would also solve on every
#: request — a twentieth of a context's creation (bench/: the Platform API routes) — to read
#: nothing: :func:`parse_credentials` reads the header, with xkit's own error bodies.
API_KEY_SECURITY: dict[str, Any] = {"security": [{name: []} for name in API_KEY_SCHEMES]}


def takes_api_key(dependant: Dependant) -> bool:
    """Whether a route's dependencies include :func:`require_api_key`."""
    return any(sub.call is require_api_key or takes_api_key(sub)
               for sub in dependant.dependencies)


async def require_api_key(
    request: Request,
    session: SessionDep,
) -> ApiCaller:
    """The caller of a Platform API request, from either form of its API key."""
    publishable, secret = parse_credentials(request.headers.get("authorization"))
    return ApiCaller(await api_keys.authenticate(
        session, get_runtime(request).uses, secret=secret, publishable_key=publishable))


CallerDep = Annotated[ApiCaller, Depends(require_api_key)]


async def caller_platform(caller: CallerDep, session: SessionDep) -> Platform:
    """The caller's platform, whole, for the few routes that read or change more of it than
    its id (one more query: most routes need only ``caller.platform_id``)."""
    platform = await session.get(Platform, caller.platform_id)
    if platform is None:  # deleted since the key was read
        raise Unauthorized("invalid or revoked API key", code="invalid_api_key")
    return platform


PlatformDep = Annotated[Platform, Depends(caller_platform)]
