"""The token fetch ahead of the framework.

``GET /api/platform/contexts/{external_id}/connections/{connector_slug}`` with no query string
is the call every backend makes before every provider call. This layer answers it through
:mod:`xkit.services.token_fetch` in one query when the common case holds, skipping FastAPI's
routing and dependency solving as well (together about as costly as the queries). Anything
else — another path, a query string, a refused key, a token to refresh, a database error — goes
on to the FastAPI route, which stays the documented endpoint and decides every error.
"""

from __future__ import annotations

import logging
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from xkit.api.deps import parse_credentials
from xkit.api.platform.connections import NO_STORE
from xkit.errors import XkitError
from xkit.services import token_fetch

log = logging.getLogger("xkit.api")
PATH = re.compile(r"^/api/platform/contexts/([^/]+)/connections/([^/]+)$")


class TokenFetchFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            matched = PATH.match(scope["path"])
            if matched is not None:
                body = await self._answer(scope, matched)
                if body is not None:
                    await JSONResponse(body, headers=NO_STORE)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, matched: re.Match[str]) -> dict[str, object] | None:
        headers = dict(scope["headers"])
        try:
            publishable, secret = parse_credentials(
                headers.get(b"authorization", b"").decode("latin-1") or None)
        except XkitError:
            return None
        runtime = scope["app"].state.runtime
        try:
            return await token_fetch.fresh_connection(
                runtime.reads, runtime.token_deps, secret=secret,
                publishable_key=publishable, external_id=matched.group(1),
                connector_slug=matched.group(2))
        except Exception as exc:  # the general path meets it again and answers it properly
            log.debug("token fetch fast path gave way: %s", type(exc).__name__)
            return None
