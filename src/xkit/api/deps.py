"""FastAPI dependencies: the runtime, a database session, and the API-key caller."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBasic, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from xkit.db.errors import DatabaseProblem, classify
from xkit.db.models import ApiKey, Platform
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
    """A backend authenticated by an API key; everything it reads is scoped to ``platform``."""

    platform: Platform
    api_key: ApiKey

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


class _DeclaredBasic(HTTPBasic):
    """HTTP Basic as the OpenAPI schema declares it, so /docs can send an API key. Reading the
    header stays with :func:`parse_credentials`, which answers malformed credentials with
    xkit's own error body (FastAPI's HTTPBasic would answer them itself)."""

    async def __call__(self, request: HTTPConnection) -> None:
        return None


class _DeclaredBearer(HTTPBearer):
    """``Authorization: Bearer <secret>`` as the OpenAPI schema declares it (see above)."""

    async def __call__(self, request: HTTPConnection) -> None:
        return None


API_KEY_BASIC = _DeclaredBasic(
    scheme_name="ApiKeyBasic", description="Your API key as publishable key : secret key.",
    auto_error=False)
API_KEY_BEARER = _DeclaredBearer(
    scheme_name="ApiKeyBearer", description="Your secret API key as a bearer token.",
    auto_error=False)


async def require_api_key(
    request: Request,
    session: SessionDep,
    _basic: Annotated[None, Security(API_KEY_BASIC)] = None,
    _bearer: Annotated[None, Security(API_KEY_BEARER)] = None,
) -> ApiCaller:
    """The caller of a Platform API request, from either form of its API key."""
    publishable, secret = parse_credentials(request.headers.get("authorization"))
    key, platform = await api_keys.authenticate(
        session, get_runtime(request).uses, secret=secret, publishable_key=publishable)
    return ApiCaller(platform=platform, api_key=key)


CallerDep = Annotated[ApiCaller, Depends(require_api_key)]
